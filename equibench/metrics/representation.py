"""Measures of what the representation keeps: spread (anti-collapse) and label information."""

from __future__ import annotations

import torch
from sklearn.linear_model import LogisticRegression

from equibench.metrics.commutativity import varying_columns


def participation_ratio(z: torch.Tensor) -> float:
    """(sum lambda)^2 / sum lambda^2 of the covariance C of f: the effective number of dimensions
    (1 for a representation on a line, D for an isotropic one).

    Computed as tr(C)^2 / ||C||_F^2, which is the same ratio (C is symmetric) without an
    eigendecomposition, on the columns that vary (a constant one only adds a zero eigenvalue)."""
    flat = z.reshape(-1, z.shape[-1])
    flat = flat[:, varying_columns(flat)].double()
    cov = torch.cov(flat.T).reshape(flat.shape[1], flat.shape[1])
    return float(cov.trace() ** 2 / cov.pow(2).sum())


def probe_accuracy(w_fit: torch.Tensor, labels_fit: torch.Tensor, w_test: torch.Tensor,
                   labels_test: torch.Tensor, seed: int) -> float:
    """Accuracy of a logistic-regression probe for the base label, trained on the whitened
    ``fit`` frames and scored on the whitened ``test`` frames."""
    n = w_fit.shape[1]
    probe = LogisticRegression(max_iter=1000, random_state=seed)
    probe.fit(w_fit.flatten(0, 1).numpy(), labels_fit.repeat_interleave(n).numpy())
    predicted = probe.predict(w_test.flatten(0, 1).numpy())
    return float((predicted == labels_test.repeat_interleave(n).numpy()).mean())
