"""Measures of what the representation keeps: spread (anti-collapse) and label information."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from equibench.metrics.commutativity import varying_columns
from equibench.metrics.cores import one_thread
from equibench.metrics.principal import PrincipalAxes

MAX_WIDTH = 256


def participation_ratio(z: torch.Tensor) -> float:
    """(sum lambda)^2 / sum lambda^2 of the covariance C of f: the effective number of dimensions
    (1 for a representation on a line, D for an isotropic one).

    Computed as tr(C)^2 / ||C||_F^2, which is the same ratio (C is symmetric) without an
    eigendecomposition, on the columns that vary (a constant one only adds a zero eigenvalue). C is
    the centred codes' product with themselves, which numpy computes as a symmetric rank-k update:
    half the products of ``torch.cov``'s general one (raw RGB pixels, 6480 x 1525, one thread: 0.45 s
    against 0.72 s, the same ratio to 1e-15)."""
    flat = z.reshape(-1, z.shape[-1])
    centred = flat[:, varying_columns(flat)].double().numpy()
    centred = centred - centred.mean(0)
    cov = centred.T @ centred / (len(centred) - 1)
    return float(np.trace(cov) ** 2 / np.square(cov).sum())


class Inputs(NamedTuple):
    """A code ``[..., d]`` as the R² heads read it and as the class probe reads it."""

    heads: np.ndarray
    probe: np.ndarray


def standardiser(z_fit: torch.Tensor, axes: Callable[[], PrincipalAxes] | None = None
                 ) -> Callable[[torch.Tensor], Inputs]:
    """What the heads and the probe read of a code, fitted on ``fit`` codes ``[..., D]``.

    Both read the code centred; one wider than ``MAX_WIDTH`` (raw pixels) by its ``MAX_WIDTH``
    leading principal components, which keeps them cheap (a logistic probe on 784 standardised
    pixels needs 600 L-BFGS steps and 27 s on 2 cores, on 256 components 60 steps and under a
    second, with the same accuracy to 0.02). The components are exact: those of one
    eigendecomposition of the covariance (:class:`~equibench.metrics.principal.PrincipalAxes`), which
    ``axes`` gives where the caller has it (the suite shares the whitening's) and which is computed
    here otherwise. A ``fit`` split of fewer than ``MAX_WIDTH`` + 1 codes keeps one component fewer
    than it has codes (the last has no variance left).

    - The R² heads read it at one common scale: divided by the root of the mean variance of what
      they read (every dimension, or the components), taken about the mean over the ``fit`` codes
      (divided by their count, so that the heads' ``fit`` inputs have mean square 1). That is SIE's
      reading (its heads read the backbone's features as they are) up to that scale, which keeps
      the score free of the code's units. A dimension of little variance weighs as little as it
      does in the code. Per-dimension scaling, metric version 4's, weighed it as much as the
      largest, and on raw pixels of the 3D card blew up noise until the head never left the
      constant (docs/metrics.md, "What the heads read").
    - The probe reads every dimension (component) at unit variance, the linear-probe convention
      (a normalisation without affine parameters in front of the linear layer): a class that lives
      in low-variance dimensions is read as well as one in high-variance ones.

    Fitted and applied on one BLAS thread (:func:`~equibench.metrics.cores.one_thread`)."""
    count = z_fit[..., 0].numel()
    if z_fit.shape[-1] > MAX_WIDTH:
        principal = axes() if axes is not None else PrincipalAxes.fit(z_fit)
        pca = principal.leading(min(MAX_WIDTH, count - 1), whiten=False)

        def centre(flat: torch.Tensor) -> np.ndarray:
            return principal.project(pca, flat)
        variance = pca.explained_variance_ * ((count - 1) / count)
        # the probe's: PCA(whiten=True)'s, whose variance is divided by the count less one
        spread = np.maximum(np.sqrt(pca.explained_variance_), np.finfo(variance.dtype).eps)
    else:
        with one_thread():
            standard = StandardScaler().fit(z_fit.reshape(-1, z_fit.shape[-1]).double().numpy())

        def centre(flat: torch.Tensor) -> np.ndarray:
            return flat.double().numpy() - standard.mean_
        variance, spread = standard.var_, standard.scale_
    scale = float(np.sqrt(variance.mean())) or 1.0  # a collapsed code: its metrics are null anyway

    def transform(z: torch.Tensor) -> Inputs:
        with one_thread():
            centred = centre(z.reshape(-1, z.shape[-1]))
        return Inputs(*(x.reshape(*z.shape[:-1], -1) for x in (centred / scale, centred / spread)))
    return transform


def fit_probe(x_fit: np.ndarray, labels_fit: torch.Tensor, seed: int) -> LogisticRegression:
    """A logistic-regression probe for the base label, trained on every ``fit`` view, on
    :func:`standardiser`'s inputs ``[S, V, d]``: the full code, not the 99%-variance whitened one the
    fitted operators use, which drops low-variance dimensions that carry the label (it kept 9 of 144
    dimensions of the quick tvae). Newton-CG converges in about 20 steps where L-BFGS needs hundreds
    on nearly invariant codes (3 s against 36 s on a 2-epoch tvae's codes, the same accuracy to 1e-3).
    Fitted once, it scores every test split; fitted and applied on one BLAS thread (:func:`one_thread`:
    on 2, a few test views changed side, 7e-4 of the accuracy)."""
    probe = LogisticRegression(solver="newton-cg", max_iter=1000, random_state=seed)
    with one_thread():
        return probe.fit(x_fit.reshape(-1, x_fit.shape[-1]), labels_fit.repeat_interleave(x_fit.shape[1]).numpy())


def probe_accuracy(probe: LogisticRegression, x_test: np.ndarray, labels_test: torch.Tensor) -> float:
    """Accuracy of :func:`fit_probe`'s probe on every view ``x_test[S, V, d]`` of a test split."""
    with one_thread():
        predicted = probe.predict(x_test.reshape(-1, x_test.shape[-1]))
    return float((predicted == labels_test.repeat_interleave(x_test.shape[1]).numpy()).mean())
