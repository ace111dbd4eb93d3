"""Families of transformations: elements as parameter tensors, their law and their image action.

A batch of elements is a float64 tensor ``[n, p]`` of the family's parameters (named, with units,
in :attr:`Family.parameters`). ``compose(a, b)`` is the element "b, then a"
(``act(x, compose(a, b)) = act(act(x, b), a)``), so the element carrying view ``a . x`` to view
``b . x`` is ``relative(a, b) = compose(b, inverse(a))``. ``features`` turns elements into the
regression target and conditioning input of the metrics: every angle as (cos, sin), every other
parameter as it is.

The law holds exactly on the parameters of every family here; the image action is a group action
only up to what a finite frame of pixels loses. SO(3) (:class:`SO3`) acts on 3D objects, not on
images: its views are rendered (:mod:`equibench.data.shapes3d`). Rotation and zoom resample (content leaves the
frame at the corners, a zoom out then in loses resolution): *scale is not a group action on a
finite frame*, only on the plane. Translation on the torus is exact for whole pixels. Brightness
and saturation clip to [0, 1], which no inverse undoes. The cyclic datasets are the subgroups
{k 2 pi / N} of these (:class:`Cyclic`), acting through :mod:`equibench.transforms` exactly as
they always have, so that their data and numbers do not change.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from equibench.errors import ConfigError
from equibench.groups import images, quaternions
from equibench.transforms import Transformation


@dataclass(frozen=True)
class Parameter:
    """One parameter of an element: its name, its unit, and whether it is an angle (in degrees)."""

    name: str
    unit: str
    angle: bool = False


class Family(ABC):
    """A family of transformations of ``[B, C, H, W]`` images in [0, 1], elements ``[n, p]``."""

    kind: str
    parameters: tuple[Parameter, ...]
    needs_colour: bool = False
    exact: bool = False  # the image action is a permutation (no resampling, no clipping)
    acts_on_images: bool = True  # False: it acts on 3D objects, whose views are rendered (SO(3))
    interpolation: str = "bicubic"
    order: int | None = None  # finite families only

    def identity(self, n: int) -> torch.Tensor:
        return torch.zeros(n, len(self.parameters), dtype=torch.float64)

    @abstractmethod
    def compose(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The element "b, then a", row by row."""

    def inverse(self, a: torch.Tensor) -> torch.Tensor:
        return -a  # every abelian family here is parametrised additively

    def relative(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The element g with ``g . (a . x) = b . x``."""
        return self.compose(b, self.inverse(a))

    def features(self, elements: torch.Tensor, harmonics: int = 1) -> torch.Tensor:
        """``[n, F]``: each angle as (cos m a, sin m a) for m = 1..harmonics, each other parameter as
        it is."""
        columns = []
        for i, p in enumerate(self.parameters):
            value = elements[:, i].double()
            if not p.angle:
                columns.append(value)
                continue
            for m in range(1, harmonics + 1):
                columns += [torch.deg2rad(m * value).cos(), torch.deg2rad(m * value).sin()]
        return torch.stack(columns, dim=1)

    def conditioning(self, elements: torch.Tensor, harmonics: int) -> torch.Tensor:
        """``[n, F]``: the smooth functions of g that an operator fitted on g is linear in
        (:mod:`equibench.metrics.fitted`); here the features with ``harmonics`` harmonics."""
        return self.features(elements, harmonics)

    @property
    def sampled(self) -> tuple[Parameter, ...]:
        """What a card's ``[views.*]`` tables give intervals for: the parameters themselves, unless
        the family draws its elements another way (SO(3))."""
        return self.parameters

    def sampling_problem(self, ranges: dict[str, Sequence[Sequence[float]]]) -> str | None:
        """Why :meth:`sample` cannot draw from ``ranges`` (a ``[views.*]`` table), or None."""
        names = [p.name for p in self.sampled]
        for name in ranges:
            if name not in names:
                return f"{name!r} is not a parameter of {self.kind} ({', '.join(names)})"
        return None

    def sample(self, n: int, ranges: dict[str, Sequence[Sequence[float]]], generator: torch.Generator) -> torch.Tensor:
        """``n`` elements, each parameter uniform over the union of its intervals in ``ranges``
        (a parameter not named is 0)."""
        out = self.identity(n)
        for i, p in enumerate(self.parameters):
            if p.name in ranges:
                out[:, i] = uniform_union(n, ranges[p.name], generator)
        return out

    def quaternion(self, elements: torch.Tensor) -> torch.Tensor | None:
        """Each element ``[n, p]`` as a canonical unit quaternion ``[n, 4]`` where the family is a group of
        rotations (PRE compares the rotations of views by it), else None."""
        return None

    @abstractmethod
    def act(self, x: torch.Tensor, elements: torch.Tensor, smooth: bool = False) -> torch.Tensor:
        """``elements[b] . x[b]``; ``smooth``: bilinear and unclamped, for derivatives."""

    def describe(self) -> str:
        names = ", ".join(f"{p.name} ({p.unit})" for p in self.parameters)
        return f"{self.kind}: {names}"


def intervals_of(ranges: Sequence[Sequence[float]] | Sequence[float]) -> list[tuple[float, float]]:
    """A card's ``[lo, hi]`` or ``[[lo, hi], ...]`` as a list of pairs."""
    pairs = [ranges] if len(ranges) == 2 and not isinstance(ranges[0], Sequence) else ranges
    return [(float(lo), float(hi)) for lo, hi in pairs]


def uniform_union(n: int, intervals: Sequence[Sequence[float]], generator: torch.Generator) -> torch.Tensor:
    """``n`` draws uniform over a union of disjoint intervals ``[[lo, hi], ...]`` (or one ``[lo, hi]``)."""
    intervals = intervals_of(intervals)
    lows = torch.tensor([float(i[0]) for i in intervals], dtype=torch.float64)
    widths = torch.tensor([float(i[1]) - float(i[0]) for i in intervals], dtype=torch.float64)
    which = torch.multinomial(widths, n, replacement=True, generator=generator)
    return lows[which] + widths[which] * torch.rand(n, generator=generator, dtype=torch.float64)


def wrap_degrees(d: torch.Tensor) -> torch.Tensor:
    """Angles in [-180, 180)."""
    return torch.remainder(d + 180.0, 360.0) - 180.0


def _turn_in_view(degrees: torch.Tensor) -> torch.Tensor:
    """Canonical quaternions of turns by ``degrees`` about the viewing axis (z)."""
    axis = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64).expand(len(degrees), 3)
    return quaternions.from_axis_angle(axis, torch.deg2rad(degrees.double()))


class Abelian(Family):
    """A family whose law adds parameters (angles modulo 360 degrees)."""

    def compose(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out = a + b
        for i, p in enumerate(self.parameters):
            if p.angle:
                out[:, i] = wrap_degrees(out[:, i])
        return out


class Rotation(Abelian):
    """SO(2): rotation about the image centre by any angle, counter-clockwise on screen."""

    kind = "so2"
    parameters = (Parameter("angle", "degrees", angle=True),)

    def quaternion(self, elements):
        return _turn_in_view(elements[:, 0])

    def act(self, x, elements, smooth=False):
        zero = torch.zeros(len(x), dtype=torch.float64)
        return images.similarity(x, elements[:, 0], zero, torch.zeros(len(x), 2, dtype=torch.float64), smooth)


class Translation(Abelian):
    """Translation by (dx, dy) pixels (x right, y down): on the torus (exact for whole pixels, linear
    between them) or in the plane (resampled, zero fill: content that leaves the frame is lost)."""

    parameters = (Parameter("dx", "pixels"), Parameter("dy", "pixels"))

    def __init__(self, torus: bool) -> None:
        self.torus = torus
        self.kind = "torus" if torus else "translation"
        self.interpolation = "linear" if torus else "bicubic"

    def act(self, x, elements, smooth=False):
        if self.torus:
            return images.torus_shift(x, elements)
        zero = torch.zeros(len(x), dtype=torch.float64)
        return images.similarity(x, zero, zero, elements, smooth)


class Scale(Abelian):
    """Zoom about the centre by exp(log_scale): a group on the plane, not on a finite frame (a zoom
    out then in loses resolution, a zoom in loses the border)."""

    kind = "scale"
    parameters = (Parameter("log_scale", "natural log of the zoom factor"),)

    def act(self, x, elements, smooth=False):
        zero = torch.zeros(len(x), dtype=torch.float64)
        return images.similarity(x, zero, elements[:, 0], torch.zeros(len(x), 2, dtype=torch.float64), smooth)


class Hue(Abelian):
    """Hue rotation by any angle (HSV); exact up to float rounding, grey pixels fixed."""

    kind = "hue"
    parameters = (Parameter("hue", "degrees", angle=True),)
    needs_colour = True
    interpolation = "none"

    def act(self, x, elements, smooth=False):
        return images.hue_shift(x, elements[:, 0])


class Brightness(Abelian):
    """Brightness by a factor exp(log_brightness), clipped to [0, 1] (clipping breaks the inverse)."""

    kind = "brightness"
    parameters = (Parameter("log_brightness", "natural log of the factor"),)
    interpolation = "none"

    def act(self, x, elements, smooth=False):
        return images.brightness(x, elements[:, 0])


class Saturation(Abelian):
    """Saturation by a factor exp(log_saturation) about each pixel's grey, clipped to [0, 1]."""

    kind = "saturation"
    parameters = (Parameter("log_saturation", "natural log of the factor"),)
    needs_colour = True
    interpolation = "none"

    def act(self, x, elements, smooth=False):
        return images.saturation(x, elements[:, 0])


class Similarity(Family):
    """Rotation, zoom and translation of the plane: x -> exp(s) R(angle) x + (dx, dy). Not abelian:
    a later rotation and zoom also turn and stretch an earlier translation."""

    kind = "similarity"
    parameters = (Parameter("angle", "degrees", angle=True), Parameter("log_scale", "natural log of the zoom factor"),
                  Parameter("dx", "pixels"), Parameter("dy", "pixels"))

    @staticmethod
    def _linear(e: torch.Tensor) -> torch.Tensor:
        """The linear part exp(s) R of each element, as it moves pixel offsets (y down)."""
        return images.rotation_matrices(-torch.deg2rad(e[:, 0])) * torch.exp(e[:, 1])[:, None, None]

    def compose(self, a, b):
        shift = (self._linear(a) @ b[:, 2:, None])[:, :, 0] + a[:, 2:]
        return torch.cat([wrap_degrees(a[:, :1] + b[:, :1]), a[:, 1:2] + b[:, 1:2], shift], dim=1)

    def inverse(self, a):
        inverse_linear = torch.linalg.inv(self._linear(a))
        return torch.cat([-a[:, :2], -(inverse_linear @ a[:, 2:, None])[:, :, 0]], dim=1)

    def quaternion(self, elements):
        """The turn alone, as a product's rotation factor: PRE compares the views' turns, whatever
        their zoom and shift (the angle adds under composition, so this is a homomorphism)."""
        return _turn_in_view(elements[:, 0])

    def act(self, x, elements, smooth=False):
        return images.similarity(x, elements[:, 0], elements[:, 1], elements[:, 2:], smooth)


class SO3(Family):
    """Rotations of 3D space, elements the unit quaternions (w, x, y, z) with w >= 0.

    q and -q are the same rotation; an element is stored canonical (w >= 0, see
    :func:`~equibench.groups.quaternions.canonical`) so that one rotation has one row, and its
    features, the regression target of the relative rotation, are that quaternion (3DIEBench's
    target; SIE leaves the sign as it falls, which makes the target of one rotation ambiguous).
    An operator fitted on g is conditioned on the rotation matrix instead (:meth:`conditioning`):
    the canonical quaternion jumps where w changes sign, the matrix is smooth on SO(3).

    A card draws elements one of two ways (:meth:`sample`): ``angle`` (degrees, intervals within
    [0, 180]) is uniform on SO(3), the Haar measure, kept to rotations whose angle lies in the
    intervals (``[0, 180]`` is all of SO(3)); ``euler_x``, ``euler_y``, ``euler_z`` (degrees) draw
    each Euler angle uniformly over its intervals (0 where not named), 3DIEBench's scheme with each
    in [-90, 90]. The group acts on 3D objects, not on images: ``act(x, g)`` is
    ``x.rotated(matrices)`` for any x that can be rotated (:class:`equibench.data.shapes3d.Objects`),
    and its views are rendered.
    """

    kind = "so3"
    parameters = (Parameter("w", "unit quaternion, w >= 0"), Parameter("x", "unit quaternion"),
                  Parameter("y", "unit quaternion"), Parameter("z", "unit quaternion"))
    interpolation = "none"  # every view is rendered from the object, none resampled
    acts_on_images = False
    ANGLE = Parameter("angle", "degrees: uniform on SO(3), the rotation angle kept within the intervals", angle=True)
    EULER = tuple(Parameter(f"euler_{axis}", f"degrees about the fixed {axis} axis (R = R_z R_y R_x)", angle=True)
                  for axis in "xyz")

    @property
    def sampled(self):
        return (self.ANGLE, *self.EULER)

    def identity(self, n):
        return torch.tensor([[1.0, 0.0, 0.0, 0.0]], dtype=torch.float64).repeat(n, 1)

    def compose(self, a, b):
        return quaternions.multiply(a, b)

    def inverse(self, a):
        return quaternions.conjugate(a)

    def features(self, elements, harmonics=1):
        """The canonical quaternion (no angles, so no harmonics)."""
        return quaternions.canonical(elements.double())

    def quaternion(self, elements):
        return quaternions.canonical(elements.double())

    def conditioning(self, elements, harmonics):
        """The 9 entries of the rotation matrix, the representation of degree 1 (the first harmonic
        on SO(3)), whatever ``harmonics`` is: degree 2 would add 25 functions, so 3.5 times as many
        coefficient maps for the ridge regression to fit."""
        return quaternions.to_matrix(elements.double()).flatten(1)

    def sampling_problem(self, ranges):
        problem = super().sampling_problem(ranges)
        if problem is None and "angle" in ranges and any(name.startswith("euler") for name in ranges):
            problem = "draws either by 'angle' (uniform on SO(3)) or by Euler angles, not both"
        if problem is None and any(not 0 <= lo < hi <= 180 for lo, hi in intervals_of(ranges.get("angle", []))):
            problem = "'angle' intervals must lie within [0, 180] degrees (the angle of a rotation)"
        return problem

    def sample(self, n, ranges, generator):
        """``angle``: the Haar measure restricted to rotation angles in the intervals (the angle by
        inverting its CDF over the union of the intervals' images, the axis uniform on the sphere);
        else the Euler angles ``euler_x``, ``euler_y``, ``euler_z``, each uniform over its intervals."""
        if "angle" in ranges:
            cdf = [[float(quaternions.haar_angle_cdf(torch.tensor(math.radians(v), dtype=torch.float64)))
                    for v in pair] for pair in intervals_of(ranges["angle"])]
            angle = quaternions.haar_angle(uniform_union(n, cdf, generator))
            height = 2 * torch.rand(n, generator=generator, dtype=torch.float64) - 1
            turn = 2 * math.pi * torch.rand(n, generator=generator, dtype=torch.float64)
            ring = (1 - height ** 2).sqrt()
            axis = torch.stack([ring * turn.cos(), ring * turn.sin(), height], dim=1)
            return quaternions.from_axis_angle(axis, angle)
        euler = torch.zeros(n, 3, dtype=torch.float64)
        for i, p in enumerate(self.EULER):
            if p.name in ranges:
                euler[:, i] = uniform_union(n, ranges[p.name], generator)
        return quaternions.from_euler(torch.deg2rad(euler))

    def matrix(self, elements: torch.Tensor) -> torch.Tensor:
        """The rotation matrices ``[n, 3, 3]`` of the elements (acting on column vectors)."""
        return quaternions.to_matrix(elements.double())

    def act(self, x, elements, smooth=False):
        """``x`` rotated by each element: x is a batch of 3D objects with ``rotated(matrices)``."""
        return x.rotated(self.matrix(elements))

    def describe(self):
        return (f"{self.kind}: rotation as a unit quaternion (w, x, y, z), w >= 0; drawn by {self.ANGLE.name} or "
                f"{', '.join(p.name for p in self.EULER)} (degrees)")


class ObjectHue(Abelian):
    """A known colour factor of rendered 3D objects (3DIEBench varies the floor's and the light's
    colour): the hue of the background or of the light, an angle in degrees, acting additively
    (:meth:`equibench.data.shapes3d.Objects.hued`). An object as drawn has no such colour (a black
    background, a white light); its first turn gives it the hue of that element, so every view of a
    card with this factor is coloured, hue 0 at the identity."""

    interpolation = "none"
    acts_on_images = False

    def __init__(self, factor: str) -> None:
        self.kind = factor
        self.parameters = (Parameter(f"{factor}_hue", f"degrees of hue of the {factor}", angle=True),)

    def act(self, x, elements, smooth=False):
        return x.hued(self.kind, elements[:, 0])


class Product(Family):
    """Direct product of families whose actions commute (rotation with hue; a 3D turn with the
    background's and the light's hues): each factor acts on, draws and describes its own parameters."""

    def __init__(self, factors: Sequence[Family]) -> None:
        self.factors = list(factors)
        self.kind = "+".join(f.kind for f in self.factors)
        self.parameters = tuple(p for f in self.factors for p in f.parameters)
        self.needs_colour = any(f.needs_colour for f in self.factors)
        self.acts_on_images = all(f.acts_on_images for f in self.factors)
        self.interpolation = "bicubic" if any(f.interpolation == "bicubic" for f in self.factors) else "none"

    def _split(self, e: torch.Tensor) -> list[torch.Tensor]:
        return list(e.split([len(f.parameters) for f in self.factors], dim=1))

    def identity(self, n):
        return torch.cat([f.identity(n) for f in self.factors], dim=1)

    def compose(self, a, b):
        return torch.cat([f.compose(x, y) for f, x, y in zip(self.factors, self._split(a), self._split(b))], dim=1)

    def inverse(self, a):
        return torch.cat([f.inverse(x) for f, x in zip(self.factors, self._split(a))], dim=1)

    def features(self, elements, harmonics=1):
        return torch.cat([f.features(x, harmonics) for f, x in zip(self.factors, self._split(elements))], dim=1)

    def conditioning(self, elements, harmonics):
        return torch.cat([f.conditioning(x, harmonics) for f, x in zip(self.factors, self._split(elements))], dim=1)

    def quaternion(self, elements):
        """The rotation of the one factor that is a rotation group (so2+hue, so3+background+light), so
        that PRE compares the views' poses alone; None where no factor, or more than one, is."""
        turns = [q for f, x in zip(self.factors, self._split(elements)) if (q := f.quaternion(x)) is not None]
        return turns[0] if len(turns) == 1 else None

    @property
    def sampled(self):
        return tuple(p for f in self.factors for p in f.sampled)

    def _ranges_of(self, family: Family, ranges: dict[str, Sequence[Sequence[float]]]) -> dict:
        names = {p.name for p in family.sampled}
        return {name: value for name, value in ranges.items() if name in names}

    def sampling_problem(self, ranges):
        return super().sampling_problem(ranges) or next(
            (problem for f in self.factors if (problem := f.sampling_problem(self._ranges_of(f, ranges)))), None)

    def sample(self, n, ranges, generator):
        return torch.cat([f.sample(n, self._ranges_of(f, ranges), generator) for f in self.factors], dim=1)

    def act(self, x, elements, smooth=False):
        for family, part in zip(self.factors, self._split(elements)):
            x = family.act(x, part, smooth)
        return x

    def describe(self):
        return "; ".join(f.describe() for f in self.factors)


class Cyclic(Family):
    """The cyclic subgroup {k 2 pi / N} of a family, as the cyclic datasets use it: the parameter is
    the step k, and the action is the cyclic :class:`~equibench.transforms.Transformation` itself
    (so the orbit datasets keep every byte). ``embed`` gives the same elements in the continuous
    family's parameters, where one exists."""

    def __init__(self, transformation: Transformation) -> None:
        self.transformation = transformation
        self.order = transformation.order
        self.kind = transformation.kind
        self.parameters = (Parameter("k", f"steps of 1/{self.order} of the cycle"),)
        self.needs_colour = transformation.needs_colour
        self.exact = transformation.exact
        self.interpolation = transformation.interpolation

    def compose(self, a, b):
        return torch.remainder(a + b, self.order)

    def inverse(self, a):
        return torch.remainder(-a, self.order)

    def features(self, elements: torch.Tensor, harmonics: int = 1) -> torch.Tensor:
        """The angles of the steps k, 2k, ..., ``harmonics`` k as :func:`cyclic_features`."""
        steps = elements.reshape(-1)
        return torch.cat([cyclic_features(m * steps, self.order, self.transformation.factors)
                          for m in range(1, harmonics + 1)], dim=1)

    def act(self, x, elements, smooth=False):
        return self.transformation.apply(x, elements.reshape(-1).long())

    def embed(self, elements: torch.Tensor) -> torch.Tensor:
        """The elements as those of the continuous family (rotation and hue: degrees)."""
        degrees = wrap_degrees(elements.double() * 360.0 / self.order)
        return degrees.repeat(1, self.transformation.factors)


def cyclic_features(steps: torch.Tensor, order: int, factors: int) -> torch.Tensor:
    """The angle 2 pi k / N of each step k as (cos, sin), once per factor of a cyclic transformation
    (2 for rotation together with hue): ``[n, 2 * factors]``."""
    angle = 2 * math.pi * steps.double() / order
    return torch.stack([angle.cos(), angle.sin()] * factors, dim=1)


GENERATORS = ("rot", "tx", "ty", "scale", "hue")  # the one-parameter subgroups of the Lie derivative


def flow(name: str, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``exp(t X) . x`` along the one-parameter subgroup ``name`` of :data:`GENERATORS`, smooth
    (bilinear, unclamped) so that forward-mode autodiff can follow t: radians for ``rot`` and
    ``hue`` (hue as the rotation of RGB about the grey axis), pixels for ``tx`` (right) and ``ty``
    (down), the natural log of the zoom for ``scale``."""
    t = t.expand(len(x))
    zero = torch.zeros_like(t)
    if name == "hue":
        return images.grey_axis_rotation(x, t)
    shift = {"tx": (t, zero), "ty": (zero, t)}.get(name, (zero, zero))
    angle = torch.rad2deg(t) if name == "rot" else zero
    return images.similarity(x, angle, t if name == "scale" else zero, torch.stack(shift, dim=1), smooth=True)


FAMILIES = {"so2": lambda: Rotation(), "translation": lambda: Translation(torus=False),
            "torus": lambda: Translation(torus=True), "scale": lambda: Scale(), "hue": lambda: Hue(),
            "brightness": lambda: Brightness(), "saturation": lambda: Saturation(),
            "similarity": lambda: Similarity(), "so3": lambda: SO3(),
            "background": lambda: ObjectHue("background"), "light": lambda: ObjectHue("light")}


def build_family(kind: str) -> Family:
    """A family by its card name; ``a+b`` is the direct product (for actions that commute)."""
    names = kind.split("+")
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise ConfigError(f"unknown group family {unknown[0]!r}; use one of {', '.join(FAMILIES)} or a+b")
    families = [FAMILIES[n]() for n in names]
    if len({f.acts_on_images for f in families}) > 1:
        raise ConfigError(f"{kind!r}: a family that acts on 3D objects (so3, background, light) combines only with "
                          "others of its kind, e.g. 'so3+background+light'")
    if len(set(names)) < len(names):
        raise ConfigError(f"{kind!r} names a family twice; name each once")
    return families[0] if len(families) == 1 else Product(families)
