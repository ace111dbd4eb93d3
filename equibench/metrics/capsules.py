"""The Topographic VAE paper's own equivariance error, E_eq, for latents grouped in capsules.

As in Keller & Welling (2021, ``all_pairs_equivariance_loss``): each capsule is L2-normalised
over its dimension, and E_eq sums the L1 distance between Roll_(t1 - t0) of capsule t0 and
capsule t1 over all frame pairs t0 < t1, all capsules and dimensions, averaged over sequences.
Its scale grows with the latent size, so it is comparable only between models of the same
capsule shape; the normalised ``commutativity_roll`` is the number to rank by.

The paper evaluates it on one posterior sample; the suite averages :data:`EEQ_SAMPLES` such
samples, so that the number varies less from run to run than one draw does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

EEQ_SAMPLES = 4
"""Posterior samples per sequence that ``eeq_tvae`` averages."""


def eeq_tvae(z: torch.Tensor, capsules: int, capsule_dim: int) -> float:
    """E_eq of orbits ``z[S, N, capsules * capsule_dim]``."""
    s = F.normalize(z.double().unflatten(2, (capsules, capsule_dim)), dim=-1)
    n = z.shape[1]
    total = torch.zeros(z.shape[0], dtype=torch.float64)
    for d in range(1, n):
        rolled = s[:, : n - d].roll(d, dims=-1)
        total += (rolled - s[:, d:]).abs().sum(dim=(1, 2, 3))
    return float(total.mean())
