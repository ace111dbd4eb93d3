"""Cyclic group actions on image batches: the transformations that generate orbits.

A :class:`Transformation` of order N acts on images ``[B, C, H, W]``; ``apply(x, k)`` gives
``g^k . x`` with one step ``k`` for the whole batch or one step per image (a ``LongTensor[B]``).
Images are grouped by step and each group is transformed in batched calls of ``CHUNK`` images,
never one call per image.

Each transformation says whether it is ``exact`` (a permutation of pixels or of colour values, so
that ``g^k g^l = g^(k+l)`` holds to float precision) and whether it is a ``group_action`` at all:
a cyclic walk through zoom factors wraps from the largest back to the smallest, so ``scale`` is a
sequence of transformations, not an action of the cyclic group. Interpolated actions use bicubic
resampling (``grid_sample``) with zeros outside the frame and values clamped to [0, 1].
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF

from equibench.errors import ConfigError

Steps = int | torch.Tensor
CHUNK = 1024  # images per batched call: the temporaries of a call on thousands of RGB images (60 MB
# each) cost more in page faults and cache misses than the arithmetic (hue, 17 steps on 6480 images,
# 1 thread: 2.6 s in one call each, 2.1 s in chunks); smaller chunks gain nothing more and multiply
# the threads' synchronisations, which cost dearly on a busy machine. The same bits either way.


class Transformation(ABC):
    """A cyclic transformation of order ``order`` acting on ``[B, C, H, W]`` images in [0, 1]."""

    kind: str
    exact: bool = True
    group_action: bool = True
    needs_colour: bool = False
    interpolation: str = "none"  # how frames are resampled: "none" or "bicubic"

    factors = 1  # transformations stepping together (2 for rotation + hue)

    def __init__(self, order: int) -> None:
        if order < 2:
            raise ConfigError(f"transformation order must be at least 2, got {order}")
        self.order = order

    def apply(self, x: torch.Tensor, k: Steps) -> torch.Tensor:
        """Return ``g^k . x``; ``k`` is an int or one step per image."""
        if isinstance(k, int):
            return self._act_in_chunks(x, k % self.order)
        k = k.to(x.device) % self.order
        out = torch.empty_like(x)
        for step in k.unique().tolist():
            chosen = k == step
            out[chosen] = self._act_in_chunks(x[chosen], int(step))
        return out

    def _act_in_chunks(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """``_act`` on ``CHUNK`` images at a time (see ``CHUNK``)."""
        if len(x) <= CHUNK:
            return self._act(x, step)
        out = torch.empty_like(x)
        for lo in range(0, len(x), CHUNK):
            out[lo: lo + CHUNK] = self._act(x[lo: lo + CHUNK], step)
        return out

    @abstractmethod
    def _act(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """Transform the whole batch by ``g^step`` (0 <= step < order)."""

    @abstractmethod
    def describe(self) -> str:
        """One line for humans: what one step does."""


def _resample(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Bicubic resampling of every image of ``x`` at ``matrix`` ``[2, 2]`` @ (output coordinates);
    zeros outside. The sampling grid is computed once and shared by the batch (a stride-0 view):
    one grid per image cost more than the resampling itself (raw pixels of 6480 grey images: 0.10 s
    against 0.04 s), and every image gets the very bits it got from its own copy of the grid."""
    theta = torch.zeros(1, 2, 3, dtype=x.dtype, device=x.device)
    theta[0, :, :2] = matrix.to(x)
    grid = F.affine_grid(theta, [1, *x.shape[1:]], align_corners=False).expand(x.shape[0], -1, -1, -1)
    out = F.grid_sample(x, grid, mode="bicubic", padding_mode="zeros", align_corners=False)
    return out.clamp_(0.0, 1.0)


class Rotation(Transformation):
    """Rotation about the image centre by ``360 / order`` degrees a step (counter-clockwise).

    Multiples of 90 degrees are pixel permutations (``torch.rot90``) and exact; other angles
    are resampled bicubically, losing content only outside the inscribed disc.
    """

    kind = "rot"

    def __init__(self, order: int) -> None:
        super().__init__(order)
        self.exact = order in (2, 4)
        self.interpolation = "none" if self.exact else "bicubic"

    @property
    def step_degrees(self) -> float:
        return 360.0 / self.order

    def _act(self, x: torch.Tensor, step: int) -> torch.Tensor:
        degrees = step * self.step_degrees
        if degrees % 90 == 0:
            return torch.rot90(x, int(degrees // 90), dims=(-2, -1))
        a = math.radians(degrees)
        # affine_grid maps output to input coordinates (x right, y down): sampling at R(a)
        # turns the content counter-clockwise on screen, the same way as torch.rot90.
        matrix = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        return _resample(x, matrix)

    def describe(self) -> str:
        how = "pixel permutation (exact)" if self.exact else "bicubic resampling, zero fill"
        return f"rotation by {self.step_degrees:g} degrees a step, {how}"


class Shift(Transformation):
    """Cyclic translation on the torus by ``step_px = (dx, dy)`` pixels a step (exact)."""

    kind = "shift"

    def __init__(self, order: int, step_px: Sequence[int]) -> None:
        super().__init__(order)
        if len(step_px) != 2:
            raise ConfigError(f"shift step_px must be [dx, dy], got {list(step_px)}")
        self.step_px = (int(step_px[0]), int(step_px[1]))

    def _act(self, x: torch.Tensor, step: int) -> torch.Tensor:
        dx, dy = self.step_px
        return torch.roll(x, shifts=(step * dy, step * dx), dims=(-2, -1))

    def describe(self) -> str:
        return f"cyclic shift by {self.step_px} pixels (dx, dy) a step, exact on the torus"


class Scale(Transformation):
    """Zoom about the centre through ``order`` log-spaced factors in ``factor_range``.

    Step k zooms by ``lo * (hi / lo) ** (k / (order - 1))``. The walk wraps from the largest
    factor to the smallest, so it is not a group action; frames are resampled bicubically.
    """

    kind = "scale"
    exact = False
    group_action = False
    interpolation = "bicubic"

    def __init__(self, order: int, factor_range: Sequence[float]) -> None:
        super().__init__(order)
        lo, hi = (float(v) for v in factor_range)
        if not 0 < lo < hi:
            raise ConfigError(f"scale factor_range must be 0 < lo < hi, got {[lo, hi]}")
        self.factor_range = (lo, hi)

    def factor(self, step: int) -> float:
        lo, hi = self.factor_range
        return lo * (hi / lo) ** (step / (self.order - 1))

    def _act(self, x: torch.Tensor, step: int) -> torch.Tensor:
        zoom = torch.eye(2) / self.factor(step)
        return _resample(x, zoom)

    def describe(self) -> str:
        lo, hi = self.factor_range
        return f"zoom through {self.order} log-spaced factors {lo:g}..{hi:g}, bicubic"


class Hue(Transformation):
    """Rotation of colour about the grey axis by ``360 / order`` degrees a step (HSV hue shift).

    Acts on RGB images; grey pixels are its fixed points, which is why grayscale sources are
    coloured (the digit in the red channel) before a hue dataset is built.
    """

    kind = "hue"
    needs_colour = True

    @property
    def step_degrees(self) -> float:
        return 360.0 / self.order

    def _act(self, x: torch.Tensor, step: int) -> torch.Tensor:
        if x.shape[-3] != 3:
            raise ConfigError(f"hue acts on RGB images, got {x.shape[-3]} channel(s)")
        turn = step / self.order  # torchvision counts hue in fractions of a turn in [-0.5, 0.5]
        # Black pixels are fixed points of every hue rotation (v = 0 gives r = g = b = 0 exactly),
        # and most of a digit image is black: convert only the lit pixels, as one [3, P, 1]
        # image. The conversion is elementwise, so each pixel gets the very bits it would get
        # in the whole image, at a fraction of the cost.
        images = x.reshape(-1, *x.shape[-3:])
        lit = images.ne(0).any(1).flatten().nonzero().flatten()
        channels = images.transpose(0, 1).reshape(3, -1)  # [3, B * H * W]
        out = torch.zeros_like(channels)
        hue = TF.adjust_hue(channels.index_select(1, lit)[:, :, None], (turn + 0.5) % 1.0 - 0.5)
        out.index_copy_(1, lit, hue[:, :, 0])
        return out.view(3, *images.shape[:1], *images.shape[2:]).transpose(0, 1).reshape(x.shape)

    def describe(self) -> str:
        return f"hue rotation by {self.step_degrees:g} degrees a step (HSV), exact"


class Composite(Transformation):
    """Several transformations of the same order stepping together (``g^k = a^k b^k``)."""

    kind = "composite"

    def __init__(self, parts: Sequence[Transformation]) -> None:
        orders = {p.order for p in parts}
        if len(parts) < 2 or len(orders) != 1:
            raise ConfigError("a composite needs two or more transformations of one order")
        super().__init__(orders.pop())
        self.parts = list(parts)
        self.factors = len(self.parts)
        self.kind = "+".join(p.kind for p in parts)
        self.exact = all(p.exact for p in parts)
        self.group_action = all(p.group_action for p in parts)
        self.needs_colour = any(p.needs_colour for p in parts)
        self.interpolation = "bicubic" if not self.exact else "none"

    def _act(self, x: torch.Tensor, step: int) -> torch.Tensor:
        for part in self.parts:
            x = part._act(x, step)
        return x

    def describe(self) -> str:
        return " together with ".join(p.describe() for p in self.parts)


def build_transformation(spec: Mapping[str, Any]) -> Transformation:
    """Build a transformation from a dataset card's ``[transformation]`` table."""
    kind = str(spec.get("kind", ""))
    order = int(spec.get("order", 0))
    if "+" in kind:
        return Composite([build_transformation({**spec, "kind": k}) for k in kind.split("+")])
    if kind == "rot":
        return Rotation(order)
    if kind == "hue":
        return Hue(order)
    if kind == "shift":
        return Shift(order, spec.get("step_px", (1, 0)))
    if kind == "scale":
        return Scale(order, spec.get("factor_range", (0.60, 1.26)))
    raise ConfigError(f"unknown transformation kind {kind!r}; use rot, shift, scale, hue or a+b")


def colourise(x: torch.Tensor) -> torch.Tensor:
    """Put a grayscale batch in the red channel of an RGB batch (the TVAE paper's colouring)."""
    if x.shape[-3] == 3:
        return x
    zeros = torch.zeros_like(x)
    return torch.cat([x, zeros, zeros], dim=-3)
