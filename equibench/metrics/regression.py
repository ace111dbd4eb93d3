"""Regression of the relative transformation from a pair of codes: R², as SIE / 3DIEBench report it.

A frozen encoder is equivariant in a useful sense only if the transformation relating two views
can be read off their codes. The input is concat(f(x), f(g . x)); the target the parameters of g
(for a cyclic group the angle 2 pi k / N as (cos, sin), one pair per factor of a composite); the
heads are a ridge regression and a one-hidden-layer MLP (SIE's protocol uses an MLP), trained on
pairs of the ``fit`` split and scored on pairs of ``test``. An invariant code scores about 0: both
halves of its input are the same whatever g is.

R² is reported pooled as SIE computes it (one mean over every target entry: 1 - SS_res / SS_tot
with SS_tot about the grand mean) and averaged per target dimension as scikit-learn's
``r2_score`` does (seq-JEPA's choice); the two are not comparable with each other.

The heads see each code as :func:`~equibench.metrics.representation.standardiser` prepares it.
Pairs are a fixed random subset (``FIT_PAIRS``, ``TEST_PAIRS``), drawn with
a fixed seed, so every model and seed is scored on the same pairs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPRegressor

from equibench.metrics.pairs import CyclicPairs

FIT_PAIRS = 4000
TEST_PAIRS = 2000
PAIR_SEED = 0
HIDDEN = 256
ALPHAS = np.logspace(-3, 4, 8)


def r2_pooled(y: np.ndarray, predicted: np.ndarray) -> float:
    """1 - sum (y - y_hat)^2 / sum (y - mean(y))^2 with one mean over every entry (SIE)."""
    return float(1 - ((y - predicted) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def _pairs(codes: np.ndarray, pairs: CyclicPairs, count: int, generator: torch.Generator
           ) -> tuple[np.ndarray, np.ndarray]:
    s, i, j, g = pairs.sample(count, generator)
    x = np.concatenate([codes[s.numpy(), i.numpy()], codes[s.numpy(), j.numpy()]], axis=1)
    return x, pairs.features(g).numpy()


@dataclass(frozen=True)
class TransformHeads:
    """Both heads fitted on pairs of ``fit``, and the pair generator's state after drawing those
    pairs: every test split (``test``, ``test_ood``) is then scored on the pairs a fresh draw would
    have given it after fitting, by the same heads, which are fitted once (the MLP is the slowest
    stage of a pixels record; fitting it again per split gave the very same head)."""

    mlp: MLPRegressor
    ridge: RidgeCV
    state: torch.Tensor

    @classmethod
    def fit(cls, x_fit: np.ndarray, fit_pairs: CyclicPairs, seed: int) -> TransformHeads:
        """Heads fitted on standardised codes ``x_fit[S, V, d]`` of ``fit``."""
        generator = torch.Generator().manual_seed(PAIR_SEED)
        pairs_fit, y_fit = _pairs(x_fit, fit_pairs, FIT_PAIRS, generator)
        ridge = RidgeCV(alphas=ALPHAS).fit(pairs_fit, y_fit)
        mlp = MLPRegressor(hidden_layer_sizes=(HIDDEN,), early_stopping=True, max_iter=200, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(pairs_fit, y_fit)
        return cls(mlp, ridge, generator.get_state())

    def score(self, x_test: np.ndarray, test_pairs: CyclicPairs) -> dict[str, float]:
        """``transform_r2`` (MLP, pooled), ``transform_r2_dims`` (MLP, per dimension) and the same for
        the ridge head (``transform_r2_linear``, ``transform_r2_linear_dims``) on standardised codes
        ``x_test[S, V, d]`` of a test split."""
        generator = torch.Generator()
        generator.set_state(self.state)
        pairs_test, y_test = _pairs(x_test, test_pairs, TEST_PAIRS, generator)
        out = {}
        for name, head in (("transform_r2", self.mlp), ("transform_r2_linear", self.ridge)):
            predicted = head.predict(pairs_test)
            out[name] = r2_pooled(y_test, predicted)
            out[f"{name}_dims"] = float(r2_score(y_test, predicted))
        return out

