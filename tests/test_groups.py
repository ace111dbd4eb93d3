"""Group laws of every family (composition, inverse, identity) on parameters and on images, and the
cyclic subgroups as the old transformations."""

import math

import pytest
import torch

from equibench.groups import Cyclic, build_family, quaternions
from equibench.groups.families import wrap_degrees
from equibench.transforms import build_transformation

RANGES = {"angle": [-180, 180], "hue": [-180, 180], "dx": [-3, 3], "dy": [-3, 3], "log_scale": [-0.3, 0.3],
          "log_brightness": [-0.3, 0.3], "log_saturation": [-0.25, 0.25]}
GROUPS = ["so2", "translation", "torus", "scale", "hue", "brightness", "saturation", "similarity", "so2+hue"]


def _close(a, b, family):
    """Parameters equal, angles modulo 360 degrees."""
    d = a - b
    for i, p in enumerate(family.parameters):
        if p.angle:
            d[:, i] = wrap_degrees(d[:, i])
    return torch.allclose(d, torch.zeros_like(d), atol=1e-9)


def _images(colour: bool, n: int = 6) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    coarse = torch.rand(n, 3 if colour else 1, 4, 4, generator=g)
    x = torch.zeros(n, coarse.shape[1], 28, 28)  # smooth content well inside the frame, like a digit
    x[..., 8:20, 8:20] = torch.nn.functional.interpolate(coarse, size=(12, 12), mode="bilinear", align_corners=False)
    return x


@pytest.mark.parametrize("kind", GROUPS)
def test_group_law_on_parameters(kind):
    family = build_family(kind)
    g = torch.Generator().manual_seed(1)
    a, b, c = (family.sample(50, RANGES, g) for _ in range(3))
    e = family.identity(50)
    assert _close(family.compose(family.compose(a, b), c), family.compose(a, family.compose(b, c)), family)
    assert _close(family.compose(a, e), a, family) and _close(family.compose(e, a), a, family)
    assert _close(family.compose(a, family.inverse(a)), e, family)
    assert _close(family.compose(family.inverse(a), a), e, family)
    assert _close(family.compose(family.relative(a, b), a), b, family)


# bound on || a.(b.x) - (ab).x ||_inf for content inside the frame: what resampling twice costs
# (measured: at most 0.25 and 0.006 on the mean for the resampled ones)
ACTION_BOUNDS = {"so2": 0.3, "translation": 0.3, "torus": 1e-6, "scale": 0.3, "hue": 1e-5,
                 "similarity": 0.3, "so2+hue": 0.3, "brightness": 1e-6, "saturation": 1e-6}
MEAN_BOUNDS = {"so2": 0.01, "translation": 0.01, "scale": 0.01, "similarity": 0.01, "so2+hue": 0.01}


@pytest.mark.parametrize("kind", GROUPS)
def test_action_composes(kind):
    """act(a, act(b, x)) = act(ab, x): exactly for permutations and colour maps, within the bound of
    two bicubic resamplings for the geometric ones. Brightness and saturation are drawn so that
    nothing clips (x in [0.25, 0.75], factors within exp(+-0.3))."""
    family = build_family(kind)
    x = _images(family.needs_colour)
    if kind in ("brightness", "saturation"):
        x = 0.25 + 0.5 * x
    g = torch.Generator().manual_seed(2)
    a, b = family.sample(len(x), RANGES, g), family.sample(len(x), RANGES, g)
    if kind == "torus":
        b = b.round()  # the torus action is a group action on whole pixels
        a = a.round()
    twice = family.act(family.act(x, b), a)
    once = family.act(x, family.compose(a, b))
    assert (twice - once).abs().max() <= ACTION_BOUNDS[kind]
    assert (twice - once).abs().mean() <= MEAN_BOUNDS.get(kind, 1e-6)
    assert (family.act(x, family.identity(len(x))) - x).abs().max() <= (1e-5 if family.interpolation != "bicubic" else 1e-4)


def test_whole_pixel_torus_shift_is_roll():
    family = build_family("torus")
    x = _images(False, 2)
    shifted = family.act(x, torch.tensor([[2.0, -3.0], [-1.0, 5.0]], dtype=torch.float64))
    assert torch.equal(shifted[0], x[0].roll((-3, 2), dims=(-2, -1)))
    assert torch.equal(shifted[1], x[1].roll((5, -1), dims=(-2, -1)))


def test_rotation_direction_matches_rot90_and_translation_moves_right():
    x = _images(False, 1)
    turned = build_family("so2").act(x, torch.tensor([[90.0]], dtype=torch.float64))
    assert (turned - torch.rot90(x, 1, dims=(-2, -1))).abs().max() < 1e-4
    moved = build_family("translation").act(x, torch.tensor([[2.0, 1.0]], dtype=torch.float64))
    assert (moved - x.roll((1, 2), dims=(-2, -1))).abs().max() < 1e-4


@pytest.mark.parametrize("kind,continuous", [("rot", "so2"), ("hue", "hue"), ("rot+hue", "so2+hue")])
def test_cyclic_subgroup_is_the_continuous_family_at_multiples(kind, continuous):
    """Cyclic(rot 18) acts as SO(2) at k 20 degrees (to bicubic float rounding): the cyclic datasets
    are subgroups, not a second kind of group."""
    cyclic = Cyclic(build_transformation({"kind": kind, "order": 18}))
    family = build_family(continuous)
    x = _images(cyclic.needs_colour)
    k = torch.arange(len(x), dtype=torch.float64)[:, None] * 3 + 1
    assert (cyclic.act(x, k) - family.act(x, cyclic.embed(k))).abs().max() < 1e-4
    a, b = k, torch.flip(k, [0])
    assert torch.allclose(cyclic.embed(cyclic.compose(a, b)), wrap_degrees(family.compose(cyclic.embed(a), cyclic.embed(b))))
    angles = 2 * math.pi * k[:, 0] / 18
    assert torch.allclose(cyclic.features(k)[:, :2], torch.stack([angles.cos(), angles.sin()], 1))


def test_smooth_resampling_is_bilinear_grid_sample():
    """The gather-based bilinear resampling (forward-mode differentiable) is grid_sample's."""
    from equibench.groups import images

    x = _images(True)
    angle = torch.linspace(-170, 170, len(x), dtype=torch.float64)
    shift = torch.linspace(-2.5, 3.5, 2 * len(x), dtype=torch.float64).view(-1, 2)
    scale = torch.linspace(-0.3, 0.3, len(x), dtype=torch.float64)
    ours = images.similarity(x, angle, scale, shift, smooth=True)
    inverse = images.rotation_matrices(torch.deg2rad(angle)) * torch.exp(-scale)[:, None, None]
    size = torch.tensor([28.0, 28.0], dtype=torch.float64)
    theta = torch.cat([inverse, -(inverse @ (2 * shift / size)[:, :, None])], dim=2).float()
    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    reference = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    assert (ours - reference).abs().max() < 1e-5


def test_features_are_cos_and_sin_of_each_angle_and_other_parameters_as_they_are():
    similarity = build_family("similarity")
    e = torch.tensor([[90.0, 0.1, -2.0, 3.0]], dtype=torch.float64)
    assert torch.allclose(similarity.features(e), torch.tensor([[0.0, 1.0, 0.1, -2.0, 3.0]], dtype=torch.float64),
                          atol=1e-12)
    second = build_family("so2").features(torch.tensor([[90.0]], dtype=torch.float64), harmonics=2)
    assert torch.allclose(second, torch.tensor([[0.0, 1.0, -1.0, 0.0]], dtype=torch.float64), atol=1e-12)


def test_half_pixel_torus_shift_is_the_mean_of_the_two_nearest_rolls():
    x = _images(False, 1)
    half = build_family("torus").act(x, torch.tensor([[0.5, -1.5]], dtype=torch.float64))
    rows = (x.roll(-1, dims=-2) + x.roll(-2, dims=-2)) / 2  # dy = -1.5: between -1 and -2
    expected = (rows + rows.roll(1, dims=-1)) / 2  # dx = 0.5: between 0 and 1
    assert (half - expected).abs().max() < 1e-6


@pytest.mark.parametrize("kind", GROUPS)
def test_only_rotations_have_a_quaternion(kind):
    """PRE compares views by their rotations: a family gives quaternions only where it, exactly one
    factor of a product, or the similarity's turn part rotates the image; each is a homomorphism
    (the similarity's too, zoom and shift left out)."""
    family = build_family(kind)
    a, b = (family.sample(20, RANGES, torch.Generator().manual_seed(seed)) for seed in (2, 3))
    q = family.quaternion(a)
    if kind not in ("so2", "so2+hue", "similarity"):
        assert q is None
        return
    composed = quaternions.canonical(quaternions.multiply(q, family.quaternion(b)))
    assert torch.allclose(composed, family.quaternion(family.compose(a, b)), atol=1e-12)
    assert torch.equal(q, build_family("so2").quaternion(a[:, :1]))  # so2+hue: the rotation factor's
