"""The scale of a code, against which every commutativity error is measured, and collapse.

The commutativity error (:mod:`equibench.metrics.operator_scores`) is divided by the total variance
of f on the same split; an encoder whose variance is (numerically) zero is *collapsed*, and gets no
score at all, because dividing by its spread would be meaningless and not dividing would call it
perfect.
"""

from __future__ import annotations

import torch

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


def identity(z: torch.Tensor, k: int) -> torch.Tensor:
    """The operator of an invariant encoder: scoring it gives the *invariance* error."""
    return z
