"""The group laws of every exact action, and bounds on the interpolated ones."""

from __future__ import annotations

import math

import pytest
import torch

from equibench.data.sources import embedded_digits
from equibench.errors import ConfigError
from equibench.transforms import Composite, Hue, Rotation, Scale, Shift, build_transformation, colourise


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return embedded_digits()["all"].images[:64].float() / 255.0


EXACT = {
    "rot4": lambda: Rotation(4),
    "rot2": lambda: Rotation(2),
    "shift7": lambda: Shift(7, (4, 0)),
    "shift7-xy": lambda: Shift(7, (4, 4)),
    "hue18": lambda: Hue(18),
    "rot4+hue": lambda: Composite([Rotation(4), Hue(4)]),
}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_exact_actions_obey_the_group_laws(name: str, digits: torch.Tensor) -> None:
    t = EXACT[name]()
    x = colourise(digits) if t.needs_colour else digits
    assert t.exact and t.group_action
    n = t.order
    assert torch.equal(t.apply(x, 0), x), "identity at k = 0"
    assert torch.allclose(t.apply(x, n), x, atol=1e-5), "closure after N steps"
    for k, l in [(1, 1), (1, n - 2), (2, n - 1), (n - 1, n - 1)]:
        assert torch.allclose(t.apply(t.apply(x, k), l), t.apply(x, k + l), atol=1e-5), (k, l)
    assert not torch.allclose(t.apply(x, 1), x, atol=1e-3), "one step must change the images"


def test_per_image_steps_match_one_step_per_batch(digits: torch.Tensor) -> None:
    t = Rotation(18)
    steps = torch.arange(len(digits)) % 18
    batched = t.apply(digits, steps)
    one_by_one = torch.stack([t.apply(digits[i: i + 1], int(k))[0] for i, k in enumerate(steps)])
    assert torch.allclose(batched, one_by_one, atol=1e-6)


def test_interpolated_rotation_turns_like_rot90() -> None:
    x = torch.zeros(1, 1, 28, 28)
    x[..., 4:10, 14:16] = 1.0
    quarter_by_resampling = Rotation(36).apply(Rotation(36).apply(x, 3), 6)  # 30 + 60 degrees
    exact = torch.rot90(x, 1, dims=(-2, -1))
    assert (quarter_by_resampling - exact).norm() < 0.5 * (quarter_by_resampling - torch.rot90(x, -1, dims=(-2, -1))).norm()


def test_interpolated_rotation_error_is_bounded(digits: torch.Tensor) -> None:
    """20 + 20 degrees against 40 in one resampling: bicubic keeps the digits within 10%."""
    t = Rotation(18)
    twice, once = t.apply(t.apply(digits, 1), 1), t.apply(digits, 2)
    relative = (twice - once).norm() / once.norm()
    assert 0 < relative < 0.10
    assert not t.exact and t.interpolation == "bicubic"


def test_digits_stay_inside_the_frame_under_rotation(digits: torch.Tensor) -> None:
    t = Rotation(18)
    for k in range(18):
        mass = t.apply(digits, k).sum(dim=(1, 2, 3)) / digits.sum(dim=(1, 2, 3))
        assert torch.all((mass > 0.9) & (mass < 1.1)), k


def test_scale_walks_its_range_and_is_not_a_group_action(digits: torch.Tensor) -> None:
    t = Scale(18, (0.6, 1.26))
    assert not t.group_action and not t.exact
    assert t.factor(0) == pytest.approx(0.6) and t.factor(17) == pytest.approx(1.26)
    ratios = [t.factor(k + 1) / t.factor(k) for k in range(17)]
    assert max(ratios) == pytest.approx(min(ratios))  # log-spaced
    area = [t.apply(digits, k).sum() for k in (0, 17)]
    assert area[0] < area[1]


def test_hue_moves_red_digits_and_needs_colour(digits: torch.Tensor) -> None:
    t = Hue(3)
    red = colourise(digits)
    green = t.apply(red, 1)
    assert torch.allclose(green[:, 1], red[:, 0], atol=1e-5) and green[:, 0].abs().max() < 1e-5
    with pytest.raises(ConfigError):
        t.apply(digits, 1)


def test_bad_specs_are_config_errors() -> None:
    for spec in ({"kind": "warp", "order": 4}, {"kind": "rot", "order": 1},
                 {"kind": "scale", "order": 4, "factor_range": [2, 1]}):
        with pytest.raises(ConfigError):
            build_transformation(spec)
    with pytest.raises(ConfigError):
        Composite([Rotation(4), Hue(18)])


def test_hue_on_lit_pixels_only_gives_torchvisions_very_bits(digits: torch.Tensor) -> None:
    """The fast hue action converts only non-black pixels; every output bit must be what
    torchvision's adjust_hue gives on the whole image (datasets and records depend on it)."""
    from torchvision.transforms.v2 import functional as TF

    hue = Hue(18)
    coloured = Rotation(18).apply(colourise(digits[:64]), 5)  # lit, dark and ringing pixels
    noise = torch.rand(2, 3, 3, 28, 28) * (torch.rand(2, 3, 1, 28, 28) > 0.5)  # any leading shape
    for x in (coloured, noise):
        for k in range(18):
            assert torch.equal(hue.apply(x, k) if x.ndim == 4 else hue._act(x, k),
                               TF.adjust_hue(x, (k / 18 + 0.5) % 1.0 - 0.5))



def _resampled_per_image(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """The resampling as it was: one sampling grid computed for every image of the batch."""
    import torch.nn.functional as F

    theta = torch.zeros(len(x), 2, 3)
    theta[:, :, :2] = matrix
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bicubic", padding_mode="zeros", align_corners=False).clamp(0.0, 1.0)


def test_one_shared_grid_gives_the_bits_of_a_grid_per_image(digits: torch.Tensor) -> None:
    """Resampling shares one sampling grid across the batch; every output bit must be what a grid
    per image gives (datasets and records depend on it), for every resampled step of rot18 and scale18."""
    x = torch.cat([digits, colourise(digits)[:, 1:], digits.flip(0)], dim=1)  # four channels, two of them dark
    rotation, scale = Rotation(18), Scale(18, (0.6, 1.26))
    for k in range(1, 18):
        a = math.radians(k * 20)
        if k % 9:  # 180 degrees is rot90, not resampled
            turn = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
            assert torch.equal(rotation.apply(x, k), _resampled_per_image(x, turn)), k
        zoom = torch.eye(2) / scale.factor(k)
        assert torch.equal(scale.apply(x, k), _resampled_per_image(x, zoom)), k


@pytest.mark.parametrize("t", [Hue(18), Rotation(18), Composite([Rotation(18), Hue(18)]), Scale(18, (0.6, 1.26))],
                         ids=["hue18", "rot18", "rothue18", "scale18"])
def test_an_action_in_chunks_gives_the_bits_of_one_call(t, digits: torch.Tensor, monkeypatch) -> None:
    """apply() transforms a large batch CHUNK images at a time: every bit must be what one call on
    the whole batch gives, for one step and for one step per image."""
    import equibench.transforms

    x = colourise(digits)
    monkeypatch.setattr(equibench.transforms, "CHUNK", 24)  # 64 images: chunks of 24, 24 and 16
    for k in (1, 5, 13):
        assert torch.equal(t.apply(x, k), t._act(x, k)), k
    steps = torch.arange(len(x)) % 2 + 5  # two steps of 32 images each
    assert torch.equal(t.apply(x, steps)[steps == 5], t._act(x[steps == 5], 5))
