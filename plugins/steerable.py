"""A C_N-equivariant steerable CNN built with escnn, and its export to plain PyTorch.

The network maps an image (a stack of trivial fields) through blocks of ``R2Conv`` + inner
batch-norm + ReLU to K regular fields, averaged over space: a vector ``[B, K * N]`` on which a
rotation of the input by ``360 / N`` degrees acts as a cyclic shift inside each field.

Why the sizes are what they are: rotation by 90 degrees commutes exactly with a convolution and
with a strided pooling only if the sampling grid is symmetric about the image centre. A 28x28
image is rotated about the point (13.5, 13.5); a stride-2 pooling on an even-sized map samples
pixels 0, 2, ..., which are not symmetric about it. So the first convolution has an even kernel
(4x4, padding 1: 28 -> 27, still centred on 13.5), and every anti-aliased pooling is padded so
that its samples are centred and its output is odd-sized again (27 -> 13 -> 7). Rotations by other
angles are only approximately equivariant anyway, because of the pixel grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from escnn import gspaces, nn

SIGMA = 0.66  # anti-aliasing blur before subsampling (Zhang 2019), as in escnn's examples


def regular_fields(gspace: gspaces.GSpace2D, channels: int) -> nn.FieldType:
    """The regular field type whose size is closest to ``channels`` (at least one field): equal
    widths in channels mean equal compute whatever N is."""
    return nn.FieldType(gspace, [gspace.regular_repr] * max(1, round(channels / gspace.fibergroup.order())))


def centred_pool(field_type: nn.FieldType, size: int) -> tuple[nn.PointwiseAvgPoolAntialiased2D, int]:
    """Anti-aliased stride-2 pooling of an odd ``size`` map whose samples are symmetric about the
    centre, padded so that the output is odd too (see the module docstring); returns the module
    and the output size."""
    if size % 2 == 0:
        raise ValueError(f"centred stride-2 pooling needs an odd-sized map, got {size}")
    half = int(round(3 * SIGMA))  # escnn's filter is 2 * half + 1 wide
    even_samples = (size - 1) // 2 + 1  # samples at 0, 2, ..., size - 1
    padding = half if even_samples % 2 else half - 1  # else samples at 1, 3, ..., size - 2
    out = even_samples if even_samples % 2 else even_samples - 1
    return nn.PointwiseAvgPoolAntialiased2D(field_type, sigma=SIGMA, stride=2, padding=padding), out


def _block(in_type: nn.FieldType, out_type: nn.FieldType, kernel: int, padding: int) -> list[nn.EquivariantModule]:
    return [
        nn.R2Conv(in_type, out_type, kernel_size=kernel, padding=padding, bias=False),
        nn.InnerBatchNorm(out_type),
        nn.ReLU(out_type, inplace=True),
    ]


def build_trunk(in_type: nn.FieldType, channels: Sequence[int], size: int) -> nn.SequentialModule:
    """Equivariant blocks for ``size x size`` inputs (even ``size``), one per entry of
    ``channels``, with a centred pooling between blocks and a spatial average at the end.

    Its output is a :class:`~escnn.nn.GeometricTensor` ``[B, K * N, 1, 1]`` of K regular fields.
    """
    if size % 2:
        raise ValueError(f"the trunk expects even-sized images (28x28), got {size}")
    gspace = in_type.gspace
    modules: list[nn.EquivariantModule] = []
    current, size = in_type, size - 1  # 4x4 kernel, padding 1: even -> odd, same centre
    for i, width in enumerate(channels):
        out_type = regular_fields(gspace, width)
        modules += _block(current, out_type, kernel=4 if i == 0 else 3, padding=1)
        if i < len(channels) - 1:
            pool, size = centred_pool(out_type, size)
            modules.append(pool)
        current = out_type
    modules.append(nn.PointwiseAdaptiveAvgPool2D(current, 1))
    return nn.SequentialModule(*modules)


def export_to_torch(network: nn.SequentialModule) -> torch.nn.Sequential:
    """A trunk (and what follows it) as plain PyTorch modules (``Conv2d``, ``BatchNorm2d``, ...)
    in eval mode, its output flattened to ``[B, C]``.

    escnn exports every module here except its anti-aliased pooling, which is a fixed Gaussian
    depthwise convolution and is exported as exactly that.
    """
    network.eval()
    layers = []
    for module in network.children():
        if isinstance(module, nn.PointwiseAvgPoolAntialiased2D):
            width = module.in_type.size
            conv = torch.nn.Conv2d(width, width, module.kernel_size, stride=module.stride,
                                   padding=module.padding, groups=width, bias=False)
            conv.weight.data.copy_(module.filter)
            layers.append(conv)
        else:
            layers.append(module.export())
    return torch.nn.Sequential(*layers, torch.nn.Flatten()).eval()
