"""Scores that a degenerate code cannot win: retrieval (MRR, H@k), relative-transformation R²,
and the warnings derived from them, on codes whose answers are known."""

from __future__ import annotations

import math

import pytest
import torch

from equibench.metrics.commutativity import identity
from equibench.metrics.diagnostics import diagnose
from equibench.metrics.operator_scores import score_operator
from equibench.metrics.pairs import CyclicPairs
from equibench.metrics.regression import TransformHeads, r2_pooled
from equibench.metrics.representation import standardiser
from equibench.metrics.retrieval import chance, ranks
from equibench.metrics.suite import evaluate
from equibench.models.encoder import DataSpec, Encoder
from equibench.models.operators import capsule_roll
from equibench.progress import progress


def test_ranks_follow_the_definition_with_ties_broken_at_random() -> None:
    similarity = torch.tensor([
        [0.9, 0.1, 0.2, 0.3],  # target 0 first
        [0.9, 0.1, 0.2, 0.3],  # target 3 second
        [0.5, 0.5, 0.5, 0.5],  # target tied with all: rank uniform on 1..4
        [0.7, 0.9, 0.7, 0.1],  # one above, one tied: rank uniform on 2..3
    ], dtype=torch.float64)
    r = ranks(similarity, torch.tensor([0, 3, 2, 0]))
    assert r.h1.tolist() == pytest.approx([1, 0, 0.25, 0])
    assert r.h5.tolist() == pytest.approx([1, 1, 1, 1])
    assert r.mrr.tolist() == pytest.approx([1, 1 / 2, (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4, (1 / 2 + 1 / 3) / 2])
    assert chance(4) == pytest.approx({"h1": 0.25, "h5": 1.0, "mrr": (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4})


def _orbits(harmonic: int, orbits: int = 60, n: int = 18, capsules: int = 4) -> torch.Tensor:
    """Codes ``z[s, t]`` whose capsules hold ``cos(2 pi harmonic (i - t) / n + phase)``: Roll by k
    is exact, and with harmonic 2 the code cannot tell t from t + n / 2."""
    g = torch.Generator().manual_seed(0)
    amplitude = 1 + torch.rand(orbits, 1, capsules, 1, generator=g)
    phase = 2 * math.pi * torch.rand(orbits, 1, capsules, 1, generator=g)
    i, t = torch.arange(n).view(1, 1, 1, n), torch.arange(n).view(1, n, 1, 1)
    return (amplitude * torch.cos(2 * math.pi * harmonic * (i - t) / n + phase)).flatten(2)


@pytest.mark.parametrize(("harmonic", "h1"), [(1, 1.0), (2, 0.5)])
def test_orbit_retrieval_exposes_a_code_that_confuses_g_with_its_half_turn(harmonic: int, h1: float) -> None:
    z = _orbits(harmonic)
    scores = score_operator(z, capsule_roll(4, 18), CyclicPairs(60, 18))
    assert scores.values["commutativity"] < 1e-10, "Roll is exact on both codes"
    assert scores.values["h1_orbit"] == pytest.approx(h1, abs=1e-9)
    assert scores.values["mrr_orbit"] == pytest.approx(1.0 if harmonic == 1 else 0.75, abs=1e-9)
    assert scores.curves["top1_offset_orbit"][9] == pytest.approx(1 - h1, abs=1e-9)


def test_an_exactly_invariant_code_scores_chance_not_one() -> None:
    z = torch.randn(30, 1, 5, generator=torch.Generator().manual_seed(1)).expand(30, 6, 5)
    scores = score_operator(z, identity, CyclicPairs(30, 6))
    assert scores.values["h1_orbit"] == pytest.approx(1 / 6)
    assert scores.values["mrr_orbit"] == pytest.approx(chance(6)["mrr"])


class SecondHarmonic(Encoder):
    """Looks each test frame up to its orbit position p and returns capsules that hold the
    second harmonic of p: a synthetic stand-in for the quick TVAE's degenerate code."""

    positions: dict[bytes, tuple[int, int]] = {}

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        keys = [(x * 255).round().to(torch.uint8).numpy().tobytes() for x in images]
        found = [self.positions.get(k, (0, 0)) for k in keys]
        base = torch.tensor([f[0] for f in found], dtype=torch.float64)
        p = torch.tensor([f[1] for f in found], dtype=torch.float64)
        i = torch.arange(18, dtype=torch.float64)
        capsules = [(1 + ((base * (c + 1)) % 7) / 7)[:, None] * torch.cos(4 * math.pi * (i - p[:, None]) / 18 + c)
                    for c in range(4)]
        return torch.cat(capsules, dim=1).float()

    def capsules(self) -> tuple[int, int]:
        return (4, 18)

    def operator(self, transformation):
        return capsule_roll(4, 18)


def test_second_harmonic_code_wins_commutativity_but_not_retrieval_and_is_warned(digits_rot18) -> None:
    for name in ("fit", "test"):
        split = digits_rot18.splits[name]
        for s in range(split.num_sequences):
            for t in range(18):
                SecondHarmonic.positions[split.frames[s, t].numpy().tobytes()] = (s, int(split.steps[s, t]))
    spec = DataSpec(digits_rot18.card.id, digits_rot18.image_shape, digits_rot18.num_classes,
                    digits_rot18.transformation)
    ev = evaluate(SecondHarmonic({}, spec, torch.device("cpu")), "second-harmonic", digits_rot18, progress, 0)
    m = ev.metrics
    assert m["commutativity"] < 0.01
    assert 0.4 <= m["h1_orbit"] <= 0.6
    kinds = {w["kind"] for w in ev.warnings}
    assert {"offset_confusion", "commutativity_flatters"} <= kinds
    confusion = next(w for w in ev.warnings if w["kind"] == "offset_confusion" and w["metric"] == "h1_orbit")
    assert "g^(k+9)" in confusion["message"]


def test_diagnose_stays_quiet_on_a_good_code() -> None:
    metrics = {"commutativity": 0.01, "h1_orbit": 0.97}
    curves = {"top1_offset_orbit": [0.97, 0.02, 0.01]}
    assert diagnose(metrics, curves, {"h1_orbit": 1 / 3}) == []


def _positions(orbits: int, n: int, noise: int, generator: torch.Generator) -> torch.Tensor:
    """Codes that store the orbit position as (cos, sin) among ``noise`` noise dimensions."""
    p = torch.randint(n, (orbits, 1), generator=generator) + torch.arange(n)
    angle = 2 * math.pi * p / n
    return torch.cat([angle.cos()[..., None], angle.sin()[..., None],
                      torch.randn(orbits, n, noise, generator=generator)], dim=-1)


def _r2(z_fit: torch.Tensor, z_test: torch.Tensor) -> dict[str, float]:
    scale = standardiser(z_fit)
    s, n = z_fit.shape[:2]
    return TransformHeads.fit(scale(z_fit).heads, CyclicPairs(s, n), 0).score(scale(z_test).heads,
                                                                              CyclicPairs(z_test.shape[0], n))


def test_transform_r2_reads_the_relative_angle_off_a_code_that_stores_it() -> None:
    g = torch.Generator().manual_seed(0)
    r2 = _r2(_positions(360, 18, 8, g), _positions(360, 18, 8, g))
    assert r2["transform_r2"] >= 0.99 and r2["transform_r2_dims"] >= 0.99


def test_transform_r2_of_a_code_constant_along_each_orbit_is_about_zero() -> None:
    g = torch.Generator().manual_seed(1)
    constant = [torch.randn(360, 1, 10, generator=g).expand(360, 18, 10) for _ in range(2)]
    r2 = _r2(*constant)
    assert all(value <= 0.05 for value in r2.values())


def test_transform_r2_of_a_code_that_confuses_g_with_its_half_turn_is_about_zero() -> None:
    """A code storing the position twice round the circle (cos 2a, sin 2a) knows 2(a_j - a_i) but
    not which half turn: the (cos, sin) of the relative angle flips sign between the two, so no head
    reads it, pooled or per dimension (the 3DIEBench table ranks by the latter)."""
    g = torch.Generator().manual_seed(2)
    doubled = [torch.cat([2 * z[..., :1] ** 2 - 1, 2 * z[..., :1] * z[..., 1:2], z[..., 2:]], -1)
               for z in (_positions(360, 18, 8, g), _positions(360, 18, 8, g))]  # cos 2a, sin 2a
    r2 = _r2(*doubled)
    assert all(value <= 0.05 for value in r2.values())


def test_heads_fitted_once_score_every_split_as_heads_fitted_for_it_alone() -> None:
    """The R² heads are fitted once and score test and test_ood: each split must get the numbers of
    heads fitted afresh for it alone (the same heads, the same test pairs), whatever came before."""
    g = torch.Generator().manual_seed(3)
    z_fit = _positions(120, 18, 8, g)
    scale = standardiser(z_fit)
    x_fit, fit_pairs = scale(z_fit).heads, CyclicPairs(120, 18)
    splits = [(scale(_positions(orbits, 18, 8, g)).heads, CyclicPairs(orbits, 18)) for orbits in (60, 90)]
    heads = TransformHeads.fit(x_fit, fit_pairs, 0)
    scored_in_turn = [heads.score(x, pairs) for x, pairs in splits]
    assert scored_in_turn == [TransformHeads.fit(x_fit, fit_pairs, 0).score(x, pairs) for x, pairs in splits]
    assert scored_in_turn[0] != scored_in_turn[1]


def test_pooled_r2_uses_one_mean_over_every_entry() -> None:
    y = torch.tensor([[0.0, 10.0], [2.0, 10.0]]).numpy()
    predicted = torch.tensor([[1.0, 10.0], [1.0, 10.0]]).numpy()
    # SS_res = 2; grand mean 5.5, SS_tot = 5.5^2 + 3.5^2 + 2 * 4.5^2 = 83
    assert r2_pooled(y, predicted) == pytest.approx(1 - 2 / 83)


def test_pure_noise_scores_chance_on_retrieval_and_zero_r2() -> None:
    """i.i.d. noise per view: no operator carries one view to another, and nothing tells g."""
    g = torch.Generator().manual_seed(2)
    z_fit, z_test = (torch.randn(300, 18, 16, generator=g) for _ in range(2))
    scores = score_operator(z_test, capsule_roll(1, 16), CyclicPairs(300, 18))
    assert scores.values["h1_orbit"] == pytest.approx(1 / 18, abs=0.01)
    assert scores.values["mrr_orbit"] == pytest.approx(chance(18)["mrr"], abs=0.01)
    assert scores.values["commutativity"] > 1.5
    assert all(value <= 0.05 for value in _r2(z_fit, z_test).values())


def test_transform_r2_of_a_code_wider_than_256_reads_its_known_cases_off_its_leading_components() -> None:
    """Wider than 256 dimensions (raw pixels), the heads read a code's exact 256 leading principal
    components (metric version 6): the known cases above, each embedded in 300 dimensions by one
    fixed linear map, score as they do narrow (the angle read; a code constant along each orbit, one
    that confuses g with its half turn, and pure noise about 0)."""
    g = torch.Generator().manual_seed(4)
    embed = torch.randn(10, 300, generator=g)
    stores = [_positions(360, 18, 8, g) @ embed for _ in range(2)]
    constant = [torch.randn(360, 1, 10, generator=g).expand(360, 18, 10) @ embed for _ in range(2)]
    doubled = [torch.cat([2 * z[..., :1] ** 2 - 1, 2 * z[..., :1] * z[..., 1:2], z[..., 2:]], -1) @ embed
               for z in (_positions(360, 18, 8, g), _positions(360, 18, 8, g))]
    noise = [torch.randn(360, 18, 300, generator=g) for _ in range(2)]
    assert standardiser(stores[0])(stores[0]).heads.shape[-1] == 256, "the wide reading"
    r2 = _r2(*stores)
    assert r2["transform_r2"] >= 0.99 and r2["transform_r2_dims"] >= 0.99
    for codes in (constant, doubled, noise):
        assert all(value <= 0.05 for value in _r2(*codes).values())
