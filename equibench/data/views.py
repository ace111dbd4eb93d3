"""View datasets, as 3DIEBench builds them: every base image seen at V sampled group elements.

A view card names a continuous family (:mod:`equibench.groups`), the view count V and, per
parameter, the intervals its values are drawn from, uniformly over their union (``[views.train]``,
for ``train``, ``fit`` and ``test``). Each view is computed from its base in one call of the
family's action (never by transforming a view) and stored as uint8 with its element, a float64 row
of the family's parameters. The base says how it is seen (``base.views(family, elements)``): an
image is acted on by the family's image action, a 3D object (:mod:`equibench.data.shapes3d`) is
turned by the family and rendered. A ``[views.ood]`` table adds the split ``test_ood``, base images of the
test pool whose views are drawn from other intervals (train |angle| <= 90 degrees, test beyond):
the metrics score it separately, under keys ending ``_ood``. The content hash covers every stored
tensor; generated datasets are cached under the card's hash, as orbit datasets are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from equibench.data.cards import OOD, DatasetCard
from equibench.data.orbits import OrbitDataset, Progress, Split, _draw_bases, cache_path, cached, content_hash, pools
from equibench.data.sources import Bases
from equibench.groups import Family

FORMAT = 1  # bump when generation changes, so old caches are not reused
CHUNK = 256  # base images transformed per call


@dataclass(frozen=True)
class ViewSplit(Split):
    """Views of one split, with ``elements`` float64 ``[S, V, p]``, the element of each view relative to
    its base image."""

    elements: torch.Tensor


class ViewDataset(OrbitDataset):
    """A view dataset: its card, its family (``transformation``, what models are told through
    ``DataSpec``) and its splits (``test_ood`` where the card has one)."""

    @property
    def family(self) -> Family:
        return self.transformation


def generate(card: DatasetCard, pools: dict[str, Bases], progress: Progress) -> ViewDataset:
    """Build the view dataset of ``card`` from the source's pools of bases (images or 3D objects)."""
    family, views = card.build_transformation(), card.views["count"]
    g = torch.Generator().manual_seed(card.seed + 1)
    splits = {}
    for name, base in _draw_bases(card, pools).items():
        ranges = card.views["ood" if name == OOD else "train"]
        elements = family.sample(len(base.labels) * views, ranges, g).unflatten(0, (len(base.labels), views))
        chunks = []
        for lo in progress(range(0, len(base.labels), CHUNK), desc=f"{card.id} {name}", leave=False):
            frames = base[lo: lo + CHUNK].views(family, elements[lo: lo + CHUNK])
            chunks.append((frames * 255).round_().to(torch.uint8))
        splits[name] = ViewSplit(torch.cat(chunks), base.labels, elements)
    return ViewDataset(card, family, splits, content_hash(splits))


def load_views(card: DatasetCard, cache_dir: Path, progress: Progress, data_root: Path | None = None,
               download: bool = False) -> ViewDataset:
    """Load the view dataset of ``card`` from the cache, or generate and cache it."""
    return cached(cache_path(card, cache_dir, "-views", FORMAT), card, ViewSplit, ViewDataset,
                  lambda: generate(card, pools(card, data_root, download), progress))
