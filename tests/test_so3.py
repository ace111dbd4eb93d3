"""SO(3) as unit quaternions: the group law against rotation matrices, the matrix round trip,
canonicalisation (q and -q are one rotation), Euler angles, and the two ways a card draws rotations."""

from __future__ import annotations

import math

import pytest
import torch

from equibench.errors import ConfigError
from equibench.groups import build_family
from equibench.groups import quaternions as Q

SO3 = build_family("so3")
EULER_90 = {"euler_x": [-90.0, 90.0], "euler_y": [-90.0, 90.0], "euler_z": [-90.0, 90.0]}


def _rotations(n: int = 200, seed: int = 0) -> torch.Tensor:
    """Uniform rotations, with the identity and exact half turns (w = 0) among them."""
    q = SO3.sample(n, {"angle": [0.0, 180.0]}, torch.Generator().manual_seed(seed))
    half_turns = Q.canonical(torch.tensor([[0.0, 1, 0, 0], [0, 0, -1, 0], [0, 0.6, 0, -0.8]], dtype=torch.float64))
    return torch.cat([SO3.identity(1), half_turns, q])


def _same_rotation(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool((1 - (a * b).sum(1).abs()).abs().max() < 1e-12)


def _axis_matrix(axis: int, angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    i, j = (axis + 1) % 3, (axis + 2) % 3  # the plane of the turn, right-handed
    m = torch.eye(3, dtype=torch.float64)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def test_composition_is_the_product_of_the_rotation_matrices():
    a, b = _rotations(seed=1), _rotations(seed=2)
    assert torch.allclose(Q.to_matrix(SO3.compose(a, b)), Q.to_matrix(a) @ Q.to_matrix(b), atol=1e-12)


def test_group_law_on_quaternions():
    a, b, c = _rotations(seed=1), _rotations(seed=2), _rotations(seed=3)
    e = SO3.identity(len(a))
    assert _same_rotation(SO3.compose(SO3.compose(a, b), c), SO3.compose(a, SO3.compose(b, c)))
    assert torch.equal(SO3.compose(a, e), a) and torch.equal(SO3.compose(e, a), a)
    assert _same_rotation(SO3.compose(a, SO3.inverse(a)), e) and _same_rotation(SO3.compose(SO3.inverse(a), a), e)
    assert torch.allclose(Q.to_matrix(SO3.inverse(a)), Q.to_matrix(a).transpose(1, 2), atol=1e-12)
    assert _same_rotation(SO3.compose(SO3.relative(a, b), a), b)


def test_a_quarter_turn_about_z_takes_x_to_y():
    quarter = Q.from_axis_angle(torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64), torch.tensor([math.pi / 2],
                                dtype=torch.float64))
    assert torch.allclose(quarter, torch.tensor([[math.sqrt(0.5), 0, 0, math.sqrt(0.5)]], dtype=torch.float64))
    assert torch.allclose(Q.to_matrix(quarter)[0] @ torch.tensor([1.0, 0, 0], dtype=torch.float64),
                          torch.tensor([0.0, 1, 0], dtype=torch.float64), atol=1e-15)


def test_matrix_round_trip_and_orthogonality():
    q = _rotations()
    m = Q.to_matrix(q)
    assert torch.allclose(m @ m.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand_as(m), atol=1e-12)
    assert torch.allclose(torch.linalg.det(m), torch.ones(len(m), dtype=torch.float64), atol=1e-12)
    assert torch.allclose(Q.from_matrix(m), q, atol=1e-12), "canonical quaternions come back exactly, sign included"
    assert torch.allclose(Q.from_matrix(Q.to_matrix(-q)), q, atol=1e-12)


def test_every_element_is_canonical_and_minus_q_is_the_same_element():
    q = _rotations()
    for elements in (q, SO3.compose(q, q.flip(0)), SO3.inverse(q), SO3.sample(50, EULER_90, torch.Generator())):
        first = elements[torch.arange(len(elements)), (elements != 0).int().argmax(1)]  # first non-zero
        assert (elements[:, 0] >= 0).all() and (first > 0).all()
    assert torch.equal(Q.canonical(-q), q)
    half = torch.tensor([[0.0, 0.0, -0.6, 0.8], [0.0, 0.0, 0.0, -1.0]], dtype=torch.float64)
    assert torch.equal(Q.canonical(half), -half), "a half turn: the first non-zero of x, y, z positive"
    assert torch.equal(SO3.features(-q), q), "the regression target is the canonical quaternion"
    assert torch.allclose(SO3.conditioning(q, 2), Q.to_matrix(q).flatten(1))


def test_euler_angles_turn_about_x_then_y_then_z():
    angles = torch.tensor([[0.3, -1.1, 2.0]], dtype=torch.float64)
    expected = _axis_matrix(2, 2.0) @ _axis_matrix(1, -1.1) @ _axis_matrix(0, 0.3)
    assert torch.allclose(Q.to_matrix(Q.from_euler(angles))[0], expected, atol=1e-12)


def test_uniform_sampling_has_the_moments_of_the_haar_measure():
    """Under the Haar measure E[R] = 0 and E[R_ij R_kl] = delta_ik delta_jl / 3; a uniform angle
    with a uniform axis (E[trace R] = 1) or uniform Euler angles fail both."""
    m = Q.to_matrix(SO3.sample(20000, {"angle": [[0.0, 180.0]]}, torch.Generator().manual_seed(5))).flatten(1)
    assert m.mean(0).abs().max() < 0.03
    second = (m[:, :, None] * m[:, None, :]).mean(0).view(3, 3, 3, 3)
    eye = torch.eye(3, dtype=torch.float64)
    assert (second - torch.einsum("ik,jl->ijkl", eye, eye) / 3).abs().max() < 0.03


def test_angle_intervals_keep_the_haar_distribution_of_the_angle():
    """Drawn with angle in [90, 180] degrees: every angle inside, distributed as the Haar CDF
    conditioned on the interval (Kolmogorov-Smirnov distance)."""
    q = SO3.sample(5000, {"angle": [[90.0, 180.0]]}, torch.Generator().manual_seed(6))
    angle = Q.rotation_angle(q).sort().values
    assert angle.min() >= math.pi / 2 - 1e-12 and angle.max() <= math.pi + 1e-12
    lo = Q.haar_angle_cdf(torch.tensor(math.pi / 2, dtype=torch.float64))
    expected = (Q.haar_angle_cdf(angle) - lo) / (1 - lo)
    empirical = torch.arange(1, len(angle) + 1, dtype=torch.float64) / len(angle)
    assert (expected - empirical).abs().max() < 0.03
    assert torch.allclose(Q.haar_angle(Q.haar_angle_cdf(angle)), angle, atol=1e-12)


def test_euler_sampling_stays_in_its_box():
    q = SO3.sample(2000, EULER_90, torch.Generator().manual_seed(7))
    m = Q.to_matrix(q)
    pitch = torch.asin(-m[:, 2, 0])  # R = R_z(c) R_y(b) R_x(a): m[2, 0] = -sin b
    roll, yaw = torch.atan2(m[:, 2, 1], m[:, 2, 2]), torch.atan2(m[:, 1, 0], m[:, 0, 0])
    for angle in (roll, pitch, yaw):
        assert angle.abs().max() <= math.pi / 2 + 1e-9 and angle.abs().max() > 1.5
    only_x = SO3.sample(100, {"euler_x": [10.0, 20.0]}, torch.Generator())
    assert torch.allclose(only_x[:, 2:], torch.zeros(100, 2, dtype=torch.float64))
    assert (torch.rad2deg(Q.rotation_angle(only_x)) >= 10 - 1e-9).all()


def test_same_generator_same_elements():
    draws = [SO3.sample(100, ranges, torch.Generator().manual_seed(3)) for ranges in ({"angle": [0.0, 180.0]},) * 2]
    assert torch.equal(*draws)


@pytest.mark.parametrize("table,message", [
    ({"angle": [0.0, 90.0], "euler_x": [0.0, 10.0]}, "either by 'angle'"),
    ({"angle": [90.0, 200.0]}, "within \\[0, 180\\]"),
    ({"w": [0.0, 1.0]}, "'w' is not a parameter of so3 \\(angle, euler_x"),
])
def test_a_bad_rotation_distribution_is_one_clear_error(table, message):
    from equibench.data.cards import parse_card

    lines = "\n".join(f"{k} = {v}" for k, v in table.items())
    text = (f'id = "t"\nsource = "digits"\nseed = 0\n[transformation]\nkind = "so3"\ninterpolation = "none"\n'
            f'[views]\ncount = 4\n[views.train]\n{lines}\n[splits]\ntrain = 2\nfit = 2\ntest = 2\n')
    with pytest.raises(ConfigError, match=message):
        parse_card(text, "t")


def test_so3_combines_with_no_image_family():
    with pytest.raises(ConfigError, match="acts on 3D objects"):
        build_family("so3+hue")
