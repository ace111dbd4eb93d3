"""Checks on what a plugin returns, so that a broken plugin gets a clear error naming it.

Every batch of latents is checked for shape and finiteness as it is produced, encoding is
checked to be deterministic once per run, and declared operators are checked on each call.
"""

from __future__ import annotations

import torch

from equibench.data.orbits import OrbitSplit
from equibench.errors import PluginError
from equibench.models.encoder import Encoder, Operator, Progress


def check_latents(plugin: str, what: str, z: object, batch: int, dim: int | None = None) -> torch.Tensor:
    """Raise :class:`PluginError` unless ``z`` is a finite tensor ``[batch, dim]`` (``dim`` >= 1)."""
    if not isinstance(z, torch.Tensor):
        raise PluginError(f"plugin {plugin!r}: {what} returned {type(z).__name__}, expected a Tensor")
    if z.ndim != 2 or z.shape[0] != batch or z.shape[1] == 0 or (dim is not None and z.shape[1] != dim):
        want = f"[{batch}, {dim if dim is not None else 'D'}]"
        raise PluginError(f"plugin {plugin!r}: {what} returned shape {list(z.shape)}, expected {want}")
    if not torch.isfinite(z).all():
        raise PluginError(f"plugin {plugin!r}: {what} returned non-finite values (NaN or inf)")
    return z


@torch.no_grad()
def encode_split(
    model: Encoder, plugin: str, split: OrbitSplit, progress: Progress, batch_size: int = 512
) -> torch.Tensor:
    """Latents of every frame of ``split``, ``[S, N, D]`` float32 on the CPU, checked."""
    frames = split.frames.flatten(0, 1)
    out, dim = [], None
    for lo in progress(range(0, len(frames), batch_size), desc=f"encode {plugin}", leave=False):
        x = frames[lo: lo + batch_size].to(model.device).float().div_(255.0)
        z = check_latents(plugin, "encode()", model.encode(x), len(x), dim)
        dim = z.shape[1]
        out.append(z.detach().float().cpu())
    return torch.cat(out).unflatten(0, split.frames.shape[:2])


@torch.no_grad()
def check_deterministic(model: Encoder, plugin: str, split: OrbitSplit, count: int = 64) -> None:
    """Encode the same images twice; a different answer is an error (a VAE must use its
    posterior mean, a network its eval mode)."""
    x = split.frames.flatten(0, 1)[:count].to(model.device).float().div_(255.0)
    first, second = model.encode(x), model.encode(x)
    check_latents(plugin, "encode()", first, len(x))
    if not torch.allclose(first, second, rtol=1e-5, atol=1e-6):
        raise PluginError(
            f"plugin {plugin!r}: encode() is not deterministic (two calls on the same images "
            "differ); use the posterior mean and eval mode"
        )


def checked_operator(plugin: str, op: Operator) -> Operator:
    """Wrap a declared operator so that a wrong shape or a NaN names the plugin."""

    def rho(z: torch.Tensor, g: int | torch.Tensor) -> torch.Tensor:
        which = f"k={g}" if isinstance(g, int) else "one element per row"
        return check_latents(plugin, f"its declared operator ({which})", op(z, g), z.shape[0], z.shape[1])

    return rho
