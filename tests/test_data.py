"""Dataset cards, orbit generation, determinism, disjoint splits, caching and sources."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch

from equibench.data import orbits
from equibench.data.cards import builtin_card_ids, load_card, parse_card
from equibench.data.orbits import generate, load_dataset
from equibench.data.sources import BaseImages, load_source
from equibench.errors import ConfigError, DataError
from equibench.progress import progress
from equibench.transforms import build_transformation, colourise


def test_every_builtin_card_parses_and_is_named_by_its_id() -> None:
    ids = builtin_card_ids()
    for source in ("digits", "mnist", "fashion"):
        for variant in ("rot18", "rot4", "shift7", "scale18", "hue18", "rothue18"):
            assert f"{source}-{variant}" in ids
    for ident in ids:
        card = load_card(ident)
        assert card.id == ident
        assert card.build_transformation().order == card.transformation.get("order")  # None: a view card


CARD = """
id = "tiny"
source = "digits"
seed = 3
[transformation]
kind = "rot"
order = 18
step_degrees = {step}
interpolation = "{interpolation}"
[splits]
train = 5
fit = 4
test = 3
"""


def test_a_card_cannot_misstate_its_transformation() -> None:
    assert parse_card(CARD.format(step=20.0, interpolation="bicubic"), "t").splits["test"] == 3
    with pytest.raises(ConfigError, match="step_degrees"):
        parse_card(CARD.format(step=10.0, interpolation="bicubic"), "t")
    with pytest.raises(ConfigError, match="interpolation"):
        parse_card(CARD.format(step=20.0, interpolation="none"), "t")
    with pytest.raises(ConfigError, match="not a valid dataset card"):
        parse_card("id = 'x'", "t")
    with pytest.raises(ConfigError, match="equibench list"):
        load_card("digits-rot5")


REQUIRED = [("id", "a string"), ("source", "a string"), ("seed", "an integer"),
            ("transformation", "a table [transformation]"), ("splits", "a table [splits]"),
            ("transformation.kind", "a string"), ("transformation.order", "an integer"),
            ("splits.train", "a positive integer"), ("splits.fit", "a positive integer"),
            ("splits.test", "a positive integer")]


def _without(text: str, field: str) -> str:
    """The card with one field (``table.key`` or a top-level key or table) removed."""
    table, _, key = field.rpartition(".")
    lines, current, skipping = [], "", False
    for line in text.splitlines():
        if line.startswith("["):
            current = line.strip("[]")
            skipping = not table and current == key
        elif not skipping and line.split(" = ")[0] == key and current == table:
            continue
        if not skipping:
            lines.append(line)
    return "\n".join(lines)


@pytest.mark.parametrize("field, what", REQUIRED)
def test_a_card_missing_a_field_names_it_in_one_line(field: str, what: str) -> None:
    card = CARD.format(step=20.0, interpolation="bicubic")
    with pytest.raises(ConfigError) as info:
        parse_card(_without(card, field), "t.toml")
    message = str(info.value)
    assert message == f"t.toml: not a valid dataset card: field '{field}' is missing ({what})", message


def test_every_ill_typed_field_is_named_at_once() -> None:
    card = "sed = 1\n" + (CARD.format(step=20.0, interpolation="bicubic").replace('id = "tiny"', "id = 7")
            .replace("seed = 3", 'seed = "three"').replace("order = 18", "order = 18.5")
            .replace("fit = 4", "fit = 0").replace("test = 3", "test = 3\nvalid = 2"))
    with pytest.raises(ConfigError) as info:
        parse_card(card, "t.toml")
    assert str(info.value) == (
        "t.toml: not a valid dataset card: field 'id' must be a string, got 7; field 'seed' must be an "
        "integer, got 'three'; unknown field 'sed'; field 'transformation.order' must be an integer, got 18.5; "
        "field 'splits.fit' must be a positive integer, got 0; unknown split 'splits.valid' (the splits are "
        "train, fit, test)")


def _numbered_pools(count: int) -> dict[str, BaseImages]:
    """Base images whose first pixel is their index, so splits can be traced back."""
    images = torch.zeros(count, 1, 28, 28, dtype=torch.uint8)
    images[:, 0, 14, 14] = torch.arange(count, dtype=torch.uint8)
    return {"all": BaseImages(images, torch.arange(count) % 10)}


def test_splits_are_disjoint_and_deterministic() -> None:
    card = parse_card(CARD.format(step=20.0, interpolation="bicubic").replace("order = 18", "order = 4")
                      .replace("20.0", "90.0").replace("bicubic", "none"), "t")
    first, second = generate(card, _numbered_pools(40), progress), generate(card, _numbered_pools(40), progress)
    assert first.content_hash == second.content_hash
    ids = {}
    for name, split in first.splits.items():
        # rot90 moves the marked pixel among the four central ones; their sum is the base index
        ids[name] = set(split.frames[:, 0, 0, 13:15, 13:15].sum(dim=(1, 2)).tolist())
        assert len(ids[name]) == card.splits[name]
    assert not (ids["train"] & ids["fit"] or ids["train"] & ids["test"] or ids["fit"] & ids["test"])


def test_each_frame_is_one_action_on_its_base_image(digits_rot18) -> None:
    t, test = digits_rot18.transformation, digits_rot18.splits["test"]
    steps = test.steps
    assert torch.equal(steps, (steps[:, :1] + torch.arange(18)) % 18), "consecutive group elements"
    assert len(set(steps[:, 0].tolist())) > 1, "random starts"
    base_frame = (steps == 0).nonzero()[:8]
    for s, t0 in base_frame.tolist():  # frame at k = 0 is the base; k is one resampling of it
        base = test.frames[s, t0].float()[None] / 255
        for t_ in (1, 7):
            expected = (t.apply(base, int(steps[s, t_])) * 255).round().to(torch.uint8)
            assert torch.equal(test.frames[s, t_], expected[0])


@pytest.mark.parametrize("spec", [{"kind": "rot", "order": 18}, {"kind": "rot", "order": 4},
                                  {"kind": "shift", "order": 7, "step_px": [4, 0]}, {"kind": "scale", "order": 18},
                                  {"kind": "hue", "order": 18}, {"kind": "rot+hue", "order": 18},
                                  {"kind": "hue+rot", "order": 7}])
def test_generation_frames_are_the_transformations_own_bits(spec: dict) -> None:
    """The generator's shortcuts (a chunk as one many-channel image; hue of grey as a colour times
    the grey) give every bit of the transformation itself, on grey and on colour images."""
    t = build_transformation(spec)
    grey = load_source("digits")["all"].images[:200].float() / 255.0
    colour = torch.rand(20, 3, 28, 28) * (torch.rand(20, 1, 28, 28) > 0.5)
    for x, coloured in ((grey, colourise(grey) if t.needs_colour else grey), (colour, colour)):
        for k in range(t.order):
            assert torch.equal(orbits._frames(t, x, k), t.apply(coloured, k)), (spec, k)


def test_cache_is_reused_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    card = load_card("digits-shift7")
    first = load_dataset(card, tmp_path, progress)
    monkeypatch.setattr(orbits, "load_source", lambda *a, **k: pytest.fail("regenerated a cached dataset"))
    assert load_dataset(card, tmp_path, progress).content_hash == first.content_hash
    cached = next((tmp_path / "datasets").glob("digits-shift7-*.pt"))
    payload = torch.load(cached, weights_only=True)
    payload["content_hash"] = "0" * 64  # a corrupted cache entry is regenerated, not trusted
    torch.save(payload, cached)
    monkeypatch.undo()
    assert load_dataset(card, tmp_path, progress).content_hash == first.content_hash


def test_hue_datasets_are_coloured(session_cache: Path) -> None:
    data = load_dataset(load_card("digits-hue18"), session_cache, progress)
    assert data.image_shape == (3, 28, 28)
    frames = data.splits["test"].frames
    assert frames[:, :, 1].float().mean() > 10 and frames[:, :, 2].float().mean() > 10


def _write_idx(folder: Path, prefix: str, images: torch.Tensor, labels: torch.Tensor) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    n = len(labels)
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, 28, 28) + images.numpy().tobytes())
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.numpy().tobytes())


def test_mnist_source_reads_idx_files_from_data_root(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    for prefix, n in (("train", 30), ("t10k", 20)):
        images = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
        _write_idx(tmp_path / "MNIST" / "raw", prefix, images, torch.arange(n, dtype=torch.uint8) % 10)
    pools = load_source("mnist", tmp_path)
    assert pools["train"].images.shape == (30, 1, 28, 28) and pools["test"].images.shape == (20, 1, 28, 28)
    card = parse_card(CARD.format(step=20.0, interpolation="bicubic").replace('"digits"', '"mnist"')
                      .replace("test = 3", "test = 12"), "t")
    data = load_dataset(card, tmp_path / "cache", progress, data_root=tmp_path)
    assert data.splits["train"].frames.shape == (5, 18, 1, 28, 28)
    with pytest.raises(ConfigError, match="pool 'test' has only 16 left"):
        generate(parse_card(CARD.format(step=20.0, interpolation="bicubic").replace('"digits"', '"mnist"')
                            .replace("test = 3", "test = 17"), "t"), pools, progress)


def test_missing_data_root_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="--data-root.*--download"):
        load_source("fashion", None)
    with pytest.raises(DataError, match="--download"):
        load_source("mnist", tmp_path / "empty")
