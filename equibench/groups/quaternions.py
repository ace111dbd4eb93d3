"""Unit quaternions as rotations of 3D space: the algebra behind the SO(3) family.

A rotation is a unit quaternion q = (w, x, y, z), a float64 row, with rotation angle theta =
2 acos(|w|) about the axis (x, y, z) / sin(theta / 2). q and -q are the same rotation (the
quaternions are the double cover SU(2) of SO(3)), so every function here that returns a rotation
returns it *canonical*: w >= 0, and where w = 0 (a half turn) the first non-zero of x, y, z
positive. The Hamilton product ``multiply(a, b)`` is the rotation "b, then a", as the matrices
``to_matrix(a) @ to_matrix(b)`` are.

Euler angles follow Blender's default ``XYZ`` order, which 3DIEBench's renders use: a turn about
the fixed x axis, then about y, then about z, ``R = R_z R_y R_x``.
"""

from __future__ import annotations

import math

import torch


def canonical(q: torch.Tensor) -> torch.Tensor:
    """``q`` or ``-q``, whichever has w > 0 (for w = 0, the first non-zero of x, y, z positive)."""
    sign = torch.zeros(len(q), dtype=q.dtype)
    for column in range(4):  # the first non-zero component decides
        sign = torch.where(sign == 0, torch.sign(q[:, column]), sign)
    return q * torch.where(sign == 0, 1.0, sign)[:, None]


def multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The Hamilton product a b, row by row: the rotation "b, then a" (canonical)."""
    aw, ax, ay, az = a.unbind(1)
    bw, bx, by, bz = b.unbind(1)
    return canonical(torch.stack([aw * bw - ax * bx - ay * by - az * bz,
                                  aw * bx + ax * bw + ay * bz - az * by,
                                  aw * by - ax * bz + ay * bw + az * bx,
                                  aw * bz + ax * by - ay * bx + az * bw], dim=1))


def conjugate(q: torch.Tensor) -> torch.Tensor:
    """The inverse rotation of a unit quaternion (canonical when q is)."""
    return canonical(q * torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=q.dtype))


def to_matrix(q: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``[n, 3, 3]`` (acting on column vectors) of unit quaternions ``[n, 4]``."""
    w, x, y, z = q.unbind(1)
    return torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], dim=1).view(-1, 3, 3)


def from_matrix(m: torch.Tensor) -> torch.Tensor:
    """Canonical unit quaternions of rotation matrices ``[n, 3, 3]`` (Shepperd's method: each row
    from the largest of 4 w^2, 4 x^2, 4 y^2, 4 z^2, so that no division is by a small number)."""
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m.reshape(-1, 9).unbind(1)
    candidates = torch.stack([  # row i: 4 q_i times q, from the entries of m
        torch.stack([1 + m00 + m11 + m22, m21 - m12, m02 - m20, m10 - m01], 1),
        torch.stack([m21 - m12, 1 + m00 - m11 - m22, m01 + m10, m02 + m20], 1),
        torch.stack([m02 - m20, m01 + m10, 1 - m00 + m11 - m22, m12 + m21], 1),
        torch.stack([m10 - m01, m02 + m20, m12 + m21, 1 - m00 - m11 + m22], 1)], dim=1)
    best = torch.stack([candidates[:, i, i] for i in range(4)], 1).argmax(1)
    q = candidates[torch.arange(len(m)), best]
    return canonical(q / q.norm(dim=1, keepdim=True))


def from_axis_angle(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Canonical quaternions of turns by ``angle`` (radians, ``[n]``) about unit ``axis`` ``[n, 3]``."""
    half = angle[:, None] / 2
    return canonical(torch.cat([half.cos(), axis * half.sin()], dim=1))


def from_euler(angles: torch.Tensor) -> torch.Tensor:
    """Canonical quaternions of Euler angles ``[n, 3]`` in radians (x, y, z; ``R = R_z R_y R_x``)."""
    turns = [from_axis_angle(torch.eye(3, dtype=angles.dtype)[i].expand(len(angles), 3), angles[:, i]) for i in range(3)]
    return multiply(turns[2], multiply(turns[1], turns[0]))


def rotation_angle(q: torch.Tensor) -> torch.Tensor:
    """The angle of each rotation in [0, pi] radians: 2 acos |w| (computed from the vector part,
    which is accurate near the identity as well)."""
    return 2 * torch.atan2(q[:, 1:].norm(dim=1), q[:, 0].abs())


def haar_angle_cdf(angle: torch.Tensor) -> torch.Tensor:
    """P(theta <= angle) for a rotation uniform on SO(3) (Haar measure): its angle has density
    (1 - cos theta) / pi on [0, pi], so the CDF is (theta - sin theta) / pi."""
    return (angle - angle.sin()) / math.pi


def haar_angle(u: torch.Tensor, iterations: int = 64) -> torch.Tensor:
    """The inverse of :func:`haar_angle_cdf` at ``u`` in [0, 1], by bisection: the CDF is monotone,
    so 64 halvings of [0, pi] reach float64's resolution with no starting guess to tune."""
    lo, hi = torch.zeros_like(u), torch.full_like(u, math.pi)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        below = haar_angle_cdf(mid) < u
        lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
    return (lo + hi) / 2
