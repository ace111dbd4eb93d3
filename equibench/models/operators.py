"""Latent operators that plugins declare often, as public helpers."""

from __future__ import annotations

import torch

from equibench.models.encoder import Operator


def capsule_roll(capsules: int, capsule_dim: int) -> Operator:
    """Roll by k inside each of ``capsules`` capsules of size ``capsule_dim`` (``torch.roll``,
    shift +k): the operator the Topographic VAE's shifting temporal coherence favours."""

    def roll(z: torch.Tensor, k: int) -> torch.Tensor:
        return z.unflatten(1, (capsules, capsule_dim)).roll(k, dims=2).flatten(1)

    return roll
