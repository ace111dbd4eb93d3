"""``sie``: Split Invariant-Equivariant representations (Garrido, Najman & LeCun, ICML 2023).

The backbone's representation is split in two: the first ``D - equivariant_dim`` dimensions are the
invariant part, the rest the equivariant part, each with its own projector (SIE's widths: the
``mlp`` widths scaled by the part's share of the representation). A hypernetwork maps functions
phi(g) of the relative element g (:func:`~equibench_plugins.joint_embedding.hyper_inputs`: angles as
(cos, sin), a 3D turn as its rotation matrix) linearly and without bias to the weights of a linear
map W(g) = H phi(g) on the equivariant embedding. On a pair
``(x, y = g . x)`` the loss is SIE's (``src/models.py``, class ``SIE``)::

    sim * MSE(inv(x), inv(y))  +  equi_factor * sim * MSE(W(g) eq(x), eq(y))
    + std * [V(x) + V(y)] / 2  +  std * V(W(g) eq(x)) / 2  +  cov * [C(x) + C(y)]

with V and C VICReg's variance and covariance terms taken over the whole embedding [inv, eq] of each
view, and the paper's coefficients sim = std = 10, cov = 1, equi_factor = 0.45.

One deviation: on SO(3), phi(g) is the rotation matrix where SIE feeds the quaternion. A linear map of
the quaternion cannot be a representation of SO(3) (q and -q are one rotation), a linear map of the
matrix can (the matrix itself, in blocks), and on the 3D quick set only the matrix lets the
equivariant part learn the pose (docs/ssl.md). ``--set anchored=true`` ties W(e) to the identity,
W(g) = I + H(phi(g) - phi(e)); SIE's form, untied, is the default.

The code is the embedding [inv, eq] (the projectors' output); the declared operator is the predictor,
rho(z, g) = [z_inv, W(g) z_eq], and the invariant part is declared with :meth:`SIE.invariant_dims`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from equibench.errors import ConfigError
from equibench.groups import Family
from equibench.models import DataSpec, Operator
from equibench.transforms import Transformation
from equibench_plugins.joint_embedding import (
    PairTrained, backbone, common_config, covariance, family_of, hyper_inputs, projector, variance,
)


def sie_loss(x_inv: torch.Tensor, x_eq: torch.Tensor, y_inv: torch.Tensor, y_eq: torch.Tensor,
             prediction: torch.Tensor, config: dict[str, Any]) -> dict[str, torch.Tensor]:
    """SIE's terms on the embeddings of two views and the prediction W(g) eq(x), and their weighted sum."""
    x, y = torch.cat([x_inv, x_eq], dim=1), torch.cat([y_inv, y_eq], dim=1)
    terms = {"invariance": F.mse_loss(x_inv, y_inv), "equivariance": F.mse_loss(prediction, y_eq),
             "variance": (variance(x) + variance(y)) / 2, "prediction_variance": variance(prediction) / 2,
             "covariance": covariance(x) + covariance(y)}
    sim, std = config["sim_coeff"], config["std_coeff"]
    terms["loss"] = (sim * terms["invariance"] + config["equi_factor"] * sim * terms["equivariance"]
                     + std * (terms["variance"] + terms["prediction_variance"])
                     + config["cov_coeff"] * terms["covariance"])
    return terms


class SIENet(nn.Module):
    """Backbone, the two projectors and the hypernetwork predictor."""

    def __init__(self, config: dict[str, Any], channels: int, family: Family) -> None:
        super().__init__()
        self.backbone, dim = backbone(config, channels)
        eq = config["equivariant_dim"]
        if not 0 < eq < dim:
            raise ConfigError(f"sie: equivariant_dim {eq} must lie between 1 and {dim - 1}, the backbone's "
                              f"representation being {dim}; use --set equivariant_dim={dim // 2}")
        self.split = dim - eq
        inv_widths = [round(w * self.split / dim) for w in config["mlp"]]  # SIE: np.round(mlp * ratio)
        eq_widths = [round(w * eq / dim) for w in config["mlp"]]
        if min(inv_widths + eq_widths) < 1:
            raise ConfigError(f"sie: the mlp widths {config['mlp']} leave a part of the split without a unit; "
                              "use wider --set mlp=[...]")
        self.projector_inv, self.projector_eq = projector(self.split, inv_widths), projector(eq, eq_widths)
        self.inv_dim, self.eq_dim = inv_widths[-1], eq_widths[-1]
        identity = hyper_inputs(family, family.identity(1))
        self.hypernet = nn.Linear(identity.shape[1], self.eq_dim ** 2, bias=False)  # SIE's linear hypernetwork
        self.register_buffer("anchor", identity if config["anchored"] else None)

    def parts(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r = self.backbone(images)
        return self.projector_inv(r[:, : self.split]), self.projector_eq(r[:, self.split:])

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return torch.cat(self.parts(images), dim=1)

    def predict(self, z_eq: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """W(g) z_eq for one element's ``features`` per row: the hypernetwork's output read as the
        ``[out, in]`` matrix (SIE's ``view(-1, out, in)``), applied without forming it per row."""
        d, f = self.eq_dim, features.shape[1]
        if self.anchor is not None:
            features = features - self.anchor
        weights = self.hypernet.weight.view(d, d, f)  # [out, in, feature]
        moved = (z_eq @ weights.permute(1, 0, 2).reshape(d, d * f)).view(-1, d, f)
        out = (moved * features[:, None, :]).sum(-1)
        return z_eq + out if self.anchor is not None else out


class SIE(PairTrained):
    description = ("Split Invariant-Equivariant SSL (Garrido et al. 2023): invariant and equivariant parts, "
                   "declares [z_inv, W(g) z_eq] with its hypernetwork predictor")
    version = 1  # 1: the hypernetwork reads the rotation matrix on SO(3), not the quaternion; W(g) = H phi(g)

    @classmethod
    def default_config(cls, profile: str, spec: DataSpec) -> dict[str, Any]:
        return {**common_config(profile), "equivariant_dim": 256 if profile == "paper" else 64,
                "sim_coeff": 10.0, "std_coeff": 10.0, "cov_coeff": 1.0, "equi_factor": 0.45, "anchored": False}

    def build(self) -> SIENet:
        return SIENet(self.config, self.spec.image_shape[0], self.family)

    def loss(self, x: torch.Tensor, y: torch.Tensor, features: torch.Tensor) -> dict[str, torch.Tensor]:
        (x_inv, x_eq), (y_inv, y_eq) = self.net.parts(x), self.net.parts(y)
        return sie_loss(x_inv, x_eq, y_inv, y_eq, self.net.predict(x_eq, features), self.config)

    def operator(self, transformation: Transformation | Family) -> Operator:
        """rho(z, g) = [z_inv, W(g) z_eq]; on an orbit dataset g is the step k, an element of the cyclic
        group the model was trained on."""
        family, split = family_of(transformation), self.net.inv_dim

        @torch.no_grad()
        def rho(z: torch.Tensor, g: int | torch.Tensor) -> torch.Tensor:
            if isinstance(g, int):
                g = torch.full((len(z), 1), float(g), dtype=torch.float64)
            z = z.to(self.device)
            moved = self.net.predict(z[:, split:], hyper_inputs(family, g).to(self.device))
            return torch.cat([z[:, :split], moved], dim=1).cpu()

        return rho

    def invariant_dims(self) -> slice:
        return slice(0, self.net.inv_dim)
