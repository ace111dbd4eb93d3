"""The scale of a code, against which every commutativity error is measured, and collapse.

The commutativity error (:mod:`equibench.metrics.operator_scores`) is divided by the total variance
of f on the same split; an encoder whose variance is (numerically) zero is *collapsed*, and gets no
score at all, because dividing by its spread would be meaningless and not dividing would call it
perfect.
"""

from __future__ import annotations

import torch

COLLAPSE_RTOL = 1e-8
ROWS = 256  # rows of float64 differences at a time: 4.7 MB for raw RGB pixels, held in cache


def mean_squared_error(predicted: torch.Tensor, codes: torch.Tensor, target: torch.Tensor) -> float:
    """Mean over rows p of ||predicted[p] - codes[target[p]]||^2, in float64.

    Computed ``ROWS`` rows at a time: whole float64 copies of two ``[P, D]`` code tensors cost far
    more memory traffic than the arithmetic (on raw RGB pixels, 6480 x 2352, 4x the time of the
    chunked sum, the same value to 1e-14 relative: only the order of the float64 additions moves)."""
    total = torch.zeros((), dtype=torch.float64)
    for lo in range(0, len(target), ROWS):
        difference = (predicted[lo: lo + ROWS].double() - codes[target[lo: lo + ROWS]].double()).flatten()
        total += torch.dot(difference, difference)
    return float(total) / len(target)


def _mean_squared_distance(flat: torch.Tensor, point: torch.Tensor) -> float:
    """Mean over the rows of ``flat[M, D]`` of their squared distance to one ``point[D]``."""
    return mean_squared_error(flat, point[None], torch.zeros(len(flat), dtype=torch.long))


def total_variance(z: torch.Tensor) -> float:
    """Trace of the covariance of ``z[..., D]`` over all leading dimensions: the mean squared
    distance to the mean."""
    flat = z.reshape(-1, z.shape[-1])
    return _mean_squared_distance(flat, flat.sum(0, dtype=torch.float64) / len(flat))


def is_collapsed(z: torch.Tensor) -> bool:
    """True when the spread of f is negligible against its size (a constant encoder)."""
    flat = z.reshape(-1, z.shape[-1])
    size = _mean_squared_distance(flat, torch.zeros(flat.shape[1], dtype=torch.float64))
    return total_variance(z) <= COLLAPSE_RTOL * size + 1e-30


def varying_columns(flat: torch.Tensor) -> torch.Tensor:
    """Indices of the columns of ``flat[M, D]`` that are not constant. A constant column (a pixel
    that is black in every image, say) adds exact zeros to a covariance and to every centred
    product, so dropping it changes no spectrum; it only saves the cost of carrying it."""
    return (flat != flat[:1]).any(0).nonzero().flatten()


def identity(z: torch.Tensor, k: int) -> torch.Tensor:
    """The operator of an invariant encoder: scoring it gives the *invariance* error."""
    return z
