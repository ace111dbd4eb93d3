"""Orbit datasets: every base image turned into the sequence x_t = g^(t + t0) . x, t = 0..N-1.

Each frame is computed from the base image in one call of the transformation (never by
transforming a transformed frame), with a random start t0 per sequence. Frames are stored as
uint8, like the images they come from; the content hash covers every stored tensor, so a result
record names exactly the data it was scored on. Generated datasets are cached on disk under the
card's hash (and, for a procedural source, the versions of what draws its images).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from equibench.atomic import atomic_path
from equibench.data.cards import DatasetCard
from equibench.data.sources import BaseImages, Bases, load_source, renderer
from equibench.errors import ConfigError
from equibench.transforms import Composite, Transformation

FORMAT = 1  # bump when generation changes, so old caches are not reused
Progress = Callable[..., Iterable]


@dataclass(frozen=True)
class Split:
    """Views of one split: ``frames`` uint8 ``[S, V, C, H, W]`` and ``labels`` ``[S]``; a subclass adds
    the element of every view."""

    frames: torch.Tensor
    labels: torch.Tensor

    @property
    def num_sequences(self) -> int:
        return self.frames.shape[0]

    def sequences(self) -> torch.Tensor:
        """All frames as floats in [0, 1], ``[S, N, C, H, W]``."""
        return self.frames.float().div_(255.0)

    def images(self) -> torch.Tensor:
        """All frames as floats in [0, 1], flattened over sequences: ``[S * N, C, H, W]``."""
        return self.sequences().flatten(0, 1)

    def tensors(self) -> tuple[torch.Tensor, ...]:
        """Every stored tensor, in field order: what is hashed and cached."""
        return tuple(getattr(self, f.name) for f in fields(self))


@dataclass(frozen=True)
class OrbitSplit(Split):
    """Sequences of one split, with ``steps`` ``[S, N]``, the group element k of each frame relative
    to its base image."""

    steps: torch.Tensor


@dataclass(frozen=True)
class OrbitDataset:
    """A transformation dataset: its card, its transformation and its splits."""

    card: DatasetCard
    transformation: Transformation
    splits: dict[str, OrbitSplit]
    content_hash: str

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.splits["test"].frames.shape[2:])

    @property
    def num_classes(self) -> int:
        return int(max(s.labels.max() for s in self.splits.values())) + 1


def content_hash(splits: dict[str, Split]) -> str:
    """sha256 over every split's tensors (frames, labels, the elements), in split order."""
    digest = hashlib.sha256()
    for split in splits.values():
        for tensor in split.tensors():
            digest.update(tensor.contiguous().numpy())  # the buffer itself: no copy of a 2 GB split
    return digest.hexdigest()


def _draw_bases(card: DatasetCard, pools: dict[str, Bases]) -> dict[str, Bases]:
    """Disjoint base images for the splits: each from its own pool where the source draws one per
    split, else ``train`` from the source's training pool and ``fit``, ``test`` (and a view dataset's
    ``test_ood``) from its test pool (one shared pool where the source has only one)."""
    g = torch.Generator().manual_seed(card.seed)
    names = card.split_names
    if all(name in pools for name in names):
        plan = [(name, name) for name in names]
    elif "test" in pools:
        plan = [(name, "train" if name == "train" else "test") for name in names]
    else:
        plan = [(name, "all") for name in names]
    order = {pool: torch.randperm(len(p.labels), generator=g) for pool, p in pools.items()}
    taken = {pool: 0 for pool in pools}
    bases = {}
    for split, pool in plan:
        count = card.splits[split]
        idx = order[pool][taken[pool]: taken[pool] + count]
        if len(idx) < count:
            raise ConfigError(
                f"dataset {card.id}: split {split!r} asks for {count} images but the "
                f"{card.source} pool {pool!r} has only {len(order[pool]) - taken[pool]} left"
            )
        taken[pool] += count
        bases[split] = pools[pool][idx]
    return bases


def generate(card: DatasetCard, pools: dict[str, BaseImages], progress: Progress) -> OrbitDataset:
    """Build the orbit dataset of ``card`` from the source's base image pools."""
    t = card.build_transformation()
    n = t.order
    g = torch.Generator().manual_seed(card.seed + 1)
    splits = {}
    for name, base in _draw_bases(card, pools).items():
        start = torch.randint(0, n, (len(base.labels),), generator=g)
        steps = (torch.arange(n) + start[:, None]) % n
        channels = 3 if t.needs_colour else base.images.shape[1]
        # written in place, chunk by chunk: the split is held once (677 MB for 48,000 grey orbits of 18)
        frames = torch.empty(len(base.labels), n, channels, *base.images.shape[2:], dtype=torch.uint8)
        for lo in progress(range(0, len(base.labels), 256), desc=f"{card.id} {name}", leave=False):
            x = base.images[lo: lo + 256].float() / 255.0
            rows = torch.arange(lo, lo + len(x))
            for k in range(n):  # one call per group element, on every base image of the chunk
                frames[rows, (k - start[rows]) % n] = (_frames(t, x, k) * 255).round_().to(torch.uint8)
        splits[name] = OrbitSplit(frames, base.labels, steps)
    return OrbitDataset(card, t, splits, content_hash(splits))


def _frames(t: Transformation, x: torch.Tensor, k: int) -> torch.Tensor:
    """``t.apply(colourise(x), k)`` where ``t`` needs colour, else ``t.apply(x, k)``, bit for bit, faster.

    A colour part (hue) acting on a grey image in the red channel, ``(v, 0, 0)``, sees
    saturation 1 and hue 0 at every lit pixel, so torchvision's HSV formulas reduce to products of
    ``v`` with factors that depend only on the step: the colour of a pure red pixel, ``(1, 0, 0)``,
    under the same part; black pixels stay black. So a grey image stays one channel until its
    colour part, and then becomes that colour times ``v``, never converted to HSV and back.
    """
    for part in t.parts if isinstance(t, Composite) else [t]:
        if part.needs_colour and x.shape[1] == 1:
            red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
            x = part.apply(red, k) * x
        else:
            x = part.apply(x, k)
    return x


def cache_path(card: DatasetCard, cache_dir: Path, kind: str = "", version: int = FORMAT) -> Path:
    """Where the dataset of ``card`` is cached: under the card's hash and, for a procedural source,
    its rasteriser's versions (an upgrade draws the images afresh); ``kind`` tells view datasets apart."""
    tag = renderer(card.source)
    return cache_dir / "datasets" / f"{card.id}-{card.hash}{'-' + tag if tag else ''}{kind}-v{version}.pt"


def pools(card: DatasetCard, data_root: Path | None, download: bool) -> dict[str, Bases]:
    """The source's base pools for ``card`` (a procedural source draws the card's split sizes)."""
    return load_source(card.source, data_root, download, sizes=card.splits, seed=card.seed, image_size=card.image_size)


def cached(path: Path, card: DatasetCard, split_type: type[Split], dataset_type: type[OrbitDataset],
           build: Callable[[], OrbitDataset]) -> OrbitDataset:
    """The dataset cached at ``path``, or ``build()`` it and cache it. A cached file whose content no
    longer matches its recorded hash is rebuilt."""
    if path.is_file():
        stored = torch.load(path, weights_only=True)
        splits = {name: split_type(*stored[name]) for name in card.split_names}
        if content_hash(splits) == stored["content_hash"]:
            return dataset_type(card, card.build_transformation(), splits, stored["content_hash"])
    dataset = build()
    payload = {name: s.tensors() for name, s in dataset.splits.items()}
    payload["content_hash"] = dataset.content_hash
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return dataset


def load_dataset(
    card: DatasetCard,
    cache_dir: Path,
    progress: Progress,
    data_root: Path | None = None,
    download: bool = False,
) -> OrbitDataset:
    """Load the dataset of ``card`` from the cache, or generate and cache it (a view card's:
    :func:`equibench.data.views.load_views`)."""
    if card.views is not None:
        from equibench.data.views import load_views  # views builds on this module

        return load_views(card, cache_dir, progress, data_root, download)
    return cached(cache_path(card, cache_dir), card, OrbitSplit, OrbitDataset,
                  lambda: generate(card, pools(card, data_root, download), progress))
