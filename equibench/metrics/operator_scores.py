"""Everything one operator is scored on, in one pass over the pairs: commutativity and retrieval.

For each relative element g the operator predicts rho(g) f(x) for every test view once; the same
predictions give the commutativity error against f(g . x) and the retrieval of f(g . x) among the
views of the same base image (``orbit``) and among all test views (``all``). The ``all`` retrieval
scores a fixed subset of ``ALL_QUERIES`` pairs, drawn with a fixed seed so that every model and seed
is asked the same queries, against every test view: the full cross product would cost
(N - 1) x (S N)^2 cosines, 7 x 10^8 on an 18-step dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from equibench.metrics.commutativity import mean_squared_error, total_variance
from equibench.metrics.pairs import CyclicPairs, ViewPairs
from equibench.metrics.retrieval import chance, mean, orbit_similarity, pose_errors, ranks, top1_offsets, unit
from equibench.models.encoder import Operator

ALL_QUERIES = 2000
QUERY_SEED = 0
HITS = ("h1", "h5", "mrr")


@dataclass
class OperatorScores:
    """Scores by name (``commutativity``, ``h1_orbit``, ..., ``mrr_all``; None where a score does
    not apply), curves over the elements, and the chance level of each retrieval score."""

    values: dict[str, float | None] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    chance: dict[str, float] = field(default_factory=dict)


def _all_queries(pairs: CyclicPairs | ViewPairs, per_batch: int) -> torch.Tensor:
    """Sorted indices of the pairs scored against all views, numbered over the batches in order."""
    total = per_batch * pairs.batch_count
    generator = torch.Generator().manual_seed(QUERY_SEED)
    return torch.randperm(total, generator=generator)[: min(ALL_QUERIES, total)].sort().values


def score_operator(z: torch.Tensor, operator: Operator, pairs: CyclicPairs | ViewPairs,
                   retrieval: bool = True) -> OperatorScores:
    """Score ``operator`` on codes ``z[S, V, D]`` over every pair of ``pairs``; commutativity only
    when ``retrieval`` is False (the identity operator: invariance). Curves over the elements and the
    offsets of retrieval misses exist for cyclic pairs only (view pairs have neither an order of
    elements nor of views)."""
    orbits, views, _ = z.shape
    flat = z.flatten(0, 1)
    spread = total_variance(z)
    if retrieval:
        unit_views = unit(z)
        unit_flat = unit_views.flatten(0, 1)
    per_batch = orbits * views
    chosen = _all_queries(pairs, per_batch)
    out = OperatorScores()
    errors, orbit_ranks, all_ranks = [], [], []
    offsets = torch.zeros(views, dtype=torch.float64)
    rotations, pose = (pairs.rotations if retrieval else None), []
    sources = torch.empty_like(flat)  # the operator's input, a fresh copy each batch in one buffer (no page faults)
    for b, batch in enumerate(pairs.batches()):
        source = batch.orbit * views + batch.source
        target = batch.orbit * views + batch.target
        predicted = operator(torch.index_select(flat, 0, source, out=sources), batch.element)
        errors.append(mean_squared_error(predicted, flat, target) / spread)
        if not retrieval:
            continue
        queries = unit(predicted)
        similarity = orbit_similarity(queries.view(orbits, -1, queries.shape[1]), unit_views).flatten(0, 1)
        orbit_ranks.append(ranks(similarity, batch.target))
        if pairs.offset is not None:
            offsets += top1_offsets(similarity, batch.target, pairs.offset, views)
        if rotations is not None:
            candidates = rotations[batch.orbit]  # PRE, and its value for a retrieval that ties every view
            pose.append((pose_errors(similarity, batch.target, candidates),
                         pose_errors(torch.zeros_like(similarity), batch.target, candidates)))
        local = chosen[(chosen >= b * per_batch) & (chosen < (b + 1) * per_batch)] - b * per_batch
        all_ranks.append(ranks(queries[local] @ unit_flat.T, target[local]))
    out.values["commutativity"] = sum(errors) / len(errors)
    cyclic = pairs.offset is not None
    if cyclic:
        out.curves["commutativity"] = errors
    if retrieval:
        for where, found, candidates in (("orbit", orbit_ranks, views), ("all", all_ranks, per_batch)):
            level = chance(candidates)
            for hit in HITS:
                name = f"{hit}_{where}"
                usable = hit != "h5" or candidates > 5
                out.values[name] = mean(torch.cat([getattr(r, hit) for r in found])) if usable else None
                if usable:
                    out.chance[name] = level[hit]
        if rotations is not None:
            errors_found, errors_by_chance = (torch.cat(p) for p in zip(*pose))
            out.values["pre_orbit"] = mean(errors_found)
            out.chance["pre_orbit"] = mean(errors_by_chance)
        if cyclic:
            out.curves["h1_orbit"] = [mean(r.h1) for r in orbit_ranks]
            out.curves["mrr_orbit"] = [mean(r.mrr) for r in orbit_ranks]
            out.curves["top1_offset_orbit"] = (offsets / offsets.sum()).tolist()
    return out


def commutativity(z: torch.Tensor, operator: Operator) -> OperatorScores:
    """The commutativity error alone (``values["commutativity"]`` and its curve over k) of
    ``operator`` on cyclic orbits ``z[S, N, D]``."""
    return score_operator(z, operator, CyclicPairs(z.shape[0], z.shape[1]), retrieval=False)
