"""Plugins that break the interface in one way each, for the error-message tests."""

from __future__ import annotations

import torch

from equibench.models import Encoder


class NoEncode(Encoder):
    pass


class NotAnEncoder:
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1)


class WrongShape(Encoder):
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return images  # [B, C, H, W], not [B, D]


class ReturnsNaN(Encoder):
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return torch.full((images.shape[0], 3), float("nan"))


class Noisy(Encoder):
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1) + torch.randn(images.shape[0], 784)


class BadOperator(Encoder):
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1)

    def operator(self, transformation):
        return lambda z, k: z[:, :10]
