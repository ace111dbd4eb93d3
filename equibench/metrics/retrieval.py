"""Retrieval of the predicted code among candidates: MRR and H@k, as SIE / 3DIEBench score.

The query is the operator's prediction rho(g) f(x) for a pair (x, g . x); the candidates are the
views of the same base image (``orbit``: does the code know *where* on the orbit it is?) or every
test view (``all``: identity and position together); the answer is f(g . x). Similarity is the
cosine of L2-normalised codes, SIE's choice. A prediction can be close to its target and still
lose to another view: a code that is nearly invariant along the orbit, or that cannot tell g
from g h for some h, scores well on commutativity but not here.

Ties are scored as the expectation over a random tie-break: with ``a`` candidates strictly more
similar than the target and ``e`` others tied with it (within ``TIE_TOL``), the target's rank is
uniform over a + 1 .. a + e + 1. So an exactly invariant code scores H@1 = 1/N on the orbit, its
chance level, never 1 through index order.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

TIE_TOL = 1e-5  # cosines closer than this are tied (float32 rounding of codes up to ~10^4 wide)
EULER_GAMMA = 0.5772156649015329


def harmonic(n: torch.Tensor) -> torch.Tensor:
    """H(n) = 1 + 1/2 + ... + 1/n (H(0) = 0), for integer tensors, in float64."""
    return torch.special.digamma(n.double() + 1) + EULER_GAMMA


@dataclass(frozen=True)
class Ranks:
    """Per query, the expected hit at 1 and at 5 and the expected reciprocal rank of the target:
    their means are H@1, H@5 and the MRR."""

    h1: torch.Tensor
    h5: torch.Tensor
    mrr: torch.Tensor


def ranks(similarity: torch.Tensor, target: torch.Tensor) -> Ranks:
    """Expected H@1, H@5 and reciprocal rank of column ``target[p]`` in each row of ``similarity``."""
    t = similarity.gather(1, target[:, None])
    above = (similarity > t + TIE_TOL).sum(1)
    tied = ((similarity - t).abs() <= TIE_TOL).sum(1) - 1
    spread = (tied + 1).double()

    def hit(k: int) -> torch.Tensor:
        return (k - above).clamp(min=0).minimum(tied + 1).double() / spread

    return Ranks(hit(1), hit(5), (harmonic(above + tied + 1) - harmonic(above)) / spread)


def top1_weights(similarity: torch.Tensor) -> torch.Tensor:
    """Each candidate's chance of being retrieved first, ``[P, C]``: tied maxima share it equally."""
    best = similarity.max(1, keepdim=True).values
    top = (similarity >= best - TIE_TOL).double()
    return top / top.sum(1, keepdim=True)


def pose_errors(similarity: torch.Tensor, target: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """PRE per query (3DIEBench): the expected 1 - <q_found, q_target>^2 between the rotation of the
    candidate retrieved first and the target's, ``rotations[P, C, 4]`` the unit quaternions of each
    query's candidates (0 for the right view, 1 for a half-turn away)."""
    wanted = rotations.gather(1, target[:, None, None].expand(-1, 1, 4))
    errors = 1 - (rotations * wanted).sum(-1).pow(2)
    return (top1_weights(similarity) * errors).sum(1)


def top1_offsets(similarity: torch.Tensor, target: torch.Tensor, offset, views: int) -> torch.Tensor:
    """Where the most similar candidate lies relative to the target, ``[views]``: entry d is the
    expected fraction of queries whose top-1 candidate is ``offset(target, candidate) == d`` (0 is
    the right answer), with tied maxima sharing their query's weight."""
    top = top1_weights(similarity)
    candidates = torch.arange(similarity.shape[1]).expand_as(similarity)
    d = offset(target[:, None].expand_as(similarity), candidates)
    return torch.zeros(views, dtype=torch.float64).index_add_(0, d.flatten(), top.flatten())


def unit(z: torch.Tensor) -> torch.Tensor:
    """Codes scaled to unit L2 norm (a zero code stays zero and is tied with every other)."""
    return F.normalize(z.float(), dim=-1)


def orbit_similarity(queries: torch.Tensor, views: torch.Tensor) -> torch.Tensor:
    """Cosines ``[S, Q, V]`` of queries ``[S, Q, D]`` against the views ``[S, V, D]`` of their own
    base image, both already unit-normalised."""
    return torch.bmm(queries, views.transpose(1, 2))


def chance(candidates: int) -> dict[str, float]:
    """H@1, H@5 and MRR of a uniformly random ranking of ``candidates``."""
    return {"h1": 1 / candidates, "h5": min(5, candidates) / candidates,
            "mrr": sum(1 / r for r in range(1, candidates + 1)) / candidates}


def mean(x: torch.Tensor) -> float:
    return float(x.double().mean())
