"""Bases, before any transformation: the embedded digits, procedural glyphs, MNIST and Fashion-MNIST,
and procedural 3D objects.

Every image source gives uint8 images ``[N, 1, 28, 28]`` and integer labels, in one or more pools:
``all`` for a source without an official test set (the embedded digits), ``train`` and ``test``
for torchvision's datasets, so that the model never trains on the official test images, and one
pool per split, exactly as large as the card asks, for a source that draws its images on demand
(the glyphs, whose ``test`` faces are held out). A *rendered* source (``shapes3d``) gives 3D
objects instead (:class:`equibench.data.shapes3d.Objects`), which the group turns and a renderer
draws: both kinds of base have ``labels``, are indexed like tensors and give their ``views`` at
group elements, which is all a view dataset asks of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
import torch.nn.functional as F

from equibench.errors import DataError
from equibench.groups import Family
from equibench.transforms import colourise

CANVAS = 28
DIGIT_BOX = 18  # the 8x8 digit fills an 18x18 box: its diagonal (25.5 px) fits any rotation


class Bases(Protocol):
    """What a view dataset asks of a split's bases, images or 3D objects: their labels, a subset by
    index, and their views at group elements (the one hook between a source and the groups)."""

    labels: torch.Tensor

    def __getitem__(self, index: slice | torch.Tensor) -> Bases: ...

    def views(self, family: Family, elements: torch.Tensor) -> torch.Tensor:
        """Images ``[n, V, C, H, W]`` in [0, 1] of each base at each of its elements ``[n, V, p]``."""


@dataclass(frozen=True)
class BaseImages:
    """Untransformed images (uint8, ``[N, 1, 28, 28]``) and their labels (``[N]``)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __getitem__(self, index: slice | torch.Tensor) -> BaseImages:
        return BaseImages(self.images[index], self.labels[index])

    def views(self, family: Family, elements: torch.Tensor) -> torch.Tensor:
        """Images ``[n, V, C, H, W]`` in [0, 1]: each image acted on by each of its elements
        ``[n, V, p]`` of ``family`` (coloured first where the family needs colour)."""
        x = self.images.float() / 255.0
        x = colourise(x) if family.needs_colour else x
        n, count = elements.shape[:2]
        return family.act(x.repeat_interleave(count, dim=0), elements.flatten(0, 1)).unflatten(0, (n, count))


def embedded_digits() -> dict[str, BaseImages]:
    """scikit-learn's bundled handwritten digits (1,797 images), brought to 28x28 with no network.

    The 8x8 images (values 0..16) are upsampled bilinearly to an 18x18 box and centred on a
    28x28 canvas with a 5-pixel margin, so that rotated and zoomed digits stay inside the frame.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = torch.as_tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    box = F.interpolate(small, size=(DIGIT_BOX, DIGIT_BOX), mode="bilinear", align_corners=False)
    margin = (CANVAS - DIGIT_BOX) // 2
    canvas = F.pad(box, (margin, CANVAS - DIGIT_BOX - margin) * 2)
    images = (canvas.clamp(0, 1) * 255).round().to(torch.uint8)
    return {"all": BaseImages(images, torch.as_tensor(digits.target, dtype=torch.long))}


def _torchvision_pools(name: str, data_root: Path | None, download: bool) -> dict[str, BaseImages]:
    from torchvision import datasets

    cls = {"mnist": datasets.MNIST, "fashion": datasets.FashionMNIST}[name]
    if data_root is None:
        raise DataError(
            f"source {name!r} reads {cls.__name__} from a local folder: pass --data-root DIR "
            "(add --download to fetch it there if you have internet)"
        )
    pools = {}
    for pool in ("train", "test"):
        try:
            ds = cls(str(data_root), train=pool == "train", download=download)
        except RuntimeError as exc:  # torchvision: "Dataset not found. You can use download=True"
            raise DataError(
                f"{cls.__name__} not found under --data-root {data_root} ({exc}); "
                "point --data-root at the folder that holds it, or add --download"
            ) from None
        pools[pool] = BaseImages(ds.data.unsqueeze(1).clone(), ds.targets.clone().long())
    return pools


SOURCES = {
    "digits": "scikit-learn's bundled handwritten digits, 8x8 upsampled into 28x28 (no network)",
    "glyphs": "digits drawn from matplotlib's fonts with random distortions, test faces held out (no network)",
    "mnist": "MNIST through torchvision, from --data-root",
    "fashion": "Fashion-MNIST through torchvision, from --data-root",
    "shapes3d": "procedural 3D objects of 12 classes built from primitives, rendered at known rotations (no network)",
}
RENDERED = ("shapes3d",)
"""Sources whose bases are 3D objects, drawn at the card's ``image_size`` by a renderer."""


def renderer(name: str) -> str:
    """The versions, beyond the card, that a source's pixels depend on ("" for a fixed data set)."""
    if name == "glyphs":
        from equibench.data import glyphs

        return glyphs.renderer()
    if name == "shapes3d":
        from equibench.data import shapes3d

        return shapes3d.renderer()
    return ""


def load_source(name: str, data_root: Path | None = None, download: bool = False,
                sizes: Mapping[str, int] | None = None, seed: int = 0, image_size: int | None = None) -> dict[str, Bases]:
    """Load the base pools of source ``name``; a procedural source draws ``sizes[split]`` bases per
    split from ``seed``, a rendered one to be drawn at ``image_size``."""
    if name == "digits":
        return embedded_digits()
    if name == "glyphs":
        from equibench.data.glyphs import glyph_pools

        return glyph_pools(sizes or {}, seed)
    if name == "shapes3d":
        from equibench.data.shapes3d import object_pools

        return object_pools(sizes or {}, seed, image_size or 28)
    if name in SOURCES:
        return _torchvision_pools(name, data_root, download)
    raise DataError(f"unknown image source {name!r}; use one of {', '.join(SOURCES)}")
