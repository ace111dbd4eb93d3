"""Checks on what a plugin returns, so that a broken plugin gets a clear error naming it.

Every batch of latents is checked for type, dtype, shape and finiteness as it is produced,
encoding is checked once per run to be deterministic and a function of each image alone, and
declared operators are checked on each call.

Latents must be float32. Nothing is cast silently: a float64 code cast down would be scored on
numbers the plugin never produced, an integer code is not a point of a vector space the
operators act on, and a half-precision code loses the digits the metrics compare. The fix is
one call (``z.float()``) in the plugin, where the author can see what it does.
"""

from __future__ import annotations

from typing import Any

import torch

from equibench.data.orbits import OrbitSplit
from equibench.errors import PluginError
from equibench.models.encoder import Encoder, Operator, Progress


def check_latents(plugin: str, what: str, z: object, batch: int, dim: int | None = None) -> torch.Tensor:
    """Raise :class:`PluginError` unless ``z`` is a finite float32 tensor ``[batch, dim]`` (``dim`` >= 1)."""
    if not isinstance(z, torch.Tensor):
        raise PluginError(f"plugin {plugin!r}: {what} returned {type(z).__name__}, expected a Tensor")
    if z.dtype != torch.float32:
        raise PluginError(f"plugin {plugin!r}: {what} returned {str(z.dtype).removeprefix('torch.')} latents; "
                          "latents must be float32 (return z.float())")
    if z.ndim != 2 or z.shape[0] != batch or z.shape[1] == 0 or (dim is not None and z.shape[1] != dim):
        want = f"[{batch}, {dim if dim is not None else 'D'}]"
        raise PluginError(f"plugin {plugin!r}: {what} returned shape {list(z.shape)}, expected {want}")
    if not torch.isfinite(z.sum()) and not torch.isfinite(z).all():  # one cheap pass when all is well
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
    """Encode the same images twice, then a permuted part of them as a batch of another size; a
    different answer is an error. A VAE must use its posterior mean, a network its eval mode, and
    the code of an image must not depend on the rest of its batch (a batch mean, batch-norm in
    training mode): the suite encodes in batches of its choosing."""
    x = split.frames.flatten(0, 1)[:count].to(model.device).float().div_(255.0)
    first = check_latents(plugin, "encode()", model.encode(x), len(x))
    second = check_latents(plugin, "encode()", model.encode(x), len(x), first.shape[1])
    if not _same(first, second):
        raise PluginError(
            f"plugin {plugin!r}: encode() is not deterministic (two calls on the same images "
            "differ); use the posterior mean and eval mode"
        )
    part = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[: max(1, len(x) * 3 // 5)]
    alone = check_latents(plugin, "encode()", model.encode(x[part.to(x.device)]), len(part), first.shape[1])
    if not _same(first[part.to(first.device)], alone):
        raise PluginError(
            f"plugin {plugin!r}: encode() depends on the rest of the batch (the same images, permuted "
            f"and in a batch of {len(part)} instead of {len(x)}, get other codes); encode each image on its "
            "own (no batch statistics; eval mode for batch-norm)"
        )


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal up to float rounding, which may differ with the batch size (BLAS picks its kernels by it)."""
    return torch.allclose(a, b, rtol=1e-5, atol=1e-6 + 1e-5 * float(a.abs().max()))


def checked_operator(plugin: str, op: Operator) -> Operator:
    """Wrap a declared operator so that a wrong shape or a NaN names the plugin."""

    def rho(z: torch.Tensor, g: int | torch.Tensor) -> torch.Tensor:
        which = f"k={g}" if isinstance(g, int) else "one element per row"
        return check_latents(plugin, f"its declared operator ({which})", op(z, g), z.shape[0], z.shape[1])

    return rho


def checked_invariant(plugin: str, part: Any, width: int) -> slice | None:
    """The model's declared invariant part, checked: None, or a slice that selects at least one of
    the code's ``width`` dimensions (all of them for an invariant model such as VICReg)."""
    if part is None:
        return None
    if not isinstance(part, slice) or not range(width)[part]:
        raise PluginError(f"plugin {plugin!r}: invariant_dims() must return None or a slice selecting at least "
                          f"one of the code's {width} dimensions; got {part!r}")
    return part
