"""Ridge regression with its strength chosen by leave-one-out, as scikit-learn's ``RidgeCV`` does it.

Every ridge regression of the suite comes from here: the fitted maps M_k, the view datasets'
conditioned operator (:mod:`equibench.metrics.fitted`) and the linear R² head
(:mod:`equibench.metrics.regression`). One eigendecomposition of x'x serves every strength and every
target set fitted on the same design; :class:`ConditionedRidgeLOO` also never forms a design whose
rows are Kronecker products phi(g) (x) f(x) of a few codes with many elements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import RidgeCV

ALPHAS = np.logspace(-3, 4, 8)
ROWS = 64  # codes at a time in ConditionedRidgeLOO (its fitted values: a [ROWS, F, t] block, 3.7 MB at F = 10, t = 719)


@dataclass(frozen=True)
class Ridge:
    """A fitted ridge regression: ``y ~ x @ coef.T + intercept``, at strength ``alpha``."""

    coef: np.ndarray  # [t, p]
    intercept: np.ndarray  # [t]; zeros without an intercept
    alpha: float
    errors: np.ndarray | None = None  # the mean squared leave-one-out error at each of ALPHAS (None: RidgeCV's)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x @ self.coef.T + self.intercept


def _choose(loo_errors: np.ndarray) -> int:
    """The index of the strength with the least mean squared leave-one-out error (the first of
    equal ones, as RidgeCV)."""
    best, chosen = None, None
    for index, score in enumerate(-loo_errors):
        if best is None or score > best:
            best, chosen = score, index
    return chosen


class RidgeLOO:
    """Ridge regressions of any float64 targets ``y[n, t]`` on one float64 design ``x[n, p]``, each
    strength the one among ``ALPHAS`` with the least mean squared leave-one-out error over every
    target: scikit-learn's ``RidgeCV(alphas=ALPHAS, fit_intercept=intercept)`` in its mode for
    n > p (an eigendecomposition of x'x, of the centred x with an intercept, whose leverage 1/n is
    added), with x decomposed once for every target set fitted on it.

    For every strength RidgeCV forms V D V' (p^3), x V D V' to read its leverages (n p^2) and the
    fitted values (n p t); here x V and its squares are formed once, and a strength costs n p t
    (fitted values) and n p (leverages). The 17 maps of an 18-step dataset share one
    decomposition. Strength, coefficients and intercept equal RidgeCV's (tested to 1e-12 relative;
    about 1e-14 measured), with and without intercept. Where n <= p RidgeCV decomposes the Gram
    matrix x x' instead, and is called as it is."""

    def __init__(self, x: np.ndarray, intercept: bool = False) -> None:
        self.intercept, self.gram = intercept, len(x) <= x.shape[1]
        self.offset = x.mean(0) if intercept and not self.gram else np.zeros(x.shape[1])
        self.x = x - self.offset if intercept and not self.gram else x  # no copy without centring
        if self.gram:
            return
        self.eigvals, self.v = np.linalg.eigh(self.x.T @ self.x)
        self.xv = self.x @ self.v
        self.leverage = self.xv ** 2
        self.base = 1 - (1 / len(x) if intercept else 0)  # 1 minus the intercept's leverage

    def fit(self, y: np.ndarray) -> Ridge:
        """The ridge regression of ``y[n, t]`` on the design."""
        if self.gram:
            ridge = RidgeCV(alphas=ALPHAS, fit_intercept=self.intercept).fit(self.x, y)
            return Ridge(np.atleast_2d(ridge.coef_), np.zeros(y.shape[1]) + ridge.intercept_, float(ridge.alpha_))
        y_offset = y.mean(0) if self.intercept else np.zeros(y.shape[1])
        y = y - y_offset if self.intercept else y
        b = self.v.T @ (self.x.T @ y)
        errors = []
        for alpha in ALPHAS:
            d = 1 / (self.eigvals + alpha)
            loo = (y - self.xv @ (d[:, None] * b)) / (self.base - self.leverage @ d)[:, None]
            errors.append((loo ** 2).mean())
        errors = np.array(errors)
        chosen = ALPHAS[_choose(errors)]
        coef = (self.v @ ((1 / (self.eigvals + chosen))[:, None] * b)).T
        return Ridge(coef, y_offset - self.offset @ coef.T, float(chosen), errors)


class ConditionedRidgeLOO:
    """:class:`RidgeLOO` without intercept on the design whose row (i, d) is ``phi[i, d] (x) x[i]``
    (column ``m w + a`` holds ``phi[i, d, m] x[i, a]``): each of M codes ``x[M, w]`` paired with D
    elements, whose features are ``phi[M, D, F]``. The view datasets' conditioned operator has this
    design (every view a source once per view offset d, :class:`~equibench.metrics.pairs.ViewPairs`),
    at D M rows and F w columns: 28,000 x 2,040 for raw pixels of the 3D quick card.

    The same regression, to rounding, without forming the design:
    - x'x is F (F + 1) / 2 products x' diag(c_mn) x, with c_mn[i] = sum_d phi[i, d, m] phi[i, d, n]
      (F (F + 1) / 2 w^2 M multiplications instead of F^2 w^2 D M);
    - a row of x V is sum_m phi[i, d, m] (x[i] V_m), V_m the rows of V for feature m: x V_m for
      every code, then D combinations of F of them (F^2 w^2 M + F^2 w D M instead of F^2 w^2 D M);
    - the fitted values at a strength are sum_m phi[i, d, m] x[i] W_m for W = V diag(1 / (lambda +
      alpha)) V' x'y: x W_m for every code and every target (F w M t, plus the F^2 w^2 t of W), then
      D combinations (F D M t), instead of F w D M t;
    - x'y is x' Z_m, with Z_m[i] = sum_d phi[i, d, m] y[i, d] (F w M t instead of F w D M t).
    About 5 times fewer operations on the 3D card (docs/metrics.md, "What scoring costs"). Strength
    and coefficients equal RidgeLOO's on the formed design (tested to 1e-10 relative). Where
    D M <= F w it forms the design and is RidgeLOO."""

    def __init__(self, x: np.ndarray, phi: np.ndarray) -> None:
        (codes, blocks, features), width = phi.shape, x.shape[1]
        self.x, self.phi = x, phi
        self.dense = None
        if codes * blocks <= features * width:
            self.dense = RidgeLOO((phi[:, :, :, None] * x[:, None, None, :]).reshape(codes * blocks, -1))
            return
        weights = np.einsum("idm,idn->imn", phi, phi)
        gram = np.empty((features * width, features * width))
        for m in range(features):
            for n in range(m, features):
                block = x.T @ (x * weights[:, m, n, None])
                gram[m * width:(m + 1) * width, n * width:(n + 1) * width] = block
                gram[n * width:(n + 1) * width, m * width:(m + 1) * width] = block.T
        self.eigvals, self.v = np.linalg.eigh(gram)
        inverse = 1 / (self.eigvals[:, None] + ALPHAS)  # [p, strengths]
        by_feature = self._by_feature(self.v)
        self.leverage = np.empty((codes, blocks, len(ALPHAS)))
        for lo in range(0, codes, ROWS):
            rows = slice(lo, lo + ROWS)
            xv = phi[rows] @ (x[rows] @ by_feature).reshape(-1, features, features * width)  # [c, D, p]
            self.leverage[rows] = (xv ** 2) @ inverse

    def _by_feature(self, a: np.ndarray) -> np.ndarray:
        """``a[F w, k]`` as ``[w, F k]``: x @ it gives x a_m for every feature m side by side."""
        features, width = self.phi.shape[2], self.x.shape[1]
        return a.reshape(features, width, -1).transpose(1, 0, 2).reshape(width, -1)

    def _loo_error(self, y: np.ndarray, coef: np.ndarray, index: int) -> float:
        """The mean squared leave-one-out error of the design times ``coef[F w, t]`` as a prediction
        of ``y[M, D, t]``, at strength ``ALPHAS[index]``; ``ROWS`` codes at a time, so that the
        fitted values of a block stay in cache."""
        features, total = self.phi.shape[2], 0.0
        by_feature = self._by_feature(coef)
        for lo in range(0, len(self.x), ROWS):
            rows = slice(lo, lo + ROWS)
            residual = self.phi[rows] @ (self.x[rows] @ by_feature).reshape(-1, features, y.shape[-1])
            np.subtract(y[rows], residual, out=residual)
            squares = np.einsum("idt,idt->id", residual, residual)  # then one division per row, not per entry
            total += (squares / (1 - self.leverage[rows, :, index]) ** 2).sum()
        return total / y.size

    def fit(self, y: np.ndarray) -> Ridge:
        """The ridge regression of targets ``y[M, D, t]`` (row (i, d) the target of phi[i, d] (x) x[i])."""
        if self.dense is not None:
            return self.dense.fit(y.reshape(-1, y.shape[-1]))
        features, width = self.phi.shape[2], self.x.shape[1]
        z = np.ascontiguousarray(self.phi.transpose(0, 2, 1)) @ y  # [M, F, t]; 8 times slower from the strided view
        xty = (self.x.T @ z.reshape(len(z), -1)).reshape(width, features, -1).transpose(1, 0, 2).reshape(
            features * width, -1)
        b = self.v.T @ xty
        errors = np.array([self._loo_error(y, self.v @ ((1 / (self.eigvals + alpha))[:, None] * b), index)
                           for index, alpha in enumerate(ALPHAS)])
        chosen = ALPHAS[_choose(errors)]
        coef = (self.v @ ((1 / (self.eigvals + chosen))[:, None] * b)).T
        return Ridge(coef, np.zeros(y.shape[-1]), float(chosen), errors)
