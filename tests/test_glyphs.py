"""The procedural glyph source: determinism, labels, held-out faces, the 18x18 box within the frame, the
pen's pressure, a card that builds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageFont

from equibench.data import glyphs
from equibench.data.cards import load_card, parse_card
from equibench.data.glyphs import UNDISTORTED, Distortion, draw, glyph_pools, split_generator
from equibench.data.orbits import cache_path, load_dataset
from equibench.errors import ConfigError
from equibench.progress import progress

EVERY_FACE = glyphs.TRAIN_FACES + glyphs.HELD_OUT_FACES


def test_the_same_seed_gives_the_same_bytes_and_another_seed_others() -> None:
    first = draw(glyphs.TRAIN_FACES, 300, split_generator(0, "train"))
    again = draw(glyphs.TRAIN_FACES, 300, split_generator(0, "train"))
    other = draw(glyphs.TRAIN_FACES, 300, split_generator(1, "train"))
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, again.labels)
    assert (first.images != other.images).flatten(1).any(1).float().mean() > 0.99


def _fingerprint(image: np.ndarray) -> np.ndarray:
    """The ink's bounding box resized to 16x16 and standardised: compares shapes drawn at any size."""
    ys, xs = np.nonzero(image > 0.5 * image.max())
    crop = Image.fromarray(image[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1].astype(np.float32))
    v = np.asarray(crop.resize((16, 16), Image.BILINEAR), dtype=np.float64).ravel()
    return (v - v.mean()) / v.std()


@pytest.mark.parametrize("face", EVERY_FACE)
def test_each_label_is_the_digit_drawn(face: str) -> None:
    """Undistorted glyphs are recognised as their label by Pillow's own rendering of the face's
    digits, nearest by correlation; and every digit appears and looks unlike the others."""
    font = ImageFont.truetype(str(glyphs.face_path(face)), 64, layout_engine=ImageFont.Layout.BASIC)
    templates = np.stack([_fingerprint(np.asarray(font.getmask(str(d)), dtype=np.float64)
                                       .reshape(font.getmask(str(d)).size[::-1])) for d in range(10)])
    base = draw((face,), 60, split_generator(0, face), UNDISTORTED)
    assert set(base.labels.tolist()) == set(range(10))
    found = [int(np.argmax(templates @ _fingerprint(x[0].numpy().astype(np.float64)))) for x in base.images]
    assert found == base.labels.tolist()
    distinct = {bytes(x.numpy()) for x in base.images}
    assert len(distinct) == 10  # one image per digit when nothing is distorted


def test_test_faces_are_held_out_of_train_and_fit() -> None:
    assert not set(glyphs.HELD_OUT_FACES) & set(glyphs.TRAIN_FACES)
    assert glyphs.SPLIT_FACES == {"train": glyphs.TRAIN_FACES, "fit": glyphs.TRAIN_FACES,
                                  "test": glyphs.HELD_OUT_FACES, "test_ood": glyphs.HELD_OUT_FACES}
    # Undistorted, every image is one of its face's ten: trace each split's images to their faces.
    face_of = {bytes(x.numpy()): face for face in EVERY_FACE
               for x in draw((face,), 60, split_generator(0, face), UNDISTORTED).images}
    pools = glyph_pools({"train": 120, "fit": 60, "test": 60, "test_ood": 60}, seed=0, distortion=UNDISTORTED)
    used = {split: {face_of[bytes(x.numpy())] for x in pool.images} for split, pool in pools.items()}
    assert used["test"] <= set(glyphs.HELD_OUT_FACES) and len(used["test"]) > 1
    assert used["test_ood"] <= set(glyphs.HELD_OUT_FACES) and len(used["test_ood"]) > 1
    assert used["train"] | used["fit"] <= set(glyphs.TRAIN_FACES)


def test_every_glyph_fills_the_digits_box_within_the_disc_every_rotation_keeps() -> None:
    strong = Distortion(slant=0.4, log_aspect=0.35, jitter_degrees=25.0, stroke_px=(-0.5, 1.0), elastic_px=2.5)
    centre = torch.arange(glyphs.CANVAS) + 0.5 - glyphs.CANVAS / 2
    radius = (centre[None, :] ** 2 + centre[:, None] ** 2).sqrt()
    for distortion in (glyphs.DISTORTION, strong):
        ink = draw(EVERY_FACE, 400, split_generator(2, "box"), distortion).images[:, 0] > 0
        assert not (ink & (radius > glyphs.RADIUS)).any()  # so no turn about the centre leaves the frame
        rows, cols = ink.any(2), ink.any(1)
        height = rows.shape[1] - rows.flip(1).int().argmax(1) - rows.int().argmax(1)
        width = cols.shape[1] - cols.flip(1).int().argmax(1) - cols.int().argmax(1)
        extent = torch.maximum(height, width).float()
        assert extent.min() >= glyphs.DIGIT_BOX / 3
        assert extent.mean() >= (17 if distortion is glyphs.DISTORTION else 12)  # the digits' ink spans 18
    with pytest.raises(ConfigError, match="too strong"):
        draw(EVERY_FACE, 10, split_generator(2, "box"), Distortion(stroke_px=(3.0, 3.0), elastic_px=3.0))
    for bad in ({"pressure_px": (-2.0, 1.0)}, {"pressure_px": (1.5, 0.5)}, {"pressure_px": 1.5},
                {"pressure_px": (0.5, 1.0, 1.5)}, {"elastic_px": -1.0}, {"stroke_px": (1.0, -0.15)}):
        with pytest.raises(ConfigError, match="glyph distortion"):  # each would break the bound above
            Distortion(**bad)


def _drawn(glyph: torch.Tensor, pressure: float, heading: float) -> torch.Tensor:
    """Glyphs with no warp, strokes 0.5 px out at the centre, the given pressure and heading."""
    n = len(glyph)
    pen = glyphs.Pen(torch.full((n,), 0.5), torch.full((n,), pressure), torch.full((n,), heading), 0.0)
    return glyphs._render(glyphs.atlas(), glyph, torch.eye(2).expand(n, 2, 2), pen, torch.zeros(n),
                          torch.zeros(n, 2, 5, 5))[:, 0]


def test_the_pen_thickens_strokes_towards_its_heading_and_breaks_a_zeros_half_turn_symmetry() -> None:
    glyph = torch.arange(len(EVERY_FACE) * 10)
    even, right = _drawn(glyph, 0.0, 0.0), _drawn(glyph, 1.0, 0.0)  # heading 0: thicker to the right (+x)
    gain = (right - even).sum(1)  # [glyph, column]
    half = glyphs.CANVAS // 2
    assert (gain[:, half + 3:].sum(1) > 0).all() and (gain[:, : half - 3].sum(1) < 0).all()
    down = _drawn(glyph, 1.0, torch.pi / 2).sum(2)  # thicker downwards (+y): rows, not columns
    assert ((down - even.sum(2))[:, half + 3:].sum(1) > 0).all()
    zeros = glyph[glyph % 10 == 0]
    for image, pressed in zip(_drawn(zeros, 0.0, 0.0), _drawn(zeros, 1.0, 0.7)):
        asymmetry = [float((x - x.flip(0, 1)).abs().sum() / x.sum()) for x in (image, pressed)]
        assert asymmetry[1] > asymmetry[0] + 0.1, asymmetry


CARD = """
id = "glyphs-tiny"
source = "glyphs"
seed = 5
[transformation]
kind = "rot"
order = 4
step_degrees = 90.0
interpolation = "none"
[splits]
train = 40
fit = 12
test = 12
"""


def test_the_cards_load_and_a_tiny_orbit_dataset_builds(tmp_path, monkeypatch) -> None:
    for variant in ("rot18", "rot4", "shift7", "scale18", "hue18", "rothue18", "so2-views", "so2-views-ood"):
        card = load_card(f"glyphs-{variant}")
        assert card.source == "glyphs" and card.splits["train"] >= 48_000
    card = parse_card(CARD, "t")
    dataset = load_dataset(card, tmp_path, progress)
    pools = glyph_pools(card.splits, card.seed)
    for name, split in dataset.splits.items():
        assert split.frames.shape == (card.splits[name], 4, 1, 28, 28)
        # each orbit holds its base image at step 0, and the splits are the source's pools, in some order
        base = split.frames[torch.arange(len(split.labels)), (split.steps == 0).int().argmax(1)]
        key = {bytes(x.numpy()): int(y) for x, y in zip(pools[name].images, pools[name].labels)}
        assert [key[bytes(x.numpy())] for x in base] == split.labels.tolist()
    assert load_dataset(card, tmp_path, progress).content_hash == dataset.content_hash
    # another way of drawing, font or rasteriser version is another cache entry, never the old pixels
    assert f"-g{glyphs.GENERATION}-mpl" in cache_path(card, tmp_path).name
    monkeypatch.setattr(glyphs, "renderer", lambda: "mpl0-pil0-ft0")
    load_dataset(card, tmp_path, progress)
    assert len(list((tmp_path / "datasets").glob("glyphs-tiny-*.pt"))) == 2


VIEW_CARD = """
id = "glyphs-tiny-views"
source = "glyphs"
seed = 5
[transformation]
kind = "so2"
interpolation = "bicubic"
[views]
count = 3
[views.train]
angle = [[-90.0, 90.0]]
[views.ood]
angle = [[-180.0, -90.0], [90.0, 180.0]]
[splits]
train = 10
fit = 6
test = 6
test_ood = 6
"""


def test_a_view_dataset_shows_each_split_its_own_glyphs(tmp_path) -> None:
    """Every view is a rotation of a glyph of its own split's pool (test_ood: glyphs of the held-out
    faces, drawn apart from test's), at the element stored with it."""
    card = parse_card(VIEW_CARD, "t")
    dataset = load_dataset(card, tmp_path, progress)
    pools = glyph_pools(card.splits, card.seed)
    assert not {bytes(x.numpy()) for x in pools["test"].images} & {bytes(x.numpy()) for x in pools["test_ood"].images}
    family = dataset.family
    for name, split in dataset.splits.items():
        base = pools[name].images.float() / 255.0
        found = []
        for frames, elements in zip(split.frames, split.elements):  # the glyph whose rotations these views are
            views = [family.act(base, elements[v].expand(len(base), -1)).mul(255).round().to(torch.uint8)
                     for v in range(card.views["count"])]
            found.append([b for b in range(len(base)) if all(torch.equal(views[v][b], frames[v])
                                                             for v in range(len(views)))])
        assert sorted(f[0] for f in found) == list(range(card.splits[name])) and all(len(f) == 1 for f in found)
