"""Pairs of views of one base image and the group element that relates them.

Every metric over pairs — commutativity, retrieval, the relative-transformation regression —
asks this module which views form a pair, which element g carries view i to view j
(``view_j = g . view_i``), what g's parameters are as a regression target, and how far apart two
views are. It is the only place where the metrics learn that today's groups are cyclic: an orbit
of N views holds every power of one generator, so the pairs of relative element k are
``(t, t + k mod N)`` and the views themselves are ``Z[s, t]``. A view dataset (views at sampled
elements of a continuous family) has :class:`ViewPairs`, the same interface: its pairs are batched
by the view offset d (``(t, t + d mod V)``, so that every batch is again every view once as a
source) and each pair carries its own relative element, a row of the family's parameters. An
operator is called with the element of a batch: the step k (an int) for a cyclic group, a tensor
``[P, p]`` of per-pair elements for a view dataset.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import torch

from equibench.groups import Family
from equibench.groups.families import cyclic_features
from equibench.transforms import Transformation


@dataclass(frozen=True)
class PairBatch:
    """Pairs of views of one base image: view ``target[p]`` of base image ``orbit[p]`` is ``element``
    (one step k for the whole batch, or one row of parameters per pair) applied to view ``source[p]``."""

    element: int | torch.Tensor
    orbit: torch.Tensor
    source: torch.Tensor
    target: torch.Tensor


@dataclass(frozen=True)
class CyclicPairs:
    """The pairs of orbits ``[S, N]`` of a cyclic group of order N acting through ``factors``
    transformations at once (2 for rotation together with hue, 1 otherwise)."""

    orbits: int
    order: int
    factors: int = 1

    @property
    def elements(self) -> range:
        """The relative elements every pair metric scores: k = 1..N-1 (the identity says nothing)."""
        return range(1, self.order)

    @property
    def batch_count(self) -> int:
        return self.order - 1

    def batches(self) -> Iterator[PairBatch]:
        """Every ordered pair of distinct views of every base image, one batch per element k, each
        in the order of the frames ``Z[s, t]`` flattened (so ``source`` is every frame once)."""
        s = torch.arange(self.orbits).repeat_interleave(self.order)
        t = torch.arange(self.order).repeat(self.orbits)
        for k in self.elements:
            yield PairBatch(k, s, t, (t + k) % self.order)

    def sample(self, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                                      torch.Tensor]:
        """``count`` pairs (orbit, source, target, element) drawn uniformly, with replacement, among
        all pairs of distinct views."""
        s = torch.randint(self.orbits, (count,), generator=generator)
        i = torch.randint(self.order, (count,), generator=generator)
        k = torch.randint(1, self.order, (count,), generator=generator)
        return s, i, (i + k) % self.order, k

    def features(self, elements: torch.Tensor) -> torch.Tensor:
        """The parameters of each element as a regression target ``[P, 2 * factors]``: the angle
        2 pi k / N as (cos, sin), once per factor of the transformation."""
        return cyclic_features(elements, self.order, self.factors)

    def take(self, index: torch.Tensor) -> CyclicPairs:
        """The pairs of the base images ``index`` alone (codes ``Z[index]``)."""
        return replace(self, orbits=len(index))

    def compose(self, a: int, b: int) -> int:
        """The element g_a g_b."""
        return (a + b) % self.order

    def offset(self, expected: torch.Tensor, found: torch.Tensor) -> torch.Tensor:
        """The element that carries view ``expected`` to view ``found`` (0: the same view)."""
        return (found - expected) % self.order

    rotations = None  # a cyclic dataset's steps are not compared as rotations (PRE is for view datasets)


@dataclass(frozen=True)
class ViewPairs:
    """The pairs of the views ``[S, V]`` of a view dataset, with the element of every view
    ``elements[S, V, p]`` of ``family``: a pair's relative element is ``relative(e_i, e_j)``."""

    family: Family
    elements: torch.Tensor

    @property
    def orbits(self) -> int:
        return self.elements.shape[0]

    @property
    def views(self) -> int:
        return self.elements.shape[1]

    @property
    def batch_count(self) -> int:
        return self.views - 1

    offset = None  # views have no order: a retrieval miss has no offset to report

    @property
    def rotations(self) -> torch.Tensor | None:
        """Every view's element as a unit quaternion ``[S, V, 4]`` where the family is a rotation
        group (so2, so3), else None."""
        q = self.family.quaternion(self.elements.flatten(0, 1))
        return None if q is None else q.unflatten(0, (self.orbits, self.views))

    def relative(self, s: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        """The elements carrying view ``i`` to view ``j`` of base image ``s``, ``[P, p]``."""
        return self.family.relative(self.elements[s, i], self.elements[s, j])

    def batches(self) -> Iterator[PairBatch]:
        """Every ordered pair of distinct views of every base image, one batch per view offset d,
        each in the order of the views ``Z[s, t]`` flattened (so ``source`` is every view once)."""
        s = torch.arange(self.orbits).repeat_interleave(self.views)
        t = torch.arange(self.views).repeat(self.orbits)
        for d in range(1, self.views):
            target = (t + d) % self.views
            yield PairBatch(self.relative(s, t, target), s, t, target)

    def sample(self, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                                      torch.Tensor]:
        """``count`` pairs (orbit, source, target, relative element) drawn uniformly, with
        replacement, among all pairs of distinct views."""
        s = torch.randint(self.orbits, (count,), generator=generator)
        i = torch.randint(self.views, (count,), generator=generator)
        j = (i + torch.randint(1, self.views, (count,), generator=generator)) % self.views
        return s, i, j, self.relative(s, i, j)

    def take(self, index: torch.Tensor) -> ViewPairs:
        """The pairs of the base images ``index`` alone (codes ``Z[index]``)."""
        return replace(self, elements=self.elements[index])

    def features(self, elements: torch.Tensor) -> torch.Tensor:
        """The family's features of each element (angles as (cos, sin)): the regression target."""
        return self.family.features(elements)


def pairs_of(split, transformation: Transformation | Family) -> CyclicPairs | ViewPairs:
    """The pair sampler of a split: an orbit split (``steps``) of a cyclic transformation, or a view
    split (``elements``) of a family."""
    if isinstance(transformation, Family):
        return ViewPairs(transformation, split.elements)
    return CyclicPairs(split.num_sequences, transformation.order, transformation.factors)
