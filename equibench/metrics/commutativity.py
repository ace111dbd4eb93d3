"""Commutativity error: how far rho(k) f(x) is from f(g^k x), relative to the spread of f.

Latents come as orbits ``Z[S, N, D]`` with ``Z[s, t] = f(g^(t + t0) x_s)``, so
``f(g^k . x_t) = Z[s, (t + k) mod N]`` is read off the dataset rather than recomputed: no frame is
ever resampled twice. The error is divided by the total variance of f on the same split; an
encoder whose variance is (numerically) zero is *collapsed*, and gets no score at all, because
dividing by its spread would be meaningless and not dividing would call it perfect.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from equibench.models.encoder import Operator

COLLAPSE_RTOL = 1e-8


def total_variance(z: torch.Tensor) -> float:
    """Trace of the covariance of ``z[..., D]`` over all leading dimensions."""
    flat = z.reshape(-1, z.shape[-1]).double()
    return float(flat.var(dim=0, unbiased=False).sum())


def is_collapsed(z: torch.Tensor) -> bool:
    """True when the spread of f is negligible against its size (a constant encoder)."""
    flat = z.reshape(-1, z.shape[-1]).double()
    return total_variance(z) <= COLLAPSE_RTOL * float(flat.pow(2).sum(1).mean()) + 1e-30


@dataclass(frozen=True)
class Commutativity:
    """Mean error over k = 1..N-1 and the per-k curve (index 0 is k = 1)."""

    mean: float
    per_k: list[float]


def commutativity(z: torch.Tensor, operator: Operator) -> Commutativity:
    """E ||rho(k) f(x) - f(g^k x)||^2 / total variance of f, over every frame and k != 0."""
    n = z.shape[1]
    spread = total_variance(z)
    flat = z.flatten(0, 1)
    per_k = []
    for k in range(1, n):
        predicted = operator(flat, k).double()
        target = z.roll(-k, dims=1).flatten(0, 1).double()
        per_k.append(float((predicted - target).pow(2).sum(1).mean()) / spread)
    return Commutativity(sum(per_k) / len(per_k), per_k)


def identity(z: torch.Tensor, k: int) -> torch.Tensor:
    """The operator of an invariant encoder: scoring it gives the *invariance* error."""
    return z
