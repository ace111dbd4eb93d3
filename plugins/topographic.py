"""The topographic layer of the Topographic VAE: s = (z + mu) / sqrt(W u^2 + eps).

W is a fixed 0/1 neighbourhood over latents laid out as ``[frames, capsules, capsule_dim]``:
within a capsule, a circular band of width K around position i; with *shifting* temporal
coherence the band also runs over a window of L frames along the diagonal (u at frame t - d,
position i - d), so that the model is encouraged to satisfy s_(t+1) = Roll_(+1)(s_t).
Neighbourhoods never cross capsules, and time is circular, as in the reference's circular
padding. W is a sum of a few rolled copies of u^2, never a dense matmul: K rolls for the band,
then L rolls along the diagonal.
"""

from __future__ import annotations

import torch
from torch import nn

from equibench.errors import ConfigError

EPS = 1e-6

VARIANTS: dict[str, tuple[float, bool]] = {
    "L0": (0.0, False),
    "L1/2": (1 / 2, True),
    "L13/36": (13 / 36, True),
    "L5/36": (5 / 36, True),
    "bubbles": (5 / 36, False),
}
"""Temporal variants of the paper: (L as a fraction of the sequence, shifting window or not).

L counts the window's half-width in sequence lengths, so the window spans round(2 L N) frames:
for N = 18 the reference's 1, 18, 13, 5 frames, and 5 stationary frames for Bubbles."""


def time_window(variant: str, frames: int) -> tuple[int, bool]:
    """The window in frames (at least 1) and whether it shifts, for ``variant`` on ``frames``."""
    if variant not in VARIANTS:
        raise ConfigError(f"tvae: unknown variant {variant!r}; use --set variant= one of {', '.join(VARIANTS)}")
    fraction, shifting = VARIANTS[variant]
    return max(1, round(2 * fraction * frames)), shifting


def offsets(width: int) -> range:
    """The offsets a window of ``width`` covers, centred as in the reference: -1..1 for 3,
    -9..8 for 18."""
    return range(-(width // 2), (width - 1) // 2 + 1)


def neighbourhood_sum(u2: torch.Tensor, window: int, kernel: int, shifting: bool) -> torch.Tensor:
    """W u^2 for ``u2[..., frames, capsules, capsule_dim]``:
    ``v[t, c, i] = sum_(d in window) sum_(e in kernel) u2[t - d, c, i - s d - e]`` with s = 1
    when shifting, else 0; indices circular in t and i."""
    band = sum(u2.roll(e, dims=-1) for e in offsets(kernel))
    step = 1 if shifting else 0
    return sum(band.roll((d, step * d), dims=(-3, -1)) for d in offsets(window))


class Topographic(nn.Module):
    """s = (z + mu) / sqrt(W u^2 + eps) over latents ``[batch, frames, capsules * capsule_dim]``.

    ``mu`` is a learned scalar (reference init 30); W is fixed, so the layer has no other
    parameters. Without context (``context=False``) each frame is treated alone: its window is
    reduced to its own band, counted L times. That is what the other frames of the window would
    contribute if their u^2 were this frame's rolled along the diagonal (the structure shifting
    coherence favours; for a stationary window, if they were equal), and it keeps the codes on
    the scale the decoder was trained on.
    """

    def __init__(self, capsules: int, capsule_dim: int, window: int, kernel: int, shifting: bool,
                 mu_init: float) -> None:
        super().__init__()
        self.shape = (capsules, capsule_dim)
        self.window, self.kernel, self.shifting = window, kernel, shifting
        self.mu = nn.Parameter(torch.tensor(float(mu_init)))

    def forward(self, z: torch.Tensor, u2: torch.Tensor, context: bool = True) -> torch.Tensor:
        u2 = u2.unflatten(-1, self.shape)
        if context:
            v = neighbourhood_sum(u2, self.window, self.kernel, self.shifting)
        else:
            v = self.window * neighbourhood_sum(u2, 1, self.kernel, self.shifting)
        return (z + self.mu) * torch.rsqrt(v.flatten(-2) + EPS)
