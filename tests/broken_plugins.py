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


class BatchMean(Encoder):
    """Subtracts the batch mean: its codes depend on which images share the batch."""

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        z = images.flatten(1)
        return z - z.mean(0)


class Float64(Encoder):
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1).double()


class Integers(Encoder):
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return (images.flatten(1) * 255).long()


class Raises(Encoder):
    """Pixels with a rho and capsules, raising ValueError in the one method named ``where``."""

    where = ""

    @classmethod
    def default_config(cls, profile, spec):
        cls._maybe("default_config")
        return {}

    @classmethod
    def _maybe(cls, method: str) -> None:
        if cls.where == method:
            raise ValueError(f"boom in {method}\nsecond line")

    def __init__(self, config, spec, device) -> None:
        super().__init__(config, spec, device)
        self._maybe("__init__")

    def fit(self, train, progress) -> None:
        self._maybe("fit")

    def state_dict(self):
        self._maybe("state_dict")
        return {}

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        self._maybe("encode")
        return images.flatten(1)

    def operator(self, transformation):
        self._maybe("operator")

        def rho(z, k):
            self._maybe("rho")
            return transformation.apply(z.unflatten(1, self.spec.image_shape), k).flatten(1)

        return rho

    def capsules(self):
        self._maybe("capsules")
        return 196, 4

    def encode_sequences(self, sequences):
        self._maybe("encode_sequences")
        return None

    def log_likelihood(self, sequences):
        self._maybe("log_likelihood")
        return None

    def figures(self, test):
        self._maybe("figures")
        return {}


RAISES_IN = ("default_config", "__init__", "fit", "state_dict", "encode", "operator", "rho", "capsules",
             "encode_sequences", "log_likelihood", "figures")
for _method in RAISES_IN:
    globals()[f"RaisesIn_{_method.strip('_')}"] = type(f"RaisesIn_{_method.strip('_')}", (Raises,), {"where": _method})
