"""``gcnn``: a C_N-equivariant steerable CNN (escnn), the benchmark's equivariant-by-construction row.

The representation f(x) is K regular fields of C_N averaged over space, ``[B, K * N]`` (see
:mod:`equibench_plugins.steerable`). A rotation of the input by ``360 / N`` degrees is the
generator of C_N and acts on f as a cyclic shift by one inside every field. The last block is as
wide as the ``vae`` plugin's latent (144 in the quick profile: 8 fields of 18 for N = 18), so the
two are scored in latents of one size and, where N is the dataset's order, one capsule shape.

Declared operator. On a rotation dataset of order M with M dividing N, one dataset step (``360 / M``
degrees) is the element ``N / M`` of C_N, so rho(k) shifts every field by ``k * N / M``. It is exact
(up to float rounding) for rotations by multiples of 90 degrees, which permute pixels, and only
approximate for other angles, which the pixel grid cannot represent. Nothing is declared for shift,
scale or hue, for composites such as rotation + hue (the hue step changes f too), or for an M that
does not divide N. The field layout ``(K, N)`` is always reported, so that the harness can score
Roll-by-k where N equals the dataset's order.

Objectives (``objective``):

- ``classify``: cross-entropy on the base label from the invariant vector (the maximum over each
  field: group pooling), as G-CNNs are normally trained; the record says it used labels.
- ``vae``: the network is the mean of a Gaussian posterior (an equivariant 1x1 map of the pooled
  fields gives the mean, K regular fields, and one invariant log-variance per field), decoded by
  the ``vae`` plugin's MLP decoder with its Bernoulli likelihood; it gets a log-likelihood too.

``train = false`` keeps the seeded initial weights: equivariance by construction alone. Evaluation
encodes with the network exported to plain PyTorch (``Conv2d``, ``BatchNorm2d``), which gives the
same outputs as the escnn network without its wrappers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from escnn import gspaces, nn

from equibench.data.orbits import OrbitSplit
from equibench.errors import ConfigError
from equibench.models import DataSpec, Encoder, Operator
from equibench.models.encoder import Progress
from equibench.models.operators import capsule_roll
from equibench.transforms import Transformation
from equibench_plugins.steerable import build_trunk, export_to_torch
from equibench_plugins.vae import (
    PAPER_LATENT, QUICK_LATENT, Gaussian, base_config, bernoulli_log_likelihood, log_mean_exp, mlp_decoder,
)

OBJECTIVES = ("classify", "vae")
MASK_MARGIN = 1.0  # percent of the radius: keep the inscribed disc, fade out the corners
CPU_CHUNK = 128  # images per pass on the CPU: the first block's activations for the harness's 512
# images (107 MB) fall out of cache, and 128 at a time encode 2x faster (digits-rot18, 1 thread)


class GCNN(Encoder):
    description = ("C_N-equivariant steerable CNN (escnn): K regular fields pooled over space; "
                   "declares the cyclic shift of each field for rotations of order dividing N")

    @classmethod
    def default_config(cls, profile: str, spec: DataSpec) -> dict[str, Any]:
        rotation = "rot" in spec.transformation.kind.split("+")
        quick = profile == "quick"
        vae = base_config(profile, spec)
        return {
            "N": spec.order if rotation else 8,
            "channels": [72, 144, QUICK_LATENT] if quick else [144, 288, PAPER_LATENT],
            "objective": "classify",
            "train": True,
            "epochs": 8 if quick else 30,
            "frames_per_sequence": 2 if quick else 18,
            "batch_size": 64 if quick else 128,
            "lr": 0.02,
            "decoder_hidden": vae["hidden"][::-1],
            "is_samples": vae["is_samples"],
        }

    def __init__(self, config: dict[str, Any], spec: DataSpec, device: torch.device) -> None:
        super().__init__(config, spec, device)
        if config["objective"] not in OBJECTIVES:
            raise ConfigError(f"gcnn: objective {config['objective']!r} is not one of {', '.join(OBJECTIVES)}")
        channels, size = spec.image_shape[0], spec.image_shape[-1]
        gspace = gspaces.rot2dOnR2(config["N"])
        self.in_type = nn.FieldType(gspace, [gspace.trivial_repr] * channels)
        self.mask = nn.MaskModule(self.in_type, size, margin=MASK_MARGIN).mask.detach().to(device)
        encoder = build_trunk(self.in_type, config["channels"], size)
        fields = encoder.out_type
        self.fields, self.latent_dim = len(fields), fields.size
        modules: dict[str, torch.nn.Module] = {"encoder": encoder}
        if config["objective"] == "classify":
            self.group_pool = nn.GroupPooling(fields)
            modules["head"] = torch.nn.Linear(self.fields, spec.num_classes)
        else:
            log_variances = nn.FieldType(gspace, [gspace.trivial_repr] * self.fields)
            encoder.add_module("posterior", nn.R2Conv(fields, fields + log_variances, kernel_size=1))
            modules["decoder"] = mlp_decoder(self.latent_dim, spec.image_shape, config["decoder_hidden"])
        self.net = torch.nn.ModuleDict(modules).to(device).eval()
        self._exported: torch.nn.Sequential | None = None

    @property
    def supervision(self) -> str:  # overrides the ClassVar: only the classify objective uses labels
        return "labels" if self.config["train"] and self.config["objective"] == "classify" else "none"

    def fit(self, train: OrbitSplit, progress: Progress) -> None:
        """Adam with a one-cycle schedule: a high peak rate trains the few quick epochs well."""
        if not self.config["train"]:
            return
        epochs, batch = self.config["epochs"], self.config["batch_size"]
        steps = epochs * -(-train.num_sequences * self._frames_per_sequence(train) // batch)
        optimiser = torch.optim.Adam(self.net.parameters(), lr=self.config["lr"])
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, self.config["lr"], total_steps=steps)
        self.net.train()
        for _ in progress(range(epochs), desc=f"train gcnn ({self.config['objective']})", total=epochs):
            for x, y in self._batches(train):
                loss = self._classify_loss(x, y) if self.config["objective"] == "classify" else self._vae_loss(x)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
        self.net.eval()
        self._exported = None

    def _frames_per_sequence(self, train: OrbitSplit) -> int:
        return min(self.config["frames_per_sequence"], train.frames.shape[1])

    def _batches(self, train: OrbitSplit) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch: ``frames_per_sequence`` distinct random frames of every sequence, shuffled.
        The frames of one orbit are nearly redundant for an equivariant network, so a few suffice."""
        s, per = train.num_sequences, self._frames_per_sequence(train)
        frame = torch.rand(s, train.frames.shape[1]).argsort(dim=1)[:, :per].flatten()
        sequence = torch.arange(s).repeat_interleave(per)
        for idx in torch.randperm(len(sequence)).split(self.config["batch_size"]):
            i, t = sequence[idx], frame[idx]
            yield train.frames[i, t].to(self.device).float().div_(255.0), train.labels[i].to(self.device)

    def _encoder_output(self, images: torch.Tensor, exported: bool = False) -> torch.Tensor:
        """The encoder's output ``[B, C]`` (f, then the log-variances for the vae objective)."""
        images = images.to(self.device) * self.mask
        if not exported:
            return self.net["encoder"](self.in_type(images)).tensor.flatten(1)
        if self._exported is None:
            self._exported = export_to_torch(self.net["encoder"]).to(self.device)
        return self._exported(images)

    def _posterior(self, output: torch.Tensor) -> Gaussian:
        """q(z | x): mean f(x), and each field's log-variance spread over its N dimensions, so
        that a shift inside a field leaves the variances as they were."""
        mean, log_variance = output.split([self.latent_dim, self.fields], dim=1)
        return Gaussian(mean, log_variance.repeat_interleave(self.config["N"], dim=1))

    def _classify_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fields = self.net["encoder"](self.in_type(x * self.mask))
        return F.cross_entropy(self.net["head"](self.group_pool(fields).tensor.flatten(1)), y)

    def _vae_loss(self, x: torch.Tensor) -> torch.Tensor:
        """The negative ELBO per image."""
        q = self._posterior(self._encoder_output(x))
        return (q.kl() - bernoulli_log_likelihood(self.net["decoder"](q.sample()), x)).mean()

    @torch.no_grad()
    def features(self, images: torch.Tensor, exported: bool = True) -> torch.Tensor:
        """f(x) ``[B, K * N]`` through the exported network, or through escnn's own modules; on the
        CPU ``CPU_CHUNK`` images at a time (the same bits as one pass over the batch, tested)."""
        chunks = images.split(CPU_CHUNK) if self.device.type == "cpu" else [images]
        return torch.cat([self._encoder_output(chunk, exported)[:, : self.latent_dim] for chunk in chunks])

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images)

    def operator(self, transformation: Transformation) -> Operator | None:
        """Shift every regular field by ``k * N / M`` (see the module docstring), or None."""
        n, m = self.config["N"], transformation.order
        if transformation.kind != "rot" or n % m:
            return None
        shift = capsule_roll(self.fields, n)
        return lambda z, k: shift(z, k * (n // m))

    def capsules(self) -> tuple[int, int]:
        return self.fields, self.config["N"]

    @torch.no_grad()
    def log_likelihood(self, sequences: torch.Tensor) -> torch.Tensor | None:
        """Importance-sampled log p of each sequence (frames are independent: the sum over frames
        of log (1/S) sum_s w_s, q as proposal), in nats; None for the classify objective."""
        if self.config["objective"] != "vae":
            return None
        images = sequences.flatten(0, 1)
        q = self._posterior(self._encoder_output(images, exported=True))
        samples = [q.sample() for _ in range(self.config["is_samples"])]
        w = torch.stack([bernoulli_log_likelihood(self.net["decoder"](z), images) + q.log_ratio(z) for z in samples])
        return log_mean_exp(w).view(sequences.shape[:2]).sum(-1)

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor) -> torch.Tensor | None:
        """Pixel means decoded from f(x) (vae objective only)."""
        return torch.sigmoid(self.net["decoder"](self.encode(images))) if self.config["objective"] == "vae" else None

    def state_dict(self) -> dict[str, Any]:
        return self.net.state_dict()  # in eval mode, as escnn asks: R2Conv's filter buffers included

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state)
        self._exported = None
