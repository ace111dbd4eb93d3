"""Operators fitted to the representation, for every model, declared operator or not.

Following Lenc & Vedaldi (2015): whiten f on the ``fit`` split (PCA keeping 99% of the
variance), fit one linear map M_g per relative element by ridge regression with cross-validated
strength over the pairs (f(x), f(g . x)) of ``fit``, and score the maps on ``test``. Whitening
makes the ridge penalty and the score independent of the scale of f. A linear map is the simplest
operator that says something: richer fitted operators make any invertible encoder look
equivariant.

A view dataset has no finite set of elements to fit one map each, so its fitted operator is
conditioned on g (Synesis's "feature prediction"): ``M(g) = sum_m phi_m(g) M_m``, linear in f with
coefficients linear in phi(g) = (1, cos m a, sin m a for m <= ``HARMONICS`` and every angle a, the
other parameters as they are; for SO(3) the entries of the rotation matrix), one ridge regression
on phi(g) (x) f(x). For a finite group with
one-hot phi this is one map per element again. A code that whitens to many dimensions (raw RGB
pixels) enters by its leading components only, so that the design stays ``DESIGN_COLUMNS`` wide.
The MLP variant (``_fitted_mlp``) reads
(f(x), phi(g)) with one hidden layer (:mod:`equibench.metrics.heads`: trained on pairs of some of
``fit``'s base images, stopped on the others): a richer operator, which flatters any invertible
code more, reported beside the linear one, never instead of it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from sklearn.decomposition import PCA

from equibench.metrics.heads import PAIR_SEED, fit_mlp, held_out
from equibench.metrics.pairs import CyclicPairs, PairBatch, ViewPairs
from equibench.metrics.principal import PrincipalAxes
from equibench.models.encoder import Operator
from equibench.metrics.ridge import ConditionedRidgeLOO, RidgeLOO

HARMONICS = 2
MLP_PAIRS = 8000  # pairs of fit's training base images for the MLP operator, and 1/4 as many held-out ones
DESIGN_COLUMNS = 2048  # the linear conditioned operator's design at most: raw RGB pixels of the 3D set whiten
# to over 700 dimensions, whose 7,000-column design took over 10 minutes; the 2D view datasets stay below it
ACCURACY_ROWS = 512  # test pairs per block of recovered()'s distances (see there)


@dataclass(frozen=True)
class Whitener:
    """PCA whitening fitted on one split and applied to others: the leading principal components of
    the ``fit`` codes that explain a share of their variance (99%), each at unit variance, from
    their :class:`~equibench.metrics.principal.PrincipalAxes` (given where the caller has them: the
    suite shares them with the heads' standardiser)."""

    axes: PrincipalAxes
    pca: PCA

    @classmethod
    def fit(cls, z: torch.Tensor, variance: float = 0.99, axes: PrincipalAxes | None = None) -> Whitener:
        axes = PrincipalAxes.fit(z) if axes is None else axes
        return cls(axes, axes.leading(axes.explaining(variance), whiten=True))

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.axes.project(self.pca, z)).reshape(*z.shape[:-1], -1)


def fit_operators(w: torch.Tensor, pairs: CyclicPairs) -> dict[int, torch.Tensor]:
    """Ridge-fitted linear maps ``M_g`` with ``f(g . x) ~ M_g f(x)`` on whitened codes ``w[S, V, d]``,
    one per relative element of ``pairs``, and ``M_e = I`` for the identity (element 0)."""
    views, flat = w.shape[1], w.flatten(0, 1)
    maps = {0: torch.eye(w.shape[2], dtype=torch.float64)}
    design = RidgeLOO(flat.numpy())
    for batch in _by_source(pairs, views, len(flat)):
        y = flat[batch.orbit * views + batch.target].numpy()
        maps[batch.element] = torch.from_numpy(design.fit(y).coef).double()
    return maps


def fitted_operator(maps: dict[int, torch.Tensor]) -> Operator:
    """The fitted maps as an operator ``rho(w, g) = M_g w`` on whitened codes."""
    return lambda w, g: w.double() @ maps[g].T


def homomorphism_error(maps: dict[int, torch.Tensor], pairs: CyclicPairs) -> float:
    """Mean over pairs of elements (a, b) of ||M_a M_b - M_ab||_F / ||M_ab||_F: how far the fitted
    maps are from a representation of the group."""
    errors = []
    for a in pairs.elements:
        for b in pairs.elements:
            ab = maps[pairs.compose(a, b)]
            errors.append(float(torch.linalg.norm(maps[a] @ maps[b] - ab) / torch.linalg.norm(ab)))
    return sum(errors) / len(errors)


def recovered(w_test: torch.Tensor, maps: dict[int, torch.Tensor], pairs: CyclicPairs
              ) -> Iterator[tuple[PairBatch, torch.Tensor]]:
    """For each batch of test pairs (f(x), f(g . x)), g not the identity, the element whose fitted
    map, among the non-identity ones, best carries one code to the other (one per pair).

    The distances are taken ``ACCURACY_ROWS`` pairs at a time, so that the ``[G, P, d]`` differences
    stay in cache (5x faster on 6480 views of 81 dimensions); each distance is the same sum over d as
    for the whole batch, bit for bit."""
    views, flat = w_test.shape[1], w_test.flatten(0, 1)
    elements = torch.tensor(list(pairs.elements))
    predicted = torch.stack([flat @ maps[int(g)].T for g in elements])  # [G, S*V, d]: M_g f(x) for every view
    for batch in pairs.batches():
        source, target = batch.orbit * views + batch.source, batch.orbit * views + batch.target
        found = []
        for lo in range(0, len(source), ACCURACY_ROWS):
            rows = slice(lo, lo + ACCURACY_ROWS)
            distance = (predicted[:, source[rows]] - flat[target[rows]]).pow(2).sum(-1)  # [G, rows]
            found.append(elements[distance.argmin(0)])
        yield batch, torch.cat(found)


def transform_accuracy(w_test: torch.Tensor, maps: dict[int, torch.Tensor], pairs: CyclicPairs) -> float:
    """Fraction of test pairs whose g is :func:`recovered`. Chance is 1 / (N - 1); an invariant
    representation stays near it because every map fits equally well."""
    correct = total = 0
    for batch, found in recovered(w_test, maps, pairs):
        correct += int((found == batch.element).sum())
        total += len(found)
    return correct / total


def _conditioning(pairs: ViewPairs, elements: torch.Tensor) -> torch.Tensor:
    """phi(g) ``[P, F]``: a constant, then the family's conditioning functions with ``HARMONICS``
    harmonics (angles; SO(3): the rotation matrix)."""
    features = pairs.family.conditioning(elements, HARMONICS)
    return torch.cat([torch.ones(len(features), 1, dtype=torch.float64), features], dim=1)


def _by_source(pairs: CyclicPairs | ViewPairs, views: int, count: int) -> list[PairBatch]:
    """The batches of ``pairs``, whose sources must be every one of the ``count`` views once, in
    order (:meth:`CyclicPairs.batches`, :meth:`ViewPairs.batches`): the fitted operators' designs
    share that one source matrix."""
    batches, every_view = list(pairs.batches()), torch.arange(count)
    assert all(torch.equal(b.orbit * views + b.source, every_view) for b in batches), "pairs not batched by source"
    return batches


def _stacked_pairs(w: torch.Tensor, pairs: ViewPairs) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every view's code f(x) ``[S V, d]`` of codes ``w[S, V, d]``, and for each view as the source
    of each batch of ``pairs``: the target's code f(g . x) ``[S V, B, d]`` and g ``[S V, B, p]``."""
    views, flat = w.shape[1], w.flatten(0, 1).double()
    batches = _by_source(pairs, views, len(flat))
    y = torch.stack([flat[b.orbit * views + b.target] for b in batches], dim=1)
    return flat, y, torch.stack([b.element for b in batches], dim=1)


def fit_conditional(w: torch.Tensor, pairs: ViewPairs) -> Operator:
    """The ridge-fitted ``M(g) = sum_m phi_m(g) M_m`` on whitened codes of ``fit``, as an operator
    ``rho(w, g)`` with one element per row. The design phi(g) (x) f(x) keeps at most
    ``DESIGN_COLUMNS`` columns: f(x) enters by its leading ``DESIGN_COLUMNS // F`` whitened
    components (sorted by variance) and every component is predicted. Every view is a source once
    per view offset (:meth:`ViewPairs.batches`), so the design is :class:`ConditionedRidgeLOO`'s."""
    flat, y, g = _stacked_pairs(w, pairs)
    phi = _conditioning(pairs, g.flatten(0, 1)).unflatten(0, g.shape[:2])  # [S V, V - 1, F]
    width = min(DESIGN_COLUMNS // phi.shape[-1], flat.shape[1])
    coef = torch.from_numpy(ConditionedRidgeLOO(flat[:, :width].numpy(), phi.numpy()).fit(y.numpy()).coef)
    maps = coef.unflatten(1, (phi.shape[-1], width)).permute(2, 1, 0).flatten(1)  # [width, F t]: every M_m
    last = threading.local()

    def rho(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """sum_m phi_m(g) M_m w. The products M_m w are kept for the codes of the last call: the
        metrics call an operator with every view as the source once per view offset, the same codes
        with other elements each time (raw pixels of the 3D quick card: 1.0 s a test split with
        the products formed at every call, 0.4 s with them kept; they hold S V x F x t float64
        numbers, 230 MB there, until the operator is dropped). Kept per thread: the suite scores
        two test splits with one operator at once (metrics/cores.py), each in its own thread."""
        w = w.double()[:, :width]
        if getattr(last, "codes", None) is None or not torch.equal(last.codes, w):
            last.codes, last.products = w.clone(), (w @ maps).unflatten(1, (phi.shape[-1], -1))
        return (_conditioning(pairs, g)[:, None, :] @ last.products).squeeze(1)

    return rho


def fit_conditional_mlp(w: torch.Tensor, pairs: ViewPairs, seed: int) -> Operator:
    """An MLP from (f(x), phi(g)) to f(g . x), as an operator: trained on a fixed subset of
    ``MLP_PAIRS`` pairs of fit's training base images, stopped on pairs of its held-out ones."""
    generator = torch.Generator().manual_seed(PAIR_SEED)

    def design(index: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        flat, y, g = _stacked_pairs(w[index], pairs.take(index))
        # every pair, batch after batch: the order the fixed subset is drawn from
        x, y, g = flat.repeat(y.shape[1], 1), y.transpose(0, 1).flatten(0, 1), g.transpose(0, 1).flatten(0, 1)
        chosen = torch.randperm(len(x), generator=generator)[:count]
        return torch.cat([x, _conditioning(pairs, g)], dim=1)[chosen], y[chosen]

    train, held = held_out(pairs.orbits)
    predict = fit_mlp(*design(train, MLP_PAIRS), *design(held, MLP_PAIRS // 4), seed)

    def rho(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(predict(torch.cat([w.double(), _conditioning(pairs, g)], dim=1).numpy()))

    return rho
