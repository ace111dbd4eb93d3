"""Procedural 3D objects: a source whose bases are objects, rendered at rotations, with no download.

3DIEBench renders ShapeNet meshes with Blender (about 500 GPU-hours); this source builds its
objects instead, each a union of at most ``SLOTS`` primitives (boxes, ellipsoids, cylinders, cones,
tori; :mod:`equibench.data.primitives`), and renders them on the fly by sphere tracing
(:mod:`equibench.data.tracing`). An object *class* is a family of compositions: the same parts in
the same arrangement (a table is a top on four legs), with proportions drawn per object and a
colour drawn per part, so that a class is told by its shape, never by its colour. The label is the
class. Parts of one object get independent colours, which also tells apart the otherwise
symmetric poses of many classes (the legs of a table).

Why the bases are objects, not images: SO(3) acts on the object, not on its picture. A view is
``render(g . object)``, where the family turns the object (:meth:`Objects.rotated`, called by
:meth:`equibench.groups.families.SO3.act`) and the renderer draws the turned object, so the one
module that knows the group still draws every element; :meth:`Objects.views` is the hook that
:mod:`equibench.data.views` calls where an image source applies the image action.

Every object is centred and scaled into the unit sphere, which the camera frames with a margin:
no rotation takes any part out of the frame. Parameters are drawn first, split by split from a
generator seeded by (seed, split), so the objects do not depend on the chunking of the rendering.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace

import torch

from equibench.data import tracing
from equibench.data.primitives import BOX, CONE, CYLINDER, ELLIPSOID, TORUS, bounding_radius, half_extents, length
from equibench.groups import Family
from equibench.groups.quaternions import from_euler, to_matrix

RENDERER = 1  # bump when the renderer or the object classes change the pixels
SLOTS = 5  # primitives per object at most
HALF = math.pi / 2


@dataclass(frozen=True)
class Objects:
    """A batch of objects: per slot a primitive ``kind`` (-1: empty), its ``extent`` (three sizes),
    ``centre`` and ``axes`` (columns: its frame) in the object's frame and its RGB ``colour``; per
    object the ``pose`` (rotation matrix, float64, the identity for a base object), the
    ``background`` and ``light`` colours, the class ``labels``, and the image size it is rendered at.

    ``background_hue`` and ``light_hue`` (degrees, float64) are the known colour factors
    (:meth:`hued`): NaN, as drawn, leaves ``background`` and ``light`` as they are (black and white);
    a number sets them to :func:`background_colour` and :func:`light_colour` of that hue."""

    kind: torch.Tensor  # [n, SLOTS] int64
    extent: torch.Tensor  # [n, SLOTS, 3]
    centre: torch.Tensor  # [n, SLOTS, 3]
    axes: torch.Tensor  # [n, SLOTS, 3, 3]
    colour: torch.Tensor  # [n, SLOTS, 3]
    pose: torch.Tensor  # [n, 3, 3] float64
    background: torch.Tensor  # [n, 3]
    light: torch.Tensor  # [n, 3]
    labels: torch.Tensor  # [n]
    pixels: int
    background_hue: torch.Tensor  # [n] float64, degrees; NaN: the flat ``background`` colour
    light_hue: torch.Tensor  # [n] float64, degrees; NaN: the ``light`` colour as it is

    def __len__(self) -> int:
        return len(self.labels)

    def _map(self, f: Callable[[torch.Tensor], torch.Tensor]) -> Objects:
        return replace(self, **{x.name: f(getattr(self, x.name)) for x in fields(self) if x.name != "pixels"})

    def __getitem__(self, index: slice | torch.Tensor) -> Objects:
        return self._map(lambda t: t[index])

    def to(self, device: torch.device | str) -> Objects:
        """The objects on ``device`` (the renderer runs wherever they are)."""
        return self._map(lambda t: t.to(device))

    def repeat_interleave(self, times: int) -> Objects:
        return self._map(lambda t: t.repeat_interleave(times, dim=0))

    def rotated(self, matrices: torch.Tensor) -> Objects:
        """Each object turned by a rotation matrix ``[n, 3, 3]`` about its centre (SO(3)'s action)."""
        return replace(self, pose=tracing.matmul3(matrices.double(), self.pose))

    def hued(self, factor: str, degrees: torch.Tensor) -> Objects:
        """The hue of ``factor`` ("background" or "light") turned by ``degrees`` ``[n]`` (the colour
        families' action; an object whose hue is NaN starts from hue 0), and its colour set from
        the new hue."""
        hue = (getattr(self, f"{factor}_hue").nan_to_num(0.0) + degrees.double()) % 360.0
        return replace(self, **{f"{factor}_hue": hue, factor: COLOURS[factor](hue)})

    def views(self, family: Family, elements: torch.Tensor) -> torch.Tensor:
        """Images ``[n, V, 3, H, W]`` in [0, 1]: each object turned by each of its elements
        ``[n, V, p]`` of ``family`` and rendered."""
        n, count = elements.shape[:2]
        posed = family.act(self.repeat_interleave(count), elements.flatten(0, 1))
        return tracing.render(posed, self.pixels).unflatten(0, (n, count))


Part = tuple[int, torch.Tensor, torch.Tensor, tuple[float, float, float]]
"""A class's part: (primitive kind, extent ``[n, 3]``, centre ``[n, 3]``, Euler turn (radians) of its axes)."""


def _xyz(*columns: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    return torch.stack([c if torch.is_tensor(c) else torch.full_like(like, c) for c in columns], 1)


def table(u) -> list[Part]:
    w, d, top, r, h = u(0.7, 1.2), u(0.45, 0.9), u(0.04, 0.1), u(0.04, 0.09), u(0.3, 0.6)
    parts = [(BOX, _xyz(w, top, d, like=w), _xyz(0.0, 2 * h + top, 0.0, like=w), (0, 0, 0))]
    for sx, sz in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        parts.append((CYLINDER, _xyz(r, h, 0.0, like=w), _xyz(sx * (w - 1.5 * r), h, sz * (d - 1.5 * r), like=w), (0, 0, 0)))
    return parts


def chair(u) -> list[Part]:
    s, leg, r, back = u(0.35, 0.55), u(0.25, 0.45), u(0.03, 0.06), u(0.3, 0.55)
    seat_y = 2 * leg + 0.05
    return [(BOX, _xyz(s, 0.05, s, like=s), _xyz(0.0, seat_y, 0.0, like=s), (0, 0, 0)),
            (BOX, _xyz(s, back, 0.04, like=s), _xyz(0.0, seat_y + back, -s + 0.04, like=s), (0, 0, 0)),
            (CYLINDER, _xyz(r, leg, 0.0, like=s), _xyz(s - 1.5 * r, leg, s - 1.5 * r, like=s), (0, 0, 0)),
            (CYLINDER, _xyz(r, leg, 0.0, like=s), _xyz(-s + 1.5 * r, leg, s - 1.5 * r, like=s), (0, 0, 0)),
            (BOX, _xyz(s, leg, 0.04, like=s), _xyz(0.0, leg, -s + 0.04, like=s), (0, 0, 0))]


def lamp(u) -> list[Part]:
    base, pole, arm, shade, top = u(0.25, 0.45), u(0.35, 0.6), u(0.15, 0.35), u(0.25, 0.4), u(0.06, 0.15)
    h, r = u(0.12, 0.22), u(0.025, 0.045)
    pole_top = 0.08 + 2 * pole
    return [(CYLINDER, _xyz(base, 0.04, 0.0, like=base), _xyz(0.0, 0.04, 0.0, like=base), (0, 0, 0)),
            (CYLINDER, _xyz(r, pole, 0.0, like=base), _xyz(0.0, 0.08 + pole, 0.0, like=base), (0, 0, 0)),
            (CYLINDER, _xyz(r, arm, 0.0, like=base), _xyz(arm, pole_top, 0.0, like=base), (0, 0, HALF)),
            (CONE, _xyz(shade, h, top, like=base), _xyz(2 * arm, pole_top - h * 0.5, 0.0, like=base), (0, 0, 0))]


def mushrooms(u) -> list[Part]:
    r, h, cap, lid = u(0.08, 0.16), u(0.2, 0.4), u(0.3, 0.5), u(0.12, 0.25)
    small, gap = u(0.45, 0.7), u(0.05, 0.2)
    x = cap * (1 + small) + gap
    return [(CYLINDER, _xyz(r, h, 0.0, like=r), _xyz(0.0, h, 0.0, like=r), (0, 0, 0)),
            (ELLIPSOID, _xyz(cap, lid, cap, like=r), _xyz(0.0, 2 * h, 0.0, like=r), (0.2, 0, 0)),
            (CYLINDER, _xyz(r * small, h * small, 0.0, like=r), _xyz(x, h * small, 0.0, like=r), (0, 0, 0)),
            (ELLIPSOID, _xyz(cap * small, lid * small, cap * small, like=r), _xyz(x, 2 * h * small, 0.0, like=r),
             (0, 0, -0.3))]


def snowman(u) -> list[Part]:
    a = u(0.3, 0.42)
    b, c, nose, hat = a * u(0.65, 0.8), u(0.16, 0.22), u(0.1, 0.2), u(0.08, 0.15)
    y1, y2 = a, 2 * a + b * 0.9
    y3 = y2 + b + c * 0.8
    return [(ELLIPSOID, _xyz(a, a, a, like=a), _xyz(0.0, y1, 0.0, like=a), (0, 0, 0)),
            (ELLIPSOID, _xyz(b, b, b, like=a), _xyz(0.0, y2, 0.0, like=a), (0, 0, 0)),
            (ELLIPSOID, _xyz(c, c, c, like=a), _xyz(0.0, y3, 0.0, like=a), (0, 0, 0)),
            (CONE, _xyz(0.04, nose, 0.0, like=a), _xyz(0.0, y3, c + nose * 0.8, like=a), (HALF, 0, 0)),
            (CYLINDER, _xyz(c * 0.8, hat, 0.0, like=a), _xyz(0.0, y3 + c + hat * 0.7, 0.0, like=a), (0, 0, 0.25))]


def tree(u) -> list[Part]:
    r, h, wide, tall = u(0.06, 0.12), u(0.12, 0.25), u(0.35, 0.55), u(0.25, 0.4)
    branch, lean = u(0.15, 0.3), u(0.1, 0.3)
    return [(CYLINDER, _xyz(r, h, 0.0, like=r), _xyz(0.0, h, 0.0, like=r), (0, 0, 0)),
            (CONE, _xyz(wide, tall, 0.0, like=r), _xyz(0.0, 2 * h + tall, 0.0, like=r), (0, 0, 0)),
            (CONE, _xyz(wide * 0.7, tall * 0.8, 0.0, like=r), _xyz(0.0, 2 * h + 2.4 * tall, 0.0, like=r), (0.15, 0, 0)),
            (CYLINDER, _xyz(r * 0.5, branch, 0.0, like=r), _xyz(branch * 0.8, h + lean, 0.0, like=r), (0, 0, -1.0))]


def mug(u) -> list[Part]:
    r, h, ring, tube, plate = u(0.25, 0.4), u(0.25, 0.45), u(0.12, 0.2), u(0.03, 0.06), u(1.4, 1.8)
    return [(CYLINDER, _xyz(r, h, 0.0, like=r), _xyz(0.0, 0.04 + h, 0.0, like=r), (0, 0, 0)),
            (TORUS, _xyz(ring, tube, 0.0, like=r), _xyz(r + ring * 0.6, 0.04 + h, 0.0, like=r), (HALF, 0, 0)),
            (CYLINDER, _xyz(r * plate, 0.02, 0.0, like=r), _xyz(0.0, 0.02, 0.0, like=r), (0, 0, 0))]


def dumbbell(u) -> list[Part]:
    r, half, ball, cube = u(0.04, 0.07), u(0.35, 0.6), u(0.15, 0.28), u(0.12, 0.22)
    return [(CYLINDER, _xyz(r, half, 0.0, like=r), _xyz(0.0, 0.0, 0.0, like=r), (0, 0, HALF)),
            (ELLIPSOID, _xyz(ball, ball * 1.2, ball, like=r), _xyz(-half, 0.0, 0.0, like=r), (0, 0, 0)),
            (BOX, _xyz(cube, cube, cube * 0.8, like=r), _xyz(half, 0.0, 0.0, like=r), (0, 0, 0))]


def rocket(u) -> list[Part]:
    r, h, nose, fin, span = u(0.13, 0.22), u(0.4, 0.65), u(0.2, 0.35), u(0.12, 0.25), u(0.1, 0.2)
    parts = [(CYLINDER, _xyz(r, h, 0.0, like=r), _xyz(0.0, h, 0.0, like=r), (0, 0, 0)),
             (CONE, _xyz(r, nose, 0.0, like=r), _xyz(0.0, 2 * h + nose, 0.0, like=r), (0, 0, 0))]
    for k in range(3):
        turn = 2 * math.pi * k / 3
        out = r + span
        parts.append((BOX, _xyz(span, fin, 0.015, like=r), _xyz(out * math.cos(turn), fin, -out * math.sin(turn),
                      like=r), (0, turn, 0)))
    return parts


def house(u) -> list[Part]:
    w, h, d, chimney = u(0.4, 0.6), u(0.25, 0.4), u(0.35, 0.55), u(0.06, 0.1)
    roof = w / math.sqrt(2)
    return [(BOX, _xyz(w, h, d, like=w), _xyz(0.0, h, 0.0, like=w), (0, 0, 0)),
            (BOX, _xyz(roof, roof, d * 1.08, like=w), _xyz(0.0, 2 * h, 0.0, like=w), (0, 0, math.pi / 4)),
            (BOX, _xyz(chimney, 0.18, chimney, like=w), _xyz(w * 0.5, 2 * h + w * 0.55, -d * 0.4, like=w), (0, 0, 0)),
            (BOX, _xyz(w * 0.18, h * 0.45, 0.02, like=w), _xyz(-w * 0.4, h * 0.45, d, like=w), (0, 0, 0))]


def hammer(u) -> list[Part]:
    r, h, a, b, claw = u(0.04, 0.07), u(0.45, 0.75), u(0.12, 0.22), u(0.07, 0.12), u(0.15, 0.3)
    return [(CYLINDER, _xyz(r, h, 0.0, like=r), _xyz(0.0, h, 0.0, like=r), (0, 0, 0)),
            (BOX, _xyz(a, b, b, like=r), _xyz(a * 0.5, 2 * h, 0.0, like=r), (0, 0, 0)),
            (CONE, _xyz(b, claw, 0.02, like=r), _xyz(-a * 0.5 - claw, 2 * h, 0.0, like=r), (0, 0, HALF))]


def wheelbarrow(u) -> list[Part]:
    w, h, d, ring, tube = u(0.3, 0.45), u(0.12, 0.2), u(0.25, 0.35), u(0.12, 0.2), u(0.04, 0.07)
    handle = u(0.3, 0.45)
    return [(BOX, _xyz(w, h, d, like=w), _xyz(0.0, ring + h, 0.0, like=w), (0, 0, 0)),
            (TORUS, _xyz(ring, tube, 0.0, like=w), _xyz(w + ring * 0.5, ring, 0.0, like=w), (HALF, 0, 0)),
            (CYLINDER, _xyz(0.03, handle, 0.0, like=w), _xyz(-w - handle * 0.7, ring + h, d * 0.7, like=w),
             (0, 0, 1.2)),
            (CYLINDER, _xyz(0.03, handle, 0.0, like=w), _xyz(-w - handle * 0.7, ring + h, -d * 0.7, like=w),
             (0, 0, 1.2)),
            (CYLINDER, _xyz(0.03, ring * 0.5, 0.0, like=w), _xyz(-w * 0.7, ring * 0.5, 0.0, like=w), (0, 0, 0))]


CLASSES: dict[str, Callable] = {f.__name__: f for f in (table, chair, lamp, mushrooms, snowman, tree, mug, dumbbell,
                                                          rocket, house, hammer, wheelbarrow)}
"""The object classes, in label order: each a function from a uniform sampler ``u(lo, hi) -> [n]`` to its parts."""


def renderer() -> str:
    """What besides the card changes the pixels: the renderer and classes (``RENDERER``) and torch's
    float arithmetic. Part of the cache key, so an upgrade renders afresh."""
    return f"trace{RENDERER}-torch{torch.__version__}"


def split_generator(seed: int, split: str) -> torch.Generator:
    """The generator of one split's objects: independent of the other splits and of the view draws."""
    key = hashlib.sha256(f"shapes3d/{seed}/{split}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(key[:8], "little") >> 1)


BACKGROUND_SATURATION, BACKGROUND_VALUE = 0.6, 0.35  # a dark background: every lit part stays visible on it
LIGHT_TINT = 0.35  # the light's colour: white, a share LIGHT_TINT of it replaced by the pure hue


def hsv(turns: torch.Tensor, saturation: torch.Tensor | float, value: torch.Tensor | float) -> torch.Tensor:
    """RGB ``[n, 3]`` of hues ``turns`` (in [0, 1)) at a saturation and value (HSV)."""
    pure = ((turns[:, None] * 6 + torch.tensor([0.0, 4.0, 2.0], dtype=turns.dtype)) % 6 - 3).abs().sub(1).clamp(0, 1)
    if torch.is_tensor(saturation):
        saturation, value = saturation[:, None], value[:, None]
    return value * (1 - saturation * (1 - pure))


def background_colour(degrees: torch.Tensor) -> torch.Tensor:
    """The background's RGB ``[n, 3]`` at a hue in degrees."""
    return hsv(degrees.double() / 360.0, BACKGROUND_SATURATION, BACKGROUND_VALUE).float()


def light_colour(degrees: torch.Tensor) -> torch.Tensor:
    """The light's RGB ``[n, 3]`` at a hue in degrees: white tinted towards that hue."""
    return ((1 - LIGHT_TINT) + LIGHT_TINT * hsv(degrees.double() / 360.0, 1.0, 1.0)).float()


COLOURS = {"background": background_colour, "light": light_colour}
"""The colour each known colour factor of :meth:`Objects.hued` gives at a hue."""


def _colours(count: int, g: torch.Generator) -> torch.Tensor:
    """RGB ``[count, 3]`` from hue uniform, saturation in [0.45, 0.9], value in [0.55, 1] (HSV)."""
    hue, saturation, value = torch.rand(count, generator=g), 0.45 + 0.45 * torch.rand(count, generator=g), \
        0.55 + 0.45 * torch.rand(count, generator=g)
    return hsv(hue, saturation, value)


def draw(count: int, generator: torch.Generator, pixels: int) -> Objects:
    """``count`` objects of classes drawn uniformly, in their base pose, to be rendered at ``pixels``."""
    g = generator
    labels = torch.randint(len(CLASSES), (count,), generator=g)
    kind = torch.full((count, SLOTS), -1, dtype=torch.long)
    extent, centre = torch.zeros(count, SLOTS, 3), torch.zeros(count, SLOTS, 3)
    axes = torch.eye(3).repeat(count, SLOTS, 1, 1)
    for label, build in enumerate(CLASSES.values()):
        members = (labels == label).nonzero()[:, 0]
        n = len(members)
        parts = build(lambda lo, hi: lo + (hi - lo) * torch.rand(n, generator=g))
        for slot, (k, size, middle, turn) in enumerate(parts):
            kind[members, slot] = k
            extent[members, slot], centre[members, slot] = size, middle
            axes[members, slot] = to_matrix(from_euler(torch.tensor([turn], dtype=torch.float64))).float()
    colour = _colours(count * SLOTS, g).view(count, SLOTS, 3)
    return _normalised(Objects(kind, extent, centre, axes, colour, torch.eye(3, dtype=torch.float64).repeat(count, 1, 1),
                               torch.zeros(count, 3), torch.ones(count, 3), labels, pixels,
                               torch.full((count,), math.nan, dtype=torch.float64),
                               torch.full((count,), math.nan, dtype=torch.float64)))


def _normalised(objects: Objects) -> Objects:
    """Centred and scaled into the unit sphere. Each part lies both in its bounding sphere and in
    its box along its axes (:func:`~equibench.data.primitives.half_extents`); the object's centre is
    the middle of the box around both bounds of every part, its radius the farther of each part's
    two bounds, the nearer one taken."""
    used = objects.kind >= 0
    radius = bounding_radius(objects.kind, objects.extent)
    signs = torch.tensor([[x, y, z] for x in (-1.0, 1.0) for y in (-1.0, 1.0) for z in (-1.0, 1.0)])
    half = half_extents(objects.kind, objects.extent)
    corners = objects.centre[:, :, None] + tracing.matvec3(objects.axes[:, :, None], signs * half[:, :, None])
    lo = torch.maximum(objects.centre - radius[..., None], corners.amin(2))
    hi = torch.minimum(objects.centre + radius[..., None], corners.amax(2))
    middle = (torch.where(used[..., None], lo, math.inf).amin(1) + torch.where(used[..., None], hi, -math.inf).amax(1)) / 2
    centre = objects.centre - middle[:, None]
    reach = torch.minimum(length(*centre.unbind(-1)) + radius, length(*(corners - middle[:, None, None]).unbind(-1)).amax(2))
    scale = reach.masked_fill(~used, 0).amax(1)
    return replace(objects, centre=centre / scale[:, None, None], extent=objects.extent / scale[:, None, None])


def object_pools(sizes: Mapping[str, int], seed: int, pixels: int) -> dict[str, Objects]:
    """One pool per split, ``sizes[split]`` objects drawn from (seed, split)."""
    return {split: draw(count, split_generator(seed, split), pixels) for split, count in sizes.items()}
