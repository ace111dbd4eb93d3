"""``vicreg``: Variance-Invariance-Covariance Regularization (Bardes, Ponce & LeCun, ICLR 2022), the
invariant self-supervised baseline of SIE, with the same backbone and the same pairs of views.

On a pair ``(x, y = g . x)``, with z the projector's output (the expander's)::

    lambda * MSE(z(x), z(y))  +  mu * [V(z(x)) + V(z(y))] / 2  +  nu * [C(z(x)) + C(z(y))]

with the paper's lambda = mu = 25, nu = 1 (V and C: :func:`~equibench_plugins.joint_embedding.variance`
and :func:`~equibench_plugins.joint_embedding.covariance`). It ignores g: it is trained to be invariant,
declares the identity as its operator and the whole code as its invariant part.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from equibench.groups import Family
from equibench.models import DataSpec, Operator
from equibench.transforms import Transformation
from equibench_plugins.joint_embedding import PairTrained, backbone, common_config, covariance, projector, variance


def vicreg_loss(x: torch.Tensor, y: torch.Tensor, config: dict[str, Any]) -> dict[str, torch.Tensor]:
    """VICReg's terms on the embeddings of two views, and their weighted sum."""
    terms = {"invariance": F.mse_loss(x, y), "variance": (variance(x) + variance(y)) / 2,
             "covariance": covariance(x) + covariance(y)}
    terms["loss"] = (config["sim_coeff"] * terms["invariance"] + config["std_coeff"] * terms["variance"]
                     + config["cov_coeff"] * terms["covariance"])
    return terms


class VICRegNet(nn.Module):
    def __init__(self, config: dict[str, Any], channels: int) -> None:
        super().__init__()
        self.backbone, dim = backbone(config, channels)
        self.projector = projector(dim, config["mlp"])

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return self.projector(self.backbone(images))


class VICReg(PairTrained):
    description = "VICReg (Bardes et al. 2022), SIE's invariant baseline on pairs of views; declares the identity"

    @classmethod
    def default_config(cls, profile: str, spec: DataSpec) -> dict[str, Any]:
        return {**common_config(profile), "sim_coeff": 25.0, "std_coeff": 25.0, "cov_coeff": 1.0}

    def build(self) -> VICRegNet:
        return VICRegNet(self.config, self.spec.image_shape[0])

    def loss(self, x: torch.Tensor, y: torch.Tensor, features: torch.Tensor) -> dict[str, torch.Tensor]:
        return vicreg_loss(self.net.embed(x), self.net.embed(y), self.config)

    def operator(self, transformation: Transformation | Family) -> Operator:
        return lambda z, g: z

    def invariant_dims(self) -> slice:
        return slice(0, self.config["mlp"][-1])
