"""The topographic layer of the Topographic VAE: s = (z + mu) / sqrt(W u^2 + eps).

W is a fixed 0/1 neighbourhood over latents laid out as ``[frames, capsules, capsule_dim]``,
exactly the reference's frozen kernel. Stationary variants (L0, Bubbles) sum a window of frames
times a circular band of ``kernel`` positions. Shifting variants sum a *square* of side K (the
window in frames) over (time offset a, position offset b) with ones on the band |a - b| <= 1:
the band runs along the diagonal (u at frame t - d, position i - d), so that the model is
encouraged to satisfy s_(t+1) = Roll_(+1)(s_t), and the square clips the band at its two ends,
which keep 2 of the 3 position offsets (3K - 2 terms, not 3K). Neighbourhoods never cross
capsules, and time and position are circular, as in the reference's circular padding.

W is a sum of a few rolled copies of u^2, never a dense matmul: ``kernel`` rolls for the bands,
then one roll per frame of the window along the diagonal.
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
    """The offsets a window of ``width`` covers, centred as in the reference's padding: -1..1
    for 3, -9..8 for 18."""
    return range(-(width // 2), (width - 1) // 2 + 1)


def band_offsets(window: int, kernel: int, shifting: bool) -> list[tuple[int, tuple[int, ...]]]:
    """W's support as (time offset d, the band's position offsets e at that d): the term
    u^2[t - d, i - s d - e] with s = 1 when shifting. A shifting window keeps only the e with
    0 <= a + e < window, a = d's index in the window: the reference's square kernel."""
    return [(d, tuple(e for e in offsets(kernel) if not shifting or 0 <= a + e < window))
            for a, d in enumerate(offsets(window))]


def neighbourhood_sum(u2: torch.Tensor, window: int, kernel: int, shifting: bool) -> torch.Tensor:
    """W u^2 for ``u2[..., frames, capsules, capsule_dim]``:
    ``v[t, c, i] = sum_(d, e) u2[t - d, c, i - s d - e]`` over :func:`band_offsets`;
    indices circular in t and i."""
    rolled = {e: u2.roll(e, dims=-1) for e in offsets(kernel)}
    bands: dict[tuple[int, ...], torch.Tensor] = {}
    step = 1 if shifting else 0
    v = torch.zeros_like(u2)
    for d, es in band_offsets(window, kernel, shifting):
        if es not in bands:
            bands[es] = sum(rolled[e] for e in es)
        v = v + bands[es].roll((d, step * d), dims=(-3, -1))
    return v


def frame_sum(u2: torch.Tensor, window: int, kernel: int, shifting: bool) -> torch.Tensor:
    """W u^2 with each frame alone: what :func:`neighbourhood_sum` gives where the other frames'
    u^2 are this frame's rolled along the diagonal (for a stationary window, equal to it):
    each band offset e counted as often as W holds it."""
    counts = [sum(e in es for _, es in band_offsets(window, kernel, shifting)) for e in offsets(kernel)]
    return sum(n * u2.roll(e, dims=-1) for n, e in zip(counts, offsets(kernel)))


class Topographic(nn.Module):
    """s = (z + mu) / sqrt(W u^2 + eps) over latents ``[batch, frames, capsules * capsule_dim]``.

    ``mu`` is a learned scalar (reference init 30); W is fixed, so the layer has no other
    parameters. Without context (``context=False``) each frame is treated alone
    (:func:`frame_sum`): that is what the other frames of the window would contribute under
    the structure the window favours, and it keeps the codes on the scale the decoder was
    trained on.
    """

    def __init__(self, capsules: int, capsule_dim: int, window: int, kernel: int, shifting: bool,
                 mu_init: float) -> None:
        super().__init__()
        self.shape = (capsules, capsule_dim)
        self.window, self.kernel, self.shifting = window, kernel, shifting
        self.mu = nn.Parameter(torch.tensor(float(mu_init)))

    def forward(self, z: torch.Tensor, u2: torch.Tensor, context: bool = True) -> torch.Tensor:
        u2 = u2.unflatten(-1, self.shape)
        w = neighbourhood_sum if context else frame_sum
        v = w(u2, self.window, self.kernel, self.shifting)
        return (z + self.mu) * torch.rsqrt(v.flatten(-2) + EPS)
