"""Sphere tracing: images of objects made of primitives, at a fixed camera and light, in torch.

Why this renderer (measurements in docs/shapes3d.md): it needs no system package and no wheel
beyond torch, is written to run on a GPU unchanged (every tensor follows the objects' device), is
deterministic, and every pixel is a differentiable function of the object's pose, so a Lie
derivative along rotations of the object is possible.

A scene (:class:`equibench.data.shapes3d.Objects`) is a batch of objects, each a union of up to P
primitives (:mod:`equibench.data.primitives`) with a kind, three sizes, a centre, axes and a
colour in the object's frame, and a pose (a rotation matrix) that turns the object in the world.
The camera looks from (0, 0, ``DISTANCE``) towards the origin, y up; the object lies in the unit
sphere and the field of view keeps that sphere inside the frame with a margin, so no rotation
ever cuts the object. Shading is Lambert's: albedo x light colour x (ambient + diffuse max(0, n.l))
with one directional light; the background is a flat colour.

What makes it fast: every ray first meets the primitives' bounding spheres analytically, so a
ray that meets none is background at once and the others start marching at the first sphere;
objects of one layout (the same kinds in the same slots, i.e. of one class) are traced together,
each kind's distance function called once per step on all its slots; rays that hit or leave
are dropped from the batch every ``COMPACT`` steps; the step count is fixed (``STEPS``), float32.
A ray that passes within a pixel of the surface is shaded there and blended with the background
by how near it came (cone-tracing antialiasing, no extra rays). Everything is elementwise, a min
or a max, an index, or a sum over 3 components written out in a fixed order, so the result does not
depend on the thread count. It runs on
one CPU thread unless asked otherwise (:func:`render`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from equibench.data import primitives

DISTANCE = 5.0  # camera distance from the object's centre (the object fits the unit sphere)
TAN_HALF_FOV = math.tan(math.asin(1 / DISTANCE)) * 1.15  # the unit sphere's outline and 15%: at 28x28 its
# antialiased edge (a pixel wide) stays a third of a pixel inside the border pixels' centres
LIGHT = (-0.4, 0.7, 0.6)  # direction towards the light (up, left, in front)
AMBIENT = 0.3
STEPS = 64  # sphere-tracing steps at most
COMPACT = 8  # steps between droppings of finished rays
STEP_FACTOR = 0.9  # steps a little short of the distance: the ellipsoid's SDF is approximate
HIT = 0.2  # a ray hits where the distance is below this fraction of a pixel's footprint
MAX_RAYS = 1 << 18  # rays traced in one batch
CORNERS = torch.tensor([[1.0, -1, -1], [-1, -1, 1], [-1, 1, -1], [1, 1, 1]])  # a tetrahedron, for normals


def ray_directions(pixels: int, device: torch.device | None = None) -> torch.Tensor:
    """Unit directions ``[pixels * pixels, 3]`` through the pixel centres, row by row from the top."""
    axis = (torch.arange(pixels, dtype=torch.float32, device=device) + 0.5) / pixels * 2 - 1
    v, u = torch.meshgrid(-axis, axis, indexing="ij")
    d = torch.stack([u * TAN_HALF_FOV, v * TAN_HALF_FOV, -torch.ones_like(u)], -1).view(-1, 3)
    return d / primitives.length(*d.unbind(-1))[:, None]


def render(scene: Any, pixels: int, threads: int | None = 1) -> torch.Tensor:
    """Images ``[n, 3, pixels, pixels]`` in [0, 1] of the objects of ``scene`` (see the module's
    docstring for what a scene holds), traced a layout at a time.

    On a CPU it runs on ``threads`` intra-op threads (None: torch's setting), 1 by default: tracing
    is thousands of small elementwise steps, each a parallel region whose threads wait for each
    other, and on a machine whose cores are shared a second thread made it 10 to 60 times slower
    (benchmarks/render3d.py; docs/shapes3d.md)."""
    with _threads(threads if scene.pose.device.type == "cpu" else None):
        return _render(scene, pixels)


@contextmanager
def _threads(count: int | None) -> Iterator[None]:
    """torch's intra-op thread count set to ``count`` (None: unchanged) for the block."""
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _render(scene: Any, pixels: int) -> torch.Tensor:
    n, device = len(scene.kind), scene.pose.device
    out = scene.background[:, :, None, None].expand(n, 3, pixels, pixels).float().clone()
    layouts, which = torch.unique(scene.kind, dim=0, return_inverse=True)
    per_batch = max(1, MAX_RAYS // (pixels * pixels))
    for number, layout in enumerate(layouts.tolist()):
        members = (which == number).nonzero()[:, 0]
        for lo in range(0, len(members), per_batch):
            idx = members[lo: lo + per_batch]
            _trace(scene, idx, layout, pixels, out, device)
    return out


Groups = list[tuple[int, slice]]  # (primitive kind, its columns)


def _sdf(p: torch.Tensor, extent: torch.Tensor, groups: Groups) -> torch.Tensor:
    """Signed distances ``[..., S]`` of points ``p[..., S, 3]``, one per slot in that slot's frame,
    the slots sorted by kind so that each kind's distance function reads one slice."""
    return torch.cat([primitives.SDF[kind](p[..., at, :], extent[..., at, :]) for kind, at in groups], -1)


def _trace(scene: Any, idx: torch.Tensor, layout: list[int], pixels: int, out: torch.Tensor,
           device: torch.device) -> None:
    """Trace the images ``idx``, all of one ``layout`` (the kind of every slot), into ``out``."""
    slots = [j for _, j in sorted((k, j) for j, k in enumerate(layout) if k >= 0)]  # used slots, by kind
    kinds = [layout[j] for j in slots]
    groups = [(k, slice(kinds.index(k), len(kinds) - kinds[::-1].index(k))) for k in sorted(set(kinds))]
    pose = scene.pose[idx].float()  # [B, 3, 3]
    axes = matmul3(pose[:, None], scene.axes[idx][:, slots].float())  # [B, S, 3, 3]: the slots' axes in the world
    centre = matvec3(pose[:, None], scene.centre[idx][:, slots].float())  # [B, S, 3]
    extent = scene.extent[idx][:, slots].float()
    # the bounding spheres grown by a pixel's width at the object, so that the antialiased edge is traced too
    radius = primitives.bounding_radius(scene.kind[idx][:, slots], extent) + 2 * TAN_HALF_FOV * DISTANCE / pixels
    footprint = 2 * TAN_HALF_FOV / pixels  # a pixel's width per unit of distance along the ray

    origin = torch.tensor([0.0, 0.0, DISTANCE], device=device)
    d = ray_directions(pixels, device)  # [HW, 3]
    oc = origin - centre  # [B, S, 3]
    b = matvec3(oc[:, None, :, None, :], d[None, :, None, :])[..., 0]  # [B, HW, S]: d . (o - c)
    disc = b * b - (dot3(oc, oc) - radius * radius)[:, None]
    met = disc > 0
    root = disc.clamp(min=0).sqrt()
    near = torch.where(met, -b - root, math.inf).amin(-1).clamp(min=0)
    far = torch.where(met, -b + root, -math.inf).amax(-1)
    image, pixel = met.any(-1).nonzero(as_tuple=True)
    if len(image) == 0:
        return
    turn = axes.transpose(-1, -2)  # world -> slot frames
    o_local = matvec3(turn, oc)[image]  # [R, S, 3]: the camera in each slot's frame
    d_local = matvec3(turn[:, None], d[None, :, None, :])[image, pixel]  # [R, S, 3]
    ray_extent = extent[image]
    state = _march(o_local, d_local, ray_extent, near[image, pixel], far[image, pixel], groups, footprint)
    t, hit, closest, t_closest = state
    coverage = torch.where(hit, 1.0, (1 - closest).clamp(0, 1))
    t = torch.where(hit, t, t_closest)
    lit = coverage > 0
    image, pixel, t, coverage = image[lit], pixel[lit], t[lit], coverage[lit]
    albedo = scene.colour[idx[image]][:, slots].float()  # [R, S, 3]
    shade = _shade(o_local[lit] + t[:, None, None] * d_local[lit], turn[image], ray_extent[lit], groups,
                   albedo, scene.light[idx[image]].float(), footprint * t)
    background = scene.background[idx[image]].float()
    colour = coverage[:, None] * shade + (1 - coverage[:, None]) * background
    flat = out.view(len(out), 3, -1)
    flat[idx[image], :, pixel] = colour


def _march(o: torch.Tensor, d: torch.Tensor, extent: torch.Tensor, t: torch.Tensor, far: torch.Tensor,
           groups: Groups, footprint: float) -> tuple[torch.Tensor, ...]:
    """Sphere-trace rays ``o + t d`` (per slot frame) from ``t`` to ``far``: the final t, whether
    each ray hit, its closest approach in pixels (distance / footprint) and the t there."""
    count = len(t)
    final_t, hit = t.clone(), torch.zeros(count, dtype=torch.bool, device=t.device)
    closest = torch.full((count,), math.inf, device=t.device)
    t_closest = t.clone()
    live = torch.arange(count, device=t.device)
    best, best_t = closest.clone(), t.clone()
    for step in range(STEPS):
        distance = _sdf(o + t[:, None, None] * d, extent, groups).amin(-1)
        ratio = distance / (footprint * t)
        nearer = ratio < best
        best, best_t = torch.where(nearer, ratio, best), torch.where(nearer, t, best_t)
        done = ratio < HIT
        t = torch.where(done, t, t + STEP_FACTOR * distance)
        if (step + 1) % COMPACT and step + 1 < STEPS:
            continue
        finished = done | (t > far) | (step + 1 == STEPS)
        ended = live[finished]
        final_t[ended], hit[ended] = t[finished], done[finished]
        closest[ended], t_closest[ended] = best[finished], best_t[finished]
        keep = ~finished
        if not keep.any():
            break
        live, o, d, extent, t, far = live[keep], o[keep], d[keep], extent[keep], t[keep], far[keep]
        best, best_t = best[keep], best_t[keep]
    return final_t, hit, closest, t_closest


def _shade(p: torch.Tensor, turn: torch.Tensor, extent: torch.Tensor, groups: Groups,
           albedo: torch.Tensor, light: torch.Tensor, spacing: torch.Tensor) -> torch.Tensor:
    """Lambert shading ``[R, 3]`` at points ``p[R, S, 3]`` (per slot frame), with the albedo
    ``[R, S, 3]`` of the nearest slot and the light's colour ``[R, 3]``. The normal is the nearest
    slot's: central differences of its distance over a tetrahedron of offsets a tenth of a pixel
    (``spacing``) apart, each kind's function called once on the rays nearest to a slot of that kind."""
    rows = torch.arange(len(p), device=p.device)
    nearest = _sdf(p, extent, groups).argmin(-1)
    point, size, frame = p[rows, nearest], extent[rows, nearest], turn[rows, nearest]
    offsets = matvec3(frame[:, None], CORNERS.to(p.device)[None]) * (0.1 * spacing)[:, None, None]  # [R, 4, 3]
    around = torch.zeros(len(p), 4, device=p.device)
    for kind, at in groups:
        mine = (nearest >= at.start) & (nearest < at.stop)
        around[mine] = primitives.SDF[kind](point[mine, None] + offsets[mine], size[mine, None])
    normal = sum(around[:, k, None] * CORNERS[k].to(p.device) for k in range(4))
    normal = normal / primitives.length(*normal.unbind(-1)).clamp(min=1e-12)[:, None]
    towards = torch.tensor(LIGHT, device=p.device)
    diffuse = dot3(normal, towards / primitives.length(*towards)).clamp(min=0)
    return (albedo[rows, nearest] * light * (AMBIENT + (1 - AMBIENT) * diffuse)[:, None]).clamp(0, 1)


def matmul3(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Batched 3x3 products ``a @ b`` written out as three products and two sums in a fixed order
    (the same bytes whatever the thread count, and no [..., 3, 3, 3] intermediate)."""
    return a[..., :, 0:1] * b[..., 0:1, :] + a[..., :, 1:2] * b[..., 1:2, :] + a[..., :, 2:3] * b[..., 2:3, :]


def matvec3(a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Batched 3x3 matrix-vector products ``a @ v``, written out like :func:`matmul3`."""
    return a[..., 0] * v[..., 0:1] + a[..., 1] * v[..., 1:2] + a[..., 2] * v[..., 2:3]


def dot3(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Dot products over a last axis of 3, summed in a fixed order."""
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]
