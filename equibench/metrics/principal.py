"""The principal axes of the ``fit`` codes: one eigendecomposition, read by the fitted operators and the heads.

The fitted operators read a code whitened, on its leading components that explain 99% of its
variance (:class:`~equibench.metrics.fitted.Whitener`); the R² heads and the class probe read a code
wider than ``MAX_WIDTH`` by its ``MAX_WIDTH`` leading components
(:func:`~equibench.metrics.representation.standardiser`). Both are principal components of the same
``fit`` codes, so one eigendecomposition of their covariance gives both (metric version 6). Until
version 5 the heads' components came from a second, randomized PCA (scikit-learn's solver at that
size, seeded): an approximation of the leading components that cost more than the exact
eigendecomposition on raw RGB pixels (docs/metrics.md, "One eigendecomposition for the whitening and the heads").

Columns constant on ``fit`` carry no variance and are left out before the PCA, which changes no
component. The components come from the eigendecomposition of the covariance rather than an SVD of
the data: 4x faster on raw pixels (6480 x 1525 on digits-rothue18: 0.8 s against 3.5 s). Fitted on
one BLAS thread (``cores.one_thread``), so that its rounding does not follow the thread count.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.decomposition import PCA

from equibench.metrics.commutativity import varying_columns
from equibench.metrics.cores import one_thread


@dataclass(frozen=True)
class PrincipalAxes:
    """Every principal component of the codes' varying ``columns`` (scikit-learn's PCA, whitening)."""

    pca: PCA
    columns: torch.Tensor

    @classmethod
    def fit(cls, z: torch.Tensor) -> PrincipalAxes:
        """The axes of codes ``[..., D]``."""
        flat = z.reshape(-1, z.shape[-1])
        columns = varying_columns(flat)
        pca = PCA(whiten=True, svd_solver="covariance_eigh")
        with one_thread():
            pca.fit(flat[:, columns].double().numpy())
        return cls(pca, columns)

    def explaining(self, share: float) -> int:
        """How many leading components explain ``share`` of the variance: scikit-learn's rule for
        ``PCA(n_components=share)`` (the first whose cumulated share exceeds it)."""
        return int(np.searchsorted(np.cumsum(self.pca.explained_variance_ratio_), share, side="right")) + 1

    def leading(self, count: int, whiten: bool) -> PCA:
        """A PCA that projects on the ``count`` leading components (all of them if there are fewer),
        whitened or not, as scikit-learn's own fit with ``n_components=count`` does, bit for bit (that
        fit computes every component and keeps the leading ones); for projecting only (its
        ``noise_variance_``, which ``score`` would read, is the full fit's)."""
        count = min(count, self.pca.n_components_)
        pca = copy.copy(self.pca)
        pca.n_components = pca.n_components_ = count
        pca.whiten = whiten
        for name in ("components_", "explained_variance_", "explained_variance_ratio_", "singular_values_"):
            setattr(pca, name, getattr(self.pca, name)[:count].copy(order="K"))  # its layout, as scikit-learn keeps it
        return pca

    def project(self, pca: PCA, z: torch.Tensor) -> np.ndarray:
        """Codes ``[..., D]`` on ``pca``'s components (one of :meth:`leading`'s), as rows ``[n, count]``."""
        with one_thread():
            return pca.transform(z.reshape(-1, z.shape[-1])[:, self.columns].double().numpy())
