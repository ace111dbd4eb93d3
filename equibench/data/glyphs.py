"""Procedural digit glyphs: an embedded source large enough to train on, with no network and no data files.

scikit-learn's 1,797 digits are too few to train the TVAE the way its paper does (48,000
sequences), and MNIST needs a download. So the digits are drawn instead, from the fonts that
matplotlib ships, each sample with its own stroke width, slant, aspect, rotation jitter, elastic
distortion and pen pressure.

Why it is built this way:

- Each face's digits are rasterised once with Pillow at high resolution and turned into a
  *signed distance field* (SDF), stored as tiles of one atlas image. A sample is then one bilinear
  lookup of the SDF at the warped output pixel centres, for a whole chunk of samples in a single
  ``grid_sample`` call: stroke width becomes a per-sample threshold on the distance (thicker or
  thinner strokes at no extra cost) and a one-pixel linear ramp around it antialiases the edge.
  The threshold varies linearly across the glyph (pen pressure, :class:`Pen`), so that glyphs a
  face draws symmetric under a half turn (0, 8) are not drawn so.
- The warp (rotation jitter, slant, aspect) is linear; its scale is chosen per sample from the
  glyph's convex hull so that the ink fills the same 18x18 box centred on a 28x28 canvas as the
  ``digits`` source does, within a disc (:data:`RADIUS`) that holds it grown by the stroke offset
  (pen pressure included) and the largest elastic displacement: every rotation of a base image
  stays in the frame.
- Faces are split: ``train`` and ``fit`` are drawn from :data:`TRAIN_FACES`, ``test`` from
  :data:`HELD_OUT_FACES`, so scores on ``test`` (the label probe fitted on ``fit`` above all)
  measure generalisation to faces never seen.
- Every random number comes from a ``torch.Generator`` seeded from (seed, split), never from a
  global RNG. The pixels also depend on the font files (matplotlib's version) and on FreeType's
  rasteriser (Pillow's build); both versions go into each run record's provenance.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from equibench.data.sources import CANVAS, DIGIT_BOX, BaseImages
from equibench.errors import ConfigError

FACE_DIR = "fonts/ttf"  # under matplotlib.get_data_path()
TRAIN_FACES = (
    "DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-BoldOblique",
    "DejaVuSerif", "DejaVuSerif-BoldItalic", "DejaVuSerif-Italic",
    "DejaVuSansMono-Bold", "DejaVuSansMono-BoldOblique", "DejaVuSansMono-Oblique",
    "STIXGeneral", "STIXGeneralBol", "STIXGeneralBolIta",
    "cmr10", "cmb10", "cmti10", "cmtt10", "cmmi10",
)
HELD_OUT_FACES = ("DejaVuSans-Oblique", "DejaVuSerif-Bold", "DejaVuSansMono", "STIXGeneralItalic", "cmss10")
"""One face of each family (DejaVu Sans, Serif, Sans Mono, STIX, Computer Modern) is kept for ``test``.
Left out altogether: DejaVu*Display, STIXNonUni* and STIXSiz* (no digits), LastResortHE (a
placeholder box for every character), cmex10 and cmsy10 (symbols at the digits' code points)."""

SPLIT_FACES = {"train": TRAIN_FACES, "fit": TRAIN_FACES, "test": HELD_OUT_FACES, "test_ood": HELD_OUT_FACES}

FONT_PX = 96  # rasterisation size: digits about 70 px high, so the SDF is accurate to well under an output pixel
TILE = 160  # atlas tile around each glyph; its border is far enough from the ink to read as background
CHUNK = 1000  # samples per grid_sample call
GENERATION = 3  # bump when the drawing changes (2: pen pressure, and the ink fills the digits' box;
# 3: narrower aspects, and the pen always pressed: docs/glyphs.md)


@dataclass(frozen=True)
class Distortion:
    """Ranges of the per-sample parameters, each drawn uniformly."""

    slant: float = 0.3  # horizontal shear x -= slant * y (y down), in [-slant, slant]
    log_aspect: float = 0.15  # width scaled by exp(u), u in [-log_aspect, log_aspect]
    jitter_degrees: float = 12.0  # rotation in [-jitter, jitter]
    stroke_px: tuple[float, float] = (-0.15, 1.0)  # edge offset, output pixels (cmr10's hairlines are under 1)
    elastic_px: float = 2.0  # largest displacement of the elastic warp, output pixels, per axis
    elastic_grid: int = 5  # the elastic field is a random grid this coarse, upsampled bicubically
    pressure_px: tuple[float, float] = (0.5, 1.5)  # pen pressure: the edge offset grows by this towards one side
    # (below); by default never 0, so the pen breaks a printed face's half-turn symmetry in every glyph

    def __post_init__(self) -> None:
        """Ranges that would break the fit's bound on the ink (a negative amplitude, a stroke range
        upside down) are refused, and so is a range that is not two numbers."""
        for name in ("stroke_px", "pressure_px"):
            value = getattr(self, name)
            if not (isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)):
                raise ConfigError(f"glyph distortion {name}={value!r}: give it as (lowest, highest), e.g. (0.5, 1.5)")
        if min(self.slant, self.log_aspect, self.jitter_degrees, self.elastic_px, *self.pressure_px) < 0:
            raise ConfigError(f"glyph distortion {self}: every amplitude must be >= 0")
        if self.stroke_px[0] > self.stroke_px[1] or self.pressure_px[0] > self.pressure_px[1] or self.elastic_grid < 2:
            raise ConfigError(f"glyph distortion {self}: give stroke_px and pressure_px as (lowest, highest) "
                              "and elastic_grid >= 2")


DISTORTION = Distortion()
UNDISTORTED = Distortion(slant=0.0, log_aspect=0.0, jitter_degrees=0.0, stroke_px=(0.0, 0.0), elastic_px=0.0,
                         pressure_px=(0.0, 0.0))  # each face's own digit, only fitted into the box
RADIUS = 13.0
"""Output pixels from the canvas centre that a glyph's ink, every margin included, stays within: a
turn about the centre keeps the disc inside the 28x28 frame, a pixel from its edge, for bicubic
resampling to read nothing but background beyond it."""


@dataclass(frozen=True)
class Atlas:
    """Signed distance fields of every face's digits, as tiles of one image.

    ``sdf`` is ``[1, 1, rows * TILE, cols * TILE]`` in atlas pixels (negative inside the ink);
    glyph ``g = face * 10 + digit`` has its tile's top left corner at ``corner[g]``, the centre of
    its ink's bounding box at ``origin[g]`` (x, y atlas pixels) and the convex hull of its ink,
    relative to that centre, in ``hull[g]`` ``[K, 2]`` (padded by repeating a vertex).
    """

    faces: tuple[str, ...]
    sdf: torch.Tensor
    corner: torch.Tensor
    origin: torch.Tensor
    hull: torch.Tensor


def face_path(face: str) -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / FACE_DIR / f"{face}.ttf"


def _rasterise(face: str, digit: int) -> np.ndarray:
    """The digit's coverage in [0, 1], cropped to a TILE x TILE square centred on its ink."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(face_path(face)), FONT_PX, layout_engine=ImageFont.Layout.BASIC)
    canvas = Image.new("L", (2 * TILE, 2 * TILE), 0)
    ImageDraw.Draw(canvas).text((TILE, TILE), str(digit), font=font, fill=255, anchor="mm")
    ink = np.asarray(canvas, dtype=np.float32) / 255.0
    ys, xs = np.nonzero(ink >= 0.5)
    cy, cx = (ys.min() + ys.max() + 1) // 2, (xs.min() + xs.max() + 1) // 2
    half = TILE // 2
    tile = ink[cy - half: cy + half, cx - half: cx + half]
    if tile.shape != (TILE, TILE) or tile[[0, -1]].any() or tile[:, [0, -1]].any():
        raise RuntimeError(f"glyph {digit!r} of {face} does not fit a {TILE}-pixel tile")
    return tile


def _signed_distance(coverage: np.ndarray) -> np.ndarray:
    """Distance to the ink's edge in pixels, negative inside (ink = coverage >= 0.5)."""
    from scipy.ndimage import distance_transform_edt

    inside = coverage >= 0.5
    return (distance_transform_edt(~inside) - distance_transform_edt(inside)).astype(np.float32)


def _hull(coverage: np.ndarray) -> np.ndarray:
    """Convex hull of the ink's pixel squares, in (x, y) pixel-edge coordinates of the tile."""
    from scipy.spatial import ConvexHull

    ys, xs = np.nonzero(coverage >= 0.5)
    corners = np.concatenate([np.stack([xs + dx, ys + dy], 1) for dx in (0, 1) for dy in (0, 1)])
    return corners[ConvexHull(corners).vertices].astype(np.float32)


@functools.cache
def atlas(faces: tuple[str, ...] = TRAIN_FACES + HELD_OUT_FACES) -> Atlas:
    """Rasterise every digit of ``faces`` once (about a second); cached for the process."""
    cols = 16
    count = 10 * len(faces)
    rows = math.ceil(count / cols)
    sdf = np.full((rows * TILE, cols * TILE), TILE, dtype=np.float32)
    corners, origin, hulls = [], [], []
    for g in range(count):
        coverage = _rasterise(faces[g // 10], g % 10)
        top, left = (g // cols) * TILE, (g % cols) * TILE
        sdf[top: top + TILE, left: left + TILE] = _signed_distance(coverage)
        hull = _hull(coverage)
        lo, hi = hull.min(0), hull.max(0)
        centre = (lo + hi) / 2
        corners.append((left, top))
        origin.append(centre + (left, top))
        hulls.append(hull - centre)
    size = max(len(h) for h in hulls)
    hull = np.stack([np.concatenate([h, h[:1].repeat(size - len(h), 0)]) for h in hulls])
    return Atlas(tuple(faces), torch.from_numpy(sdf)[None, None], torch.tensor(corners, dtype=torch.float32),
                 torch.from_numpy(np.stack(origin).astype(np.float32)), torch.from_numpy(hull))


def renderer() -> str:
    """What besides the card changes the pixels: how this module draws (:data:`GENERATION`), the font
    files (matplotlib's version) and the rasteriser (Pillow and its FreeType). Part of the cache
    key, so a change or an upgrade draws afresh."""
    import matplotlib
    import PIL
    from PIL import features

    return f"g{GENERATION}-mpl{matplotlib.__version__}-pil{PIL.__version__}-ft{features.version('freetype2')}"


def split_generator(seed: int, split: str) -> torch.Generator:
    """The generator of one split's glyphs: independent of the other splits and of the orbit draws."""
    key = hashlib.sha256(f"glyphs/{seed}/{split}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(key[:8], "little") >> 1)


def _uniform(count: int, lo: float, hi: float, g: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(count, generator=g)


def draw(faces: Sequence[str], count: int, generator: torch.Generator,
         distortion: Distortion | None = None) -> BaseImages:
    """``count`` distorted glyphs of ``faces`` (uint8 ``[count, 1, 28, 28]``) and their digits.

    All parameters are drawn first, in a fixed order, so the pixels depend only on the generator's
    state, not on the chunking.
    """
    book = atlas()
    distortion = distortion or DISTORTION  # the module's, as it is at the call
    atlas_face = torch.tensor([book.faces.index(f) for f in faces])
    d, g = distortion, generator
    face = atlas_face[torch.randint(0, len(faces), (count,), generator=g)]
    digit = torch.randint(0, 10, (count,), generator=g)
    slant = _uniform(count, -d.slant, d.slant, g)
    aspect = _uniform(count, -d.log_aspect, d.log_aspect, g).exp()
    angle = torch.deg2rad(_uniform(count, -d.jitter_degrees, d.jitter_degrees, g))
    stroke = _uniform(count, *d.stroke_px, g)
    amplitude = _uniform(count, 0.0, d.elastic_px, g)
    field = _uniform(count * 2 * d.elastic_grid ** 2, -1.0, 1.0, g).view(count, 2, d.elastic_grid, d.elastic_grid)
    pressure = _uniform(count, *d.pressure_px, g)
    heading = _uniform(count, 0.0, 2 * math.pi, g)  # the direction in which strokes thicken
    glyph = face * 10 + digit

    images = torch.empty(count, 1, CANVAS, CANVAS, dtype=torch.uint8)
    for lo in range(0, count, CHUNK):
        part = slice(lo, lo + CHUNK)
        linear = _linear_map(slant[part], aspect[part], angle[part])
        pen = Pen(stroke[part], pressure[part], heading[part], d.stroke_px[0])
        ink = _render(book, glyph[part], linear, pen, amplitude[part], field[part])
        images[part] = ink.mul_(255).round_().to(torch.uint8)
    return BaseImages(images, digit)


def _linear_map(slant: torch.Tensor, aspect: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """L = rotation(angle) @ shear(slant) @ diag(aspect, 1), ``[B, 2, 2]`` acting on (x, y) columns."""
    cos, sin, one, zero = angle.cos(), angle.sin(), torch.ones_like(angle), torch.zeros_like(angle)
    rotation = torch.stack([cos, -sin, sin, cos], 1).view(-1, 2, 2)
    shear = torch.stack([one, -slant, zero, one], 1).view(-1, 2, 2)
    stretch = torch.stack([aspect, zero, zero, one], 1).view(-1, 2, 2)
    return rotation @ shear @ stretch


@dataclass(frozen=True)
class Pen:
    """How thick each sample's strokes are: the edge moves out by ``stroke`` output pixels at the
    canvas centre, and by ``pressure`` more (less) at the box's edge in the direction ``heading``
    (opposite it), linearly across the glyph and never to less than ``thinnest``.

    A printed face draws strokes of the same weight on opposite sides of a 0 or an 8, and every
    linear warp keeps that symmetry under a half turn; only the elastic warp breaks it, by at most
    2 px per axis. A pen pressed harder on one side breaks it as handwriting does, and it is always
    pressed (``pressure`` at least 0.5 px by default): a light one left zeros nearly symmetric
    (docs/glyphs.md measures what both do to the TVAE)."""

    stroke: torch.Tensor
    pressure: torch.Tensor
    heading: torch.Tensor
    thinnest: float

    def offset(self, q: torch.Tensor) -> torch.Tensor:
        """The edge offset where output points read the glyph, ``q[B, H, W, (x, y)]`` (pixel centres
        moved by the elastic warp), ``[B, 1, H, W]``."""
        towards = torch.stack([self.heading.cos(), self.heading.sin()], 1)[:, None, None, :]
        along = ((q - CANVAS / 2) * towards).sum(-1).div(DIGIT_BOX / 2).clamp(-1.0, 1.0)  # -1..1 across the box
        return (self.stroke[:, None, None] + self.pressure[:, None, None] * along).clamp(min=self.thinnest)[:, None]


def _render(book: Atlas, glyph: torch.Tensor, linear: torch.Tensor, pen: Pen,
            amplitude: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """Ink in [0, 1], ``[B, 1, 28, 28]``: the SDF sampled at p = L^-1((q + d(q) - C) / s + c).

    q is an output pixel centre, d the elastic displacement (``|d_x|, |d_y| <= amplitude``), C the
    canvas centre, c the centre of L(hull)'s bounding box and s the scale that fits L(hull) into the
    18x18 box, as the ``digits`` source fills it, unless that would take L(hull), grown by the
    margin, beyond :data:`RADIUS`: then the largest scale that keeps it within. Ink is
    ``clamp(0.5 + o - s * sdf, 0, 1)``: the edge moves out by the pen's offset o (:class:`Pen`) and
    is a one-pixel linear ramp.
    """
    b = len(glyph)
    hull = book.hull[glyph] @ linear.transpose(1, 2)  # [B, K, 2]
    lo, hi = hull.amin(1), hull.amax(1)
    centre = (lo + hi) / 2
    # Dilating by r atlas pixels moves L(ink) by at most sigma_max(L) r; the ramp adds half a pixel.
    spread = torch.linalg.matrix_norm(linear, ord=2)
    margin = math.sqrt(2) * amplitude + spread * (pen.stroke + pen.pressure + 0.5).clamp(min=0)
    room = RADIUS - margin
    if (room < RADIUS / 3).any():
        raise ConfigError(f"distortion too strong: its margins leave {room.min():.1f} of the {RADIUS:g} px radius "
                          "for the glyph; use smaller stroke, elastic or pressure amplitudes")
    reach = (hull - centre[:, None, :]).norm(dim=-1).amax(1)
    scale = torch.minimum((DIGIT_BOX / (hi - lo)).amin(1), room / reach)

    axis = torch.arange(CANVAS, dtype=torch.float32) + 0.5
    q = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1)  # [28, 28, (x, y)]
    d = F.interpolate(field, size=(CANVAS, CANVAS), mode="bicubic", align_corners=True).clamp_(-1, 1)
    q = q + amplitude[:, None, None, None] * d.permute(0, 2, 3, 1)
    u = (q - CANVAS / 2) / scale[:, None, None, None] + centre[:, None, None, :]
    p = u.view(b, -1, 2) @ torch.linalg.inv(linear).transpose(1, 2)
    at = p + book.origin[glyph][:, None, :]
    corner = book.corner[glyph][:, None, :]
    at = torch.minimum(torch.maximum(at, corner + 1), corner + TILE - 1)  # stay in the glyph's tile
    height, width = book.sdf.shape[-2:]
    grid = at / torch.tensor([width, height]) * 2 - 1
    sdf = F.grid_sample(book.sdf, grid.view(1, b * CANVAS, CANVAS, 2), mode="bilinear", align_corners=False)
    ink = 0.5 + pen.offset(q) - scale[:, None, None, None] * sdf.view(b, 1, CANVAS, CANVAS)
    return ink.clamp_(0.0, 1.0)


def glyph_pools(sizes: Mapping[str, int], seed: int, distortion: Distortion | None = None) -> dict[str, BaseImages]:
    """One pool per split, ``sizes[split]`` glyphs of the split's faces (:data:`SPLIT_FACES`), drawn
    with ``distortion`` or else the module's :data:`DISTORTION` as it is at the call (:func:`draw`)."""
    return {split: draw(SPLIT_FACES[split], count, split_generator(seed, split), distortion)
            for split, count in sizes.items()}
