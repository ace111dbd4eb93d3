"""A plain VAE over frames of orbit sequences: the Topographic VAE paper's baseline.

The encoder and decoder are the paper's MLPs (784 -> 3d -> 2d -> 2d mean and log-variance;
d -> 2d -> 3d -> 784) with a Bernoulli likelihood on grey values, so that the TVAE
(:mod:`equibench_plugins.tvae`) differs from this model only by its topographic layer. The MLP
builders, the diagonal Gaussian and the Bernoulli likelihood are public names other plugins reuse.

Both models train on whole sequences ``[batch, frames, C, H, W]``, flattened over frames for the
MLPs, so one step is a few matrix products whatever the sequence length or the number of capsules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from equibench.data.orbits import OrbitSplit
from equibench.errors import ConfigError
from equibench.models import DataSpec, Encoder
from equibench.models.encoder import Progress
from equibench.models.operators import capsule_roll
from equibench_plugins.capsule_figures import activations_figure, roll_decoding_figure
from equibench_plugins.topographic import Topographic

PAPER_LATENT = 324  # 18 capsules x 18 dimensions
QUICK_LATENT = 144  # 8 capsules x 18 dimensions on the 18-step datasets
QUICK_STEPS = 60 * 68
"""quick's budget in optimiser steps: its 60 epochs of digits' 1,077 training sequences (68 batches of
16 an epoch). Epochs alone would make a larger training split cost more time (glyphs' 48,000
sequences: 45 times more); capped in steps, quick takes the same few minutes on every dataset."""
OPTIMIZERS = ("sgd", "adam")


def mlp_encoder(image_shape: tuple[int, int, int], latent_dim: int, hidden: list[int]) -> nn.Sequential:
    """Images ``[B, C, H, W]`` -> ``[B, 2 * latent_dim]`` (mean, then log-variance), through
    ReLU layers of widths ``hidden`` (the paper: ``[3 d, 2 d]``)."""
    widths = [math.prod(image_shape), *hidden]
    layers: list[nn.Module] = [nn.Flatten()]
    for w_in, w_out in zip(widths, widths[1:]):
        layers += [nn.Linear(w_in, w_out), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(widths[-1], 2 * latent_dim))


def mlp_decoder(latent_dim: int, image_shape: tuple[int, int, int], hidden: list[int]) -> nn.Sequential:
    """Latents ``[B, latent_dim]`` -> Bernoulli *logits* ``[B, C, H, W]`` through ReLU layers of
    widths ``hidden`` (the paper: ``[2 d, 3 d]``). The paper's final sigmoid is folded into
    :func:`bernoulli_log_likelihood`; apply ``torch.sigmoid`` for pixel means."""
    widths = [latent_dim, *hidden]
    layers: list[nn.Module] = []
    for w_in, w_out in zip(widths, widths[1:]):
        layers += [nn.Linear(w_in, w_out), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(widths[-1], math.prod(image_shape)), nn.Unflatten(1, image_shape))


def transposed_conv_init(decoder: nn.Sequential) -> None:
    """Initialise the Linear layers of ``decoder`` as the reference's ConvTranspose2d layers are by
    default: uniform in +-1/sqrt(fan_in) for weights and biases, with fan_in taken from the
    layer's *output* width (torch reads it from dimension 1 of a transposed convolution's weight).
    At the paper's sizes that is weight std 0.0227 / 0.0185 / 0.0119 against Linear's 0.0321 /
    0.0227 / 0.0185."""
    with torch.no_grad():
        for layer in decoder:
            if isinstance(layer, nn.Linear):
                bound = 1.0 / math.sqrt(layer.out_features)
                layer.weight.uniform_(-bound, bound)
                layer.bias.uniform_(-bound, bound)


def bernoulli_log_likelihood(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """log p(x | logits) summed over ``[C, H, W]``, for grey values x in [0, 1] (not binarised).

    Computed from logits, so no torch.distributions argument check rejects non-binary targets
    and no probability is clamped."""
    return -F.binary_cross_entropy_with_logits(logits, images, reduction="none").flatten(-3).sum(-1)


def log_mean_exp(log_weights: torch.Tensor) -> torch.Tensor:
    """log (1/K) sum_k exp(w_k) over the first dimension, in float64: the importance-sampled log
    p from K log-weights, with the log K that the reference forgets."""
    return log_weights.double().logsumexp(0) - math.log(log_weights.shape[0])


@dataclass(frozen=True)
class Gaussian:
    """A diagonal Gaussian posterior q with an N(0, I) prior; sums run over the last dimension."""

    mean: torch.Tensor
    logvar: torch.Tensor

    @classmethod
    def from_params(cls, params: torch.Tensor) -> Gaussian:
        mean, logvar = params.chunk(2, dim=-1)
        return cls(mean, logvar)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """One reparameterised sample, drawn with ``generator`` (on its device) where given."""
        if generator is None:
            noise = torch.randn_like(self.mean)
        else:
            noise = torch.randn(self.mean.shape, generator=generator, device=generator.device).to(self.mean)
        return self.mean + torch.exp(0.5 * self.logvar) * noise

    def second_moment(self) -> torch.Tensor:
        """E_q[x^2] = mean^2 + variance."""
        return self.mean.square() + self.logvar.exp()

    def kl(self) -> torch.Tensor:
        """KL(q || N(0, I)), analytic."""
        return 0.5 * (self.logvar.exp() + self.mean.square() - 1.0 - self.logvar).sum(-1)

    def log_ratio(self, x: torch.Tensor) -> torch.Tensor:
        """log N(x; 0, I) - log q(x): the latent part of an importance weight."""
        return 0.5 * ((x - self.mean).square() * torch.exp(-self.logvar) + self.logvar - x.square()).sum(-1)


class SequenceVAE(nn.Module):
    """Frames ``[B, T, C, H, W]`` -> codes ``s[B, T, d]``: s = z, or with a topographic layer the
    TVAE's s = (z + mu) / sqrt(W u^2 + eps), z and u from two separate Gaussian encoders."""

    def __init__(self, image_shape: tuple[int, int, int], latent_dim: int, hidden: list[int],
                 topographic: Topographic | None = None) -> None:
        super().__init__()
        self.encoder_z = mlp_encoder(image_shape, latent_dim, hidden)
        self.encoder_u = mlp_encoder(image_shape, latent_dim, hidden) if topographic else None
        self.topographic = topographic
        self.decoder = mlp_decoder(latent_dim, image_shape, hidden[::-1])
        transposed_conv_init(self.decoder)

    def posteriors(self, frames: torch.Tensor) -> list[Gaussian]:
        """q(z | x) and, for the TVAE, q(u | x), per frame: tensors ``[B, T, d]``."""
        images = frames.flatten(0, 1)
        encoders = [self.encoder_z] + ([self.encoder_u] if self.encoder_u is not None else [])
        return [Gaussian.from_params(e(images).unflatten(0, frames.shape[:2])) for e in encoders]

    def codes(self, z: torch.Tensor, u2: torch.Tensor | None, context: bool = True) -> torch.Tensor:
        """s from z and u^2, with the temporal context as trained or each frame alone."""
        return z if self.topographic is None else self.topographic(z, u2, context)

    def sample(self, frames: torch.Tensor, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One posterior sample: codes ``s[B, T, d]`` with the temporal context, log p(latents)
        - log q(latents | x) and KL(q || p), both ``[B, T]``."""
        q = self.posteriors(frames)
        draws = [g.sample(generator) for g in q]
        s = self.codes(draws[0], draws[1].square() if len(draws) > 1 else None)
        return s, sum(g.log_ratio(x) for g, x in zip(q, draws)), sum(g.kl() for g in q)

    def mean_codes(self, frames: torch.Tensor, context: bool = True) -> torch.Tensor:
        """Deterministic codes: s from E[z] and E[u^2] (the mean of u itself is near 0 wherever
        q(u | x) stays close to its prior, and a sum of its squares would be noise)."""
        q = self.posteriors(frames)
        return self.codes(q[0].mean, q[1].second_moment() if len(q) > 1 else None, context)

    def decode(self, s: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits of codes ``s[..., d]`` -> ``[..., C, H, W]``."""
        return self.decoder(s.flatten(0, -2)).unflatten(0, s.shape[:-1])

    def loss(self, frames: torch.Tensor) -> torch.Tensor:
        """The negative ELBO per frame: [sum -log p(x | s) + KL_z + KL_u] / (batch x frames)."""
        s, _, kl = self.sample(frames)
        return (kl - bernoulli_log_likelihood(self.decode(s), frames)).mean()

    def log_weights(self, frames: torch.Tensor) -> torch.Tensor:
        """Per-frame terms of one importance weight, ``[B, T]``: log p(x_t | s_t) + log p - log q."""
        s, log_ratio, _ = self.sample(frames)
        return bernoulli_log_likelihood(self.decode(s), frames) + log_ratio


def make_optimizer(params: Iterable[nn.Parameter], config: dict[str, Any]) -> torch.optim.Optimizer:
    """The configured optimiser (``optimizer``: sgd or adam, ``lr``, ``momentum``), with torch's
    fused kernels where this torch has them for the device: several times faster per step on
    CPU than the default loop, and the same arithmetic."""
    params = list(params)

    def make(**fused: bool) -> torch.optim.Optimizer:
        if config["optimizer"] == "sgd":
            return torch.optim.SGD(params, lr=config["lr"], momentum=config["momentum"], **fused)
        return torch.optim.Adam(params, lr=config["lr"], **fused)

    try:
        return make(fused=True)
    except RuntimeError:  # torch < 2.4 fuses only on CUDA
        return make()


VIEW_CAPSULE_DIM = 18  # a view dataset has no order: capsules as on the 18-step orbit datasets


def base_config(profile: str, spec: DataSpec) -> dict[str, Any]:
    """Settings shared by the VAE and the TVAE. Capsules have the dataset's order N as their
    dimension, and as many of them as keep the latent size near the profile's."""
    latent = PAPER_LATENT if profile == "paper" else QUICK_LATENT
    order = spec.order or VIEW_CAPSULE_DIM
    capsules = max(1, round(latent / order))
    d = capsules * order
    if profile == "paper":
        return {"capsules": capsules, "capsule_dim": order, "hidden": [3 * d, 2 * d],
                "optimizer": "sgd", "lr": 1e-4, "momentum": 0.9, "batch_sequences": 8, "epochs": 100,
                "max_steps": 0, "is_samples": 10}
    return {"capsules": capsules, "capsule_dim": order, "hidden": [512, 256],
            "optimizer": "adam", "lr": 1e-3, "momentum": 0.9, "batch_sequences": 16, "epochs": 60,
            "max_steps": QUICK_STEPS, "is_samples": 10}


class VAE(Encoder):
    description = "VAE with the TVAE paper's MLPs and s = z (its baseline); declares no operator"

    frames_independent = True
    """Whether log p(sequence) factorises over frames, so that each frame may be importance
    sampled on its own (a tighter estimate with the same samples)."""

    @classmethod
    def default_config(cls, profile: str, spec: DataSpec) -> dict[str, Any]:
        return base_config(profile, spec)

    def __init__(self, config: dict[str, Any], spec: DataSpec, device: torch.device) -> None:
        super().__init__(config, spec, device)
        if config["optimizer"] not in OPTIMIZERS:  # checked before any work, not when training starts
            raise ConfigError(f"{type(self).__name__.lower()}: unknown optimizer {config['optimizer']!r}; "
                              f"use --set optimizer= one of {', '.join(OPTIMIZERS)}")
        self.net = self.build().to(device).eval()

    @property
    def latent_dim(self) -> int:
        return self.config["capsules"] * self.config["capsule_dim"]

    def build(self) -> SequenceVAE:
        return SequenceVAE(self.spec.image_shape, self.latent_dim, self.config["hidden"])

    def optimizer(self) -> torch.optim.Optimizer:
        return make_optimizer(self.net.parameters(), self.config)

    def fit(self, train: OrbitSplit, progress: Progress) -> None:
        """Minibatches of whole sequences, reshuffled every epoch (torch's seeded generator), for
        ``epochs`` epochs or ``max_steps`` optimiser steps, whichever ends first (0: epochs alone)."""
        frames, batch = train.frames.to(self.device), self.config["batch_sequences"]
        per_epoch = math.ceil(len(frames) / batch)
        steps = self.config["epochs"] * per_epoch
        if self.config["max_steps"] > 0:
            steps = min(steps, self.config["max_steps"])
        epochs = math.ceil(steps / per_epoch)
        optimizer = self.optimizer()
        self.net.train()
        for epoch in progress(range(epochs), desc=f"train {type(self).__name__.lower()}", total=epochs):
            for idx in torch.randperm(len(frames)).split(batch)[: steps - epoch * per_epoch]:
                loss = self.net.loss(frames[idx.to(self.device)].float().div_(255.0))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        self.net.eval()

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Per-image codes: each image a sequence of one frame, its window reduced to itself."""
        return self.net.mean_codes(images.unsqueeze(1), context=False).squeeze(1)

    @torch.no_grad()
    def sample_sequences(self, sequences: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One posterior sample of the codes: z (and u) drawn per frame, s = z for the VAE, and
        for the TVAE s with the temporal window as trained (the paper's E_eq is on these)."""
        return self.net.sample(sequences, generator)[0]

    def capsules(self) -> tuple[int, int]:
        """The TVAE's capsule shape, so that this baseline is scored under the same Roll."""
        return self.config["capsules"], self.config["capsule_dim"]

    @torch.no_grad()
    def log_likelihood(self, sequences: torch.Tensor) -> torch.Tensor:
        """Importance-sampled log p of each sequence with q as proposal, in nats:
        log (1/K) sum_k w_k, w_k the weight of the k-th joint sample of the whole sequence (or,
        where frames are independent, the same per frame and summed)."""
        k = self.config["is_samples"]
        w = torch.stack([self.net.log_weights(sequences) for _ in range(k)]).double()  # [K, S, T]
        if self.frames_independent:
            return log_mean_exp(w).sum(-1)
        return log_mean_exp(w.sum(-1))

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """Pixel means decoded from the per-image codes."""
        return torch.sigmoid(self.net.decode(self.encode(images)))

    @torch.no_grad()
    def figures(self, test: OrbitSplit) -> dict[str, Any]:
        """The paper's Figure 1 (Roll the codes of frame 0, decode) and the capsules' activations
        over the first test sequence."""
        frames = test.frames[:1].to(self.device).float().div_(255.0)
        context = self.net.mean_codes(frames)[0]
        roll = capsule_roll(*self.capsules())
        rolled = torch.cat([roll(context[:1], k) for k in range(frames.shape[1])])
        decoded = torch.sigmoid(self.net.decode(rolled))
        codes = {"encode": self.encode(frames[0])}
        if not self.frames_independent:
            codes["encode_sequences"] = context
        return {
            "roll_decoding": roll_decoding_figure(frames[0].cpu(), decoded.cpu(), type(self).__name__),
            "capsule_activations": activations_figure({k: v.cpu() for k, v in codes.items()}, self.capsules()),
        }

    def state_dict(self) -> dict[str, Any]:
        return self.net.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state)
