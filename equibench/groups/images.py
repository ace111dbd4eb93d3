"""Image actions of continuous groups, batched with one element per image.

Geometric elements act by resampling: every image is read at its own affine map of the output
coordinates (``affine_grid`` in normalised coordinates, x right, y down, ``align_corners=False``).
Bicubic resampling with zero fill and values clamped to [0, 1] is what datasets use (the same
choice as the cyclic actions of :mod:`equibench.transforms`); ``smooth=True`` gives bilinear
resampling without clamping, a function of the parameters that forward-mode autodiff can follow
(the Lie derivative). Translation on the torus is exact for whole pixels (a permutation) and
linear between them. Hue turns the HSV hue of every pixel, torchvision's ``adjust_hue`` with one
angle per image; for the Lie derivative hue is the rotation of RGB about the grey axis, a linear map
whose generator is a matrix.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torchvision.transforms.v2.functional._color import _hsv_to_rgb, _rgb_to_hsv

from equibench.errors import ConfigError

LUMA = (0.299, 0.587, 0.114)  # ITU-R 601 weights, torchvision's grayscale


def rotation_matrices(radians: torch.Tensor) -> torch.Tensor:
    """``[B, 2, 2]`` sampling matrices that turn content counter-clockwise on screen by ``radians``
    (the direction of ``torch.rot90`` and of the cyclic rotations)."""
    c, s = radians.cos(), radians.sin()
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


def resample(x: torch.Tensor, matrix: torch.Tensor, offset: torch.Tensor, smooth: bool = False) -> torch.Tensor:
    """Read each image ``x[b]`` at ``matrix[b] @ p + offset[b]`` for every output point p
    (normalised coordinates); zeros outside the frame."""
    theta = torch.cat([matrix, offset[:, :, None]], dim=2).to(x)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    if smooth:
        return bilinear(x, grid)
    return F.grid_sample(x, grid, mode="bicubic", padding_mode="zeros", align_corners=False).clamp(0.0, 1.0)


def bilinear(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """``grid_sample(x, grid, "bilinear", zeros, align_corners=False)`` written with gathers, because
    ``grid_sample`` has no forward-mode derivative: the weights are differentiable in the grid."""
    height, width = x.shape[-2:]
    col = ((grid[..., 0] + 1) * width - 1) / 2  # pixel coordinates [B, H', W']
    row = ((grid[..., 1] + 1) * height - 1) / 2
    left, top = col.detach().floor(), row.detach().floor()
    down, right = row - top, col - left  # in [0, 1), with the derivatives of row and col
    flat = x.flatten(2)  # [B, C, H * W]
    out = 0
    for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):
        r, c = top + dr, left + dc
        weight = (down if dr else 1 - down) * (right if dc else 1 - right)
        inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        index = (r.clamp(0, height - 1) * width + c.clamp(0, width - 1)).long().flatten(1)
        values = flat.gather(2, index[:, None, :].expand(-1, x.shape[1], -1)).view(*x.shape[:2], *r.shape[1:])
        out = out + values * (weight * inside)[:, None]
    return out


def similarity(x: torch.Tensor, degrees: torch.Tensor, log_scale: torch.Tensor, shift_px: torch.Tensor,
               smooth: bool = False) -> torch.Tensor:
    """Zoom by ``exp(log_scale)`` and turn by ``degrees`` about the centre, then translate by
    ``shift_px`` ``[B, 2]`` = (dx right, dy down) pixels, in the plane (zero fill)."""
    size = torch.tensor([x.shape[-1], x.shape[-2]], dtype=shift_px.dtype, device=shift_px.device)
    tau = 2 * shift_px / size  # pixels -> normalised coordinates
    inverse = rotation_matrices(torch.deg2rad(degrees)) * torch.exp(-log_scale)[:, None, None]
    return resample(x, inverse, -(inverse @ tau[:, :, None])[:, :, 0], smooth)


def torus_shift(x: torch.Tensor, shift_px: torch.Tensor) -> torch.Tensor:
    """Translate each image by ``shift_px[b]`` = (dx, dy) pixels on the torus: whole pixels are
    ``torch.roll`` exactly, fractions interpolate linearly between the two nearest rolls."""
    height, width = x.shape[-2:]
    out = x
    for axis, size in ((-1, width), (-2, height)):
        d = shift_px[:, 0 if axis == -1 else 1].to(x.device)
        whole = torch.floor(d)
        frac = (d - whole).to(x.dtype)
        index = (torch.arange(size, device=x.device)[None, :] - whole.long()[:, None]) % size  # [B, size]
        shape = [len(d), 1, 1, 1]
        shape[axis] = size
        gather = index.view(shape).expand_as(out)
        lower = out.gather(axis, gather)
        upper = out.gather(axis, (gather - 1) % size)
        weight = frac.view(-1, 1, 1, 1)
        out = (1 - weight) * lower + weight * upper
    return out


def hue_shift(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Turn the HSV hue of every pixel of ``x[b]`` by ``degrees[b]`` (torchvision's ``adjust_hue``
    with one factor per image); grey pixels are fixed."""
    _need_rgb(x)
    hsv = _rgb_to_hsv(x)
    turn = (degrees.to(x) / 360.0)[:, None, None]
    hsv = torch.stack([(hsv[:, 0] + turn) % 1.0, hsv[:, 1], hsv[:, 2]], dim=1)
    return _hsv_to_rgb(hsv)


def grey_axis_generator(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The 3 x 3 skew matrix K of a rotation of RGB about the grey axis (1, 1, 1) / sqrt(3), in the
    direction red -> green -> blue (increasing HSV hue): exp(t K) turns colours by t radians."""
    return torch.tensor([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]], dtype=dtype) / math.sqrt(3)


def grey_axis_rotation(x: torch.Tensor, radians: torch.Tensor) -> torch.Tensor:
    """exp(t K) applied to the colour of every pixel, one angle t per image (no clamping)."""
    _need_rgb(x)
    rotations = torch.linalg.matrix_exp(radians.to(x)[:, None, None] * grey_axis_generator(x.dtype).to(x.device))
    return torch.einsum("bij,bjhw->bihw", rotations, x)


def brightness(x: torch.Tensor, log_factor: torch.Tensor) -> torch.Tensor:
    """Multiply every value by ``exp(log_factor[b])``, clamped to [0, 1]."""
    return (x * torch.exp(log_factor.to(x)).view(-1, 1, 1, 1)).clamp(0.0, 1.0)


def saturation(x: torch.Tensor, log_factor: torch.Tensor) -> torch.Tensor:
    """Move every pixel away from (or towards) its grey value by ``exp(log_factor[b])``, clamped."""
    _need_rgb(x)
    grey = torch.einsum("c,bchw->bhw", torch.tensor(LUMA, dtype=x.dtype, device=x.device), x)[:, None]
    return (grey + torch.exp(log_factor.to(x)).view(-1, 1, 1, 1) * (x - grey)).clamp(0.0, 1.0)


def _need_rgb(x: torch.Tensor) -> None:
    if x.shape[-3] != 3:
        raise ConfigError(f"colour actions act on RGB images, got {x.shape[-3]} channel(s); use a colour dataset")
