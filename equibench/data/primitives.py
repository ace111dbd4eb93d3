"""Signed distance functions of the primitives the 3D objects are built from.

Each primitive sits in its own frame, centred at the origin with its axis of revolution along y,
and has three size numbers (``size[..., 0:3]``):

| kind | size | surface |
|---|---|---|
| box | half extents a, b, c | the box [-a, a] x [-b, b] x [-c, c] |
| ellipsoid | semi-axes a, b, c | (x/a)^2 + (y/b)^2 + (z/c)^2 = 1 |
| cylinder | radius r, half height h, (unused) | a capped cylinder about y |
| cone | bottom radius r1, half height h, top radius r2 | a capped cone (frustum) about y, r1 at y = -h |
| torus | ring radius R, tube radius r, (unused) | a ring in the xz plane |

A signed distance function (SDF) is negative inside, positive outside, and its value never exceeds
the distance to the surface, which is what sphere tracing needs (:mod:`equibench.data.tracing`):
a ray may step by the SDF without passing through the surface. Box, cylinder, cone and torus
are exact (Inigo Quilez's formulas); the ellipsoid's has no closed form, and its usual
approximation k0 (k0 - 1) / k1 can exceed the distance by a few percent away from the surface,
which the tracer's step factor below 1 absorbs. Everything is elementwise on float tensors, so
the same code runs batched on CPU or GPU and is differentiable.
"""

from __future__ import annotations

import torch

BOX, ELLIPSOID, CYLINDER, CONE, TORUS = range(5)
KINDS = ("box", "ellipsoid", "cylinder", "cone", "torus")


def length(*parts: torch.Tensor) -> torch.Tensor:
    """The Euclidean length of a vector given by its components, summed in a fixed order (a
    reduction over a last axis of 3 could sum in another order on another thread count)."""
    return sum(p * p for p in parts).sqrt()


def box(p: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    q = p.abs() - size
    outside = length(*q.clamp(min=0).unbind(-1))
    return outside + q.amax(-1).clamp(max=0)


def ellipsoid(p: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    k0 = length(*(p / size).unbind(-1))
    k1 = length(*(p / (size * size)).unbind(-1))
    return k0 * (k0 - 1) / k1.clamp(min=1e-12)


def cylinder(p: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    x, y, z = p.unbind(-1)
    dr = length(x, z) - size[..., 0]
    dy = y.abs() - size[..., 1]
    return torch.maximum(dr, dy).clamp(max=0) + length(dr.clamp(min=0), dy.clamp(min=0))


def cone(p: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """The capped cone of Quilez's ``sdCappedCone``: the nearer of the caps and the slanted side."""
    x, y, z = p.unbind(-1)
    r1, h, r2 = size.unbind(-1)
    qx = length(x, z)
    cap_r = torch.where(y < 0, r1, r2)
    ca_x, ca_y = qx - torch.minimum(qx, cap_r), y.abs() - h
    k2x, k2y = r2 - r1, 2 * h
    along = (((r2 - qx) * k2x + (h - y) * k2y) / (k2x * k2x + k2y * k2y)).clamp(0, 1)
    cb_x, cb_y = qx - r2 + k2x * along, y - h + k2y * along
    sign = torch.where((cb_x < 0) & (ca_y < 0), -1.0, 1.0)
    return sign * torch.minimum(ca_x * ca_x + ca_y * ca_y, cb_x * cb_x + cb_y * cb_y).sqrt()


def torus(p: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    x, y, z = p.unbind(-1)
    return length(length(x, z) - size[..., 0], y) - size[..., 1]


SDF = (box, ellipsoid, cylinder, cone, torus)


def bounding_radius(kind: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """The radius of a sphere about each primitive's centre that holds it, ``[...]``."""
    a, b, c = size.unbind(-1)
    radius = torch.stack([length(a, b, c), size.amax(-1), length(a, b), length(torch.maximum(a, c), b), a + b], -1)
    return radius.gather(-1, kind.clamp(min=0)[..., None])[..., 0]


def half_extents(kind: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """Half the sides ``[..., 3]`` of a box about each primitive's centre, along its axes, that holds it."""
    a, b, c = size.unbind(-1)
    wide = torch.maximum(a, c)
    boxes = torch.stack([size, size, torch.stack([a, b, a], -1), torch.stack([wide, b, wide], -1),
                         torch.stack([a + b, b, a + b], -1)], -2)
    return boxes.gather(-2, kind.clamp(min=0)[..., None, None].expand(*kind.shape, 1, 3))[..., 0, :]
