"""Pictures of capsule codes: the TVAE paper's Roll-decoding (its Figure 1) and capsule activations.

Figures are built on matplotlib's Agg canvas directly, without pyplot, so no global figure state
is kept and no display is needed.
"""

from __future__ import annotations

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MAX_CAPSULES = 6


def _image(x: torch.Tensor) -> torch.Tensor:
    """``[C, H, W]`` -> what imshow takes: ``[H, W]`` for grey, ``[H, W, 3]`` for colour."""
    return x[0] if x.shape[0] == 1 else x.permute(1, 2, 0)


def roll_decoding_figure(frames: torch.Tensor, decoded: torch.Tensor, model: str) -> Figure:
    """True frames ``x_0..x_(N-1)`` above the decodings of Roll_k(s_0), k = 0..N-1: where the
    capsules are equivariant, row two replays row one from frame 0 alone."""
    n = frames.shape[0]
    fig = Figure(figsize=(0.8 * n, 1.9))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, n, squeeze=False)
    for k in range(n):
        for row, x in enumerate((frames[k], decoded[k])):
            axes[row, k].imshow(_image(x).clamp(0, 1), cmap="gray", vmin=0, vmax=1)
            axes[row, k].set_xticks([])
            axes[row, k].set_yticks([])
        axes[0, k].set_title(f"k={k}", fontsize=7)
    axes[0, 0].set_ylabel("x_k", fontsize=8)
    axes[1, 0].set_ylabel("dec(Roll_k s_0)", fontsize=8)
    fig.suptitle(f"{model}: frame 0's code rolled k steps inside every capsule, decoded", fontsize=9, y=1.05)
    return fig


def activations_figure(codes: dict[str, torch.Tensor], capsules: tuple[int, int]) -> Figure:
    """One panel per capsule (the first few) and code: frames down, capsule positions across.
    Equivariance under Roll shows as diagonal stripes."""
    shown = min(capsules[0], MAX_CAPSULES)
    fig = Figure(figsize=(1.6 * shown, 1.9 * len(codes) + 0.4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(codes), shown, squeeze=False)
    for row, (name, s) in enumerate(codes.items()):
        caps = s.unflatten(-1, capsules)
        for c in range(shown):
            ax = axes[row, c]
            ax.imshow(caps[:, c], aspect="auto", cmap="viridis", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"capsule {c}", fontsize=7)
        axes[row, 0].set_ylabel(f"{name}\nframe t", fontsize=7)
    fig.suptitle("capsule activations over one test sequence (position across, frame down)", fontsize=9, y=1.02)
    return fig
