"""The Lie derivative (Gruver et al., 2022): how much f changes under an infinitesimal transformation.

Along a one-parameter subgroup g_t = exp(t X) (rotation, translation in x and in y, zoom, hue; see
:func:`equibench.groups.families.flow`) the Lie derivative of f at x is
``d/dt rho(g_t)^-1 f(g_t . x)`` at t = 0, that is ``J_f(x) (X . x) - A f(x)`` for a declared
generator A of rho (``Encoder.generator``), or ``J_f(x) (X . x)`` with rho the identity (local
invariance). It is computed by one forward-mode product (``torch.func.jvp``) through a bilinear
resampling of the images, without clamping, so that the path is differentiable in t.

The score is ``E ||L_X f(x)||^2 / total variance of f`` over a fixed subset of ``IMAGES`` test views
(drawn with a fixed seed, the same for every model): like the commutativity error it does not change
when f is rescaled or shifted. Units: per radian squared for ``rot`` and ``hue``, per pixel squared for
``tx`` and ``ty``, per unit of log-zoom squared for ``scale``. Unlike Gruver et al., who report the
derivative of the predicted logits of a classifier, this measures the whole representation f.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from equibench.groups.families import flow
from equibench.models.encoder import NotMeasurable

# torch's first jvp imports its own jvp decompositions, which call the deprecated torch.jit.script and
# warn about torch itself in every run's output; nothing the user can act on. Filtered once, here: the
# derivatives run in a worker thread beside other chains (metrics/cores.py), where
# warnings.catch_warnings, which swaps the process's filters, is not safe.
warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=FutureWarning)

IMAGES = 64
IMAGE_SEED = 0


def fixed_views(frames: torch.Tensor) -> torch.Tensor:
    """A fixed subset of ``IMAGES`` views of ``frames[S, V, C, H, W]`` (uint8), as floats in [0, 1]."""
    flat = frames.flatten(0, 1)
    chosen = torch.randperm(len(flat), generator=torch.Generator().manual_seed(IMAGE_SEED))[:IMAGES]
    return flat[chosen.sort().values].float().div_(255.0)


def lie_derivative(encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, name: str, spread: float,
                   generator: Callable[[torch.Tensor], torch.Tensor] | None = None) -> float:
    """``E ||L_X f(x)||^2 / spread`` along the subgroup ``name``, with rho the identity or the
    declared ``generator`` A (``L_X f = J_f (X . x) - A f(x)``)."""
    zero, one = torch.zeros((), dtype=x.dtype, device=x.device), torch.ones((), dtype=x.dtype, device=x.device)
    with torch.no_grad():  # forward mode only: no graph for the weights' gradients
        z, derivative = torch.func.jvp(lambda t: encode(flow(name, x, t)), (zero,), (one,))
    if not derivative.any():
        raise NotMeasurable("its derivative is exactly zero: encode() detaches, rounds or is piecewise constant")
    if generator is not None:
        derivative = derivative - generator(z)
    return float(derivative.double().pow(2).sum(1).mean()) / spread
