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


def varying_columns(flat: torch.Tensor) -> torch.Tensor:
    """Indices of the columns of ``flat[M, D]`` that are not constant. A constant column (a pixel
    that is black in every image, say) adds exact zeros to a covariance and to every centred
    product, so dropping it changes no spectrum; it only saves the cost of carrying it."""
    return (flat != flat[:1]).any(0).nonzero().flatten()


@dataclass(frozen=True)
class Commutativity:
    """Mean error over k = 1..N-1 and the per-k curve (index 0 is k = 1)."""

    mean: float
    per_k: list[float]


def commutativity(z: torch.Tensor, operator: Operator) -> Commutativity:
    """E ||rho(k) f(x) - f(g^k x)||^2 / total variance of f, over every frame and k != 0.

    Computed in float64. The target ``Z[:, (t + k) mod N]`` is read as two slices of the orbit
    axis instead of a rolled copy, the difference is taken in float64 straight from the operator's
    output, and the squared norm is one dot product: the same sums as
    term by term, in fewer passes over codes that may be 10^7 numbers per k.
    """
    s, n, d = z.shape
    spread = total_variance(z)
    flat = z.flatten(0, 1)
    target = z.double()
    diff = torch.empty_like(target)
    per_k = []
    for k in range(1, n):
        predicted = operator(flat, k).reshape(s, n, d)  # subtracted in float64, cast on the fly
        torch.sub(predicted[:, : n - k], target[:, k:], out=diff[:, : n - k])
        torch.sub(predicted[:, n - k:], target[:, :k], out=diff[:, n - k:])
        per_k.append(float(diff.view(-1) @ diff.view(-1)) / (s * n) / spread)
    return Commutativity(sum(per_k) / len(per_k), per_k)


def identity(z: torch.Tensor, k: int) -> torch.Tensor:
    """The operator of an invariant encoder: scoring it gives the *invariance* error."""
    return z
