"""Pairs of views of one base image and the group element that relates them.

Every metric over pairs — commutativity, retrieval, the relative-transformation regression —
asks this module which views form a pair, which element g carries view i to view j
(``view_j = g . view_i``), what g's parameters are as a regression target, and how far apart two
views are. It is the only place where the metrics learn that today's groups are cyclic: an orbit
of N views holds every power of one generator, so the pairs of relative element k are
``(t, t + k mod N)`` and the views themselves are ``Z[s, t]``. A group with other elements (a
continuous one, with views at sampled elements) needs another sampler with the same interface,
not other metrics.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PairBatch:
    """Pairs that share one relative element: view ``target[p]`` of base image ``orbit[p]`` is
    ``element`` applied to view ``source[p]`` of the same base image."""

    element: int
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
        angle = 2 * math.pi * elements.double() / self.order
        return torch.stack([angle.cos(), angle.sin()] * self.factors, dim=1)

    def compose(self, a: int, b: int) -> int:
        """The element g_a g_b."""
        return (a + b) % self.order

    def offset(self, expected: torch.Tensor, found: torch.Tensor) -> torch.Tensor:
        """The element that carries view ``expected`` to view ``found`` (0: the same view)."""
        return (found - expected) % self.order
