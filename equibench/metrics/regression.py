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

The heads see each code centred and at one scale, as
:func:`~equibench.metrics.representation.standardiser` prepares it for them (``Inputs.heads``).
Both are fitted on pairs of the training part of ``fit``'s base images, and the MLP is stopped on
pairs of the held-out part (:mod:`equibench.metrics.heads`), so that neither scores by memorising
objects. Pairs are a fixed random subset (``FIT_PAIRS``, ``HELD_PAIRS``, ``TEST_PAIRS``), drawn
with a fixed seed, so every model and seed is scored on the same pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import r2_score

from equibench.metrics.ridge import Ridge, RidgeLOO
from equibench.metrics.heads import PAIR_SEED, fit_mlp, held_out
from equibench.metrics.pairs import CyclicPairs, ViewPairs

FIT_PAIRS = 16000
HELD_PAIRS = 4000
TEST_PAIRS = 2000


def r2_pooled(y: np.ndarray, predicted: np.ndarray) -> float:
    """1 - sum (y - y_hat)^2 / sum (y - mean(y))^2 with one mean over every entry (SIE)."""
    return float(1 - ((y - predicted) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def _pairs(codes: np.ndarray, pairs: CyclicPairs | ViewPairs, count: int, generator: torch.Generator
           ) -> tuple[np.ndarray, np.ndarray]:
    s, i, j, g = pairs.sample(count, generator)
    x = np.concatenate([codes[s.numpy(), i.numpy()], codes[s.numpy(), j.numpy()]], axis=1)
    return x, pairs.features(g).numpy()


@dataclass(frozen=True)
class TransformHeads:
    """Both heads fitted on pairs of ``fit``, and the pair generator's state after drawing those
    pairs: every test split (``test``, ``test_ood``) is then scored on the pairs a fresh draw would
    have given it after fitting, by the same heads, which are fitted once."""

    mlp: Callable[[np.ndarray], np.ndarray]
    ridge: Ridge
    state: torch.Tensor

    @classmethod
    def fit(cls, x_fit: np.ndarray, fit_pairs: CyclicPairs | ViewPairs, seed: int) -> TransformHeads:
        """Heads fitted on standardised codes ``x_fit[S, V, d]`` of ``fit``: on pairs of its
        training base images, the MLP stopped on pairs of its held-out ones."""
        generator = torch.Generator().manual_seed(PAIR_SEED)
        train, held = held_out(fit_pairs.orbits)
        x, y = _pairs(x_fit[train.numpy()], fit_pairs.take(train), FIT_PAIRS, generator)
        x_held, y_held = _pairs(x_fit[held.numpy()], fit_pairs.take(held), HELD_PAIRS, generator)
        return cls(fit_mlp(x, y, x_held, y_held, seed), RidgeLOO(x, intercept=True).fit(y), generator.get_state())

    def score(self, x_test: np.ndarray, test_pairs: CyclicPairs) -> dict[str, float]:
        """``transform_r2`` (MLP, pooled), ``transform_r2_dims`` (MLP, per dimension) and the same for
        the ridge head (``transform_r2_linear``, ``transform_r2_linear_dims``) on standardised codes
        ``x_test[S, V, d]`` of a test split."""
        generator = torch.Generator()
        generator.set_state(self.state)
        pairs_test, y_test = _pairs(x_test, test_pairs, TEST_PAIRS, generator)
        out = {}
        for name, predict in (("transform_r2", self.mlp), ("transform_r2_linear", self.ridge.predict)):
            predicted = predict(pairs_test)
            out[name] = r2_pooled(y_test, predicted)
            out[f"{name}_dims"] = float(r2_score(y_test, predicted))
        return out

