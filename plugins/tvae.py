"""The Topographic VAE (Keller & Welling, NeurIPS 2021, arXiv 2109.01394).

The VAE of :mod:`equibench_plugins.vae` with a second Gaussian encoder q(u | x) and the
topographic layer s = (z + mu) / sqrt(W u^2 + eps) of :mod:`equibench_plugins.topographic`.
With shifting temporal coherence the model is encouraged to satisfy s_(t+1) = Roll_(+1)(s_t)
inside every capsule, which is the operator it declares when the capsule dimension equals the
order of the dataset's transformation.

Three codes: :meth:`TVAE.encode` is the per-image code (the temporal window reduced to the
image itself), what every metric of the harness uses; :meth:`TVAE.encode_sequences` is the
posterior-mean code with the temporal window as trained, over the whole sequence;
``sample_sequences`` (from the VAE) one posterior sample of it, on which the paper computes E_eq.
See docs/tvae.md for the fidelity to the reference and what it gets wrong.
"""

from __future__ import annotations

from typing import Any

import torch

from equibench.errors import ConfigError
from equibench.models import DataSpec, Operator
from equibench.models.operators import capsule_roll
from equibench.transforms import Transformation
from equibench_plugins.topographic import Topographic, time_window
from equibench_plugins.vae import VAE, SequenceVAE, base_config


class TVAE(VAE):
    description = "Topographic VAE (Keller & Welling 2021); declares Roll inside capsules"

    frames_independent = False  # s_t depends on u at neighbouring frames

    @classmethod
    def default_config(cls, profile: str, spec: DataSpec) -> dict[str, Any]:
        return {**base_config(profile, spec), "variant": "L13/36" if profile == "paper" else "L5/36",
                "kernel": 3, "mu_init": 30.0}

    def build(self) -> SequenceVAE:
        c = self.config
        if self.spec.order is None:
            raise ConfigError(f"tvae learns from orbits (sequences of frames); {self.spec.dataset} is a view "
                              "dataset: use an orbit dataset such as digits-rot18")
        window, shifting = time_window(c["variant"], self.spec.order)
        layer = Topographic(c["capsules"], c["capsule_dim"], window, c["kernel"], shifting, c["mu_init"])
        return SequenceVAE(self.spec.image_shape, self.latent_dim, c["hidden"], layer)

    def operator(self, transformation: Transformation) -> Operator | None:
        """Roll by k inside every capsule, where a capsule spans the transformation's order."""
        if transformation.order != self.config["capsule_dim"]:
            return None
        return capsule_roll(*self.capsules())

    @torch.no_grad()
    def encode_sequences(self, sequences: torch.Tensor) -> torch.Tensor:
        """Posterior-mean codes with the temporal window as trained, ``[S, N, C, H, W] -> [S, N, d]``.

        Informative under every variant: even where a shifting window spans the whole circular
        sequence (L1/2), the square kernel's two clipped ends keep W u^2 from depending on i - t
        alone, and chi-squared noise in place of u^2 scores E_eq in the hundreds (docs/tvae.md)."""
        return self.net.mean_codes(sequences)
