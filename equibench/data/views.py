"""View datasets, as 3DIEBench builds them: every base image seen at V sampled group elements.

A view card names a continuous family (:mod:`equibench.groups`), the view count V and, per
parameter, the intervals its values are drawn from, uniformly over their union (``[views.train]``,
for ``train``, ``fit`` and ``test``). Each view is computed from its base image in one call of the
family's action (never by transforming a view) and stored as uint8 with its element, a float64 row
of the family's parameters. A ``[views.ood]`` table adds the split ``test_ood``, base images of the
test pool whose views are drawn from other intervals (train |angle| <= 90 degrees, test beyond):
the metrics score it separately, under keys ending ``_ood``. The content hash covers every stored
tensor; generated datasets are cached under the card's hash, as orbit datasets are.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from equibench.atomic import atomic_path
from equibench.data.cards import OOD, DatasetCard
from equibench.data.orbits import Progress, _draw_bases
from equibench.data.sources import BaseImages, load_source
from equibench.groups import Family
from equibench.transforms import colourise

FORMAT = 1  # bump when generation changes, so old caches are not reused
CHUNK = 256  # base images transformed per call


@dataclass(frozen=True)
class ViewSplit:
    """Views of one split: ``frames`` uint8 ``[S, V, C, H, W]``, ``labels`` ``[S]``, and ``elements``
    float64 ``[S, V, p]``, the element of each view relative to its base image."""

    frames: torch.Tensor
    labels: torch.Tensor
    elements: torch.Tensor

    @property
    def num_sequences(self) -> int:
        return self.frames.shape[0]

    def sequences(self) -> torch.Tensor:
        """All views as floats in [0, 1], ``[S, V, C, H, W]``."""
        return self.frames.float().div_(255.0)

    def images(self) -> torch.Tensor:
        """All views as floats in [0, 1], flattened: ``[S * V, C, H, W]``."""
        return self.sequences().flatten(0, 1)


@dataclass(frozen=True)
class ViewDataset:
    """A view dataset: its card, its family and its splits (``test_ood`` where the card has one)."""

    card: DatasetCard
    family: Family
    splits: dict[str, ViewSplit]
    content_hash: str

    @property
    def transformation(self) -> Family:
        """What models are told the dataset's transformation is (``DataSpec.transformation``)."""
        return self.family

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.splits["test"].frames.shape[2:])

    @property
    def num_classes(self) -> int:
        return int(max(s.labels.max() for s in self.splits.values())) + 1


def content_hash(splits: dict[str, ViewSplit]) -> str:
    """sha256 over every split's frames, labels and elements, in split order."""
    digest = hashlib.sha256()
    for split in splits.values():
        for tensor in (split.frames, split.labels, split.elements):
            digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()


def generate(card: DatasetCard, pools: dict[str, BaseImages], progress: Progress) -> ViewDataset:
    """Build the view dataset of ``card`` from the source's base image pools."""
    family, views = card.build_transformation(), card.views["count"]
    g = torch.Generator().manual_seed(card.seed + 1)
    splits = {}
    for name, base in _draw_bases(card, pools).items():
        ranges = card.views["ood" if name == OOD else "train"]
        elements = family.sample(len(base.labels) * views, ranges, g).unflatten(0, (len(base.labels), views))
        chunks = []
        for lo in progress(range(0, len(base.labels), CHUNK), desc=f"{card.id} {name}", leave=False):
            x = base.images[lo: lo + CHUNK].float() / 255.0
            x = colourise(x) if family.needs_colour else x
            e = elements[lo: lo + CHUNK]
            frames = family.act(x.repeat_interleave(views, dim=0), e.flatten(0, 1))
            chunks.append((frames * 255).round_().to(torch.uint8).unflatten(0, (len(e), views)))
        splits[name] = ViewSplit(torch.cat(chunks), base.labels, elements)
    return ViewDataset(card, family, splits, content_hash(splits))


def load_views(card: DatasetCard, cache_dir: Path, progress: Progress, data_root: Path | None = None,
               download: bool = False) -> ViewDataset:
    """Load the view dataset of ``card`` from the cache, or generate and cache it."""
    path = cache_dir / "datasets" / f"{card.id}-{card.hash}-views-v{FORMAT}.pt"
    if path.is_file():
        stored = torch.load(path, weights_only=True)
        splits = {name: ViewSplit(*stored[name]) for name in card.split_names}
        if content_hash(splits) == stored["content_hash"]:
            return ViewDataset(card, card.build_transformation(), splits, stored["content_hash"])
    dataset = generate(card, load_source(card.source, data_root, download), progress)
    payload = {name: (s.frames, s.labels, s.elements) for name, s in dataset.splits.items()}
    payload["content_hash"] = dataset.content_hash
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return dataset
