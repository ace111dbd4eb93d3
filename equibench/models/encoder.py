"""The model plugin interface: what an encoder must do to be benchmarked.

A plugin is a subclass of :class:`Encoder` registered under the entry-point group
``equibench.models`` (see README, "Writing a plugin"). Only :meth:`Encoder.encode` is required;
everything else has a default that means "this model does not do that", and the matching
metrics are reported as null. Model code needs nothing from equibench beyond this module and
the public helpers in :mod:`equibench.models.operators`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from equibench.data.orbits import OrbitSplit
from equibench.groups import Family
from equibench.transforms import Transformation

Operator = Callable[[torch.Tensor, int | torch.Tensor], torch.Tensor]
"""A declared latent operator: ``rho(z, g)`` maps latents ``[B, D]`` of x to those of g . x. On an
orbit dataset g is the step k, an int (g^k, the same for the whole batch); on a view dataset g is a
float64 tensor ``[B, p]``, one element per row in the parameters of the dataset's family
(:mod:`equibench.groups`)."""

Generator = Callable[[torch.Tensor], torch.Tensor]
"""A declared generator: ``A(z)`` is d/dt rho(exp(tX)) z at t = 0, for latents ``[B, D]``."""

Progress = Callable[..., Iterable]
"""``progress(iterable, desc=..., total=...)`` wraps a loop in the harness's progress bar."""


class NotMeasurable(Exception):
    """Raised by an optional method when the metric it feeds says nothing for this model or config
    (its message says why): the metric is reported null with that reason in the record's
    ``null_reasons``, and the run goes on. Any other exception from plugin code is a crash."""


@dataclass(frozen=True)
class DataSpec:
    """What a model may know about a dataset before training: shapes and the transformation."""

    dataset: str
    image_shape: tuple[int, int, int]
    num_classes: int
    transformation: Transformation | Family  # a view dataset's family (its order is None)

    @property
    def order(self) -> int | None:
        return self.transformation.order


class Encoder(ABC):
    """Base class of every model plugin.

    The harness builds the model with its full config (``default_config`` updated by the
    user's ``--set key=value``), either trains it with :meth:`fit` or restores it with
    :meth:`load_state_dict` from a checkpoint of the same config, then encodes images.
    """

    description: ClassVar[str] = ""
    calibration: ClassVar[bool] = False  # True for reference encoders (pixels, pca, random-mlp): the
    # leaderboard shows them in a calibration block of their own, never ranked against learned models
    supervision: ClassVar[str] = "none"  # "labels" where fit() uses the base labels; the runner
    # reads it from the instance, so a property may override it where it depends on the config
    version: ClassVar[int] = 0  # bump it when a change makes the plugin train or encode differently:
    # checkpoints are kept per version, and a sweep scores a record of another version again

    def __init__(self, config: dict[str, Any], spec: DataSpec, device: torch.device) -> None:
        self.config = config
        self.spec = spec
        self.device = device

    @classmethod
    def default_config(cls, profile: str, spec: DataSpec) -> dict[str, Any]:
        """Every setting of the model for a profile (``quick`` or ``paper``); ``--set`` may
        override only keys that appear here, with values of the same type."""
        return {}

    def fit(self, train: OrbitSplit, progress: Progress) -> None:
        """Train on the ``train`` split (sequences, labels, steps). Fixed encoders do nothing."""

    @abstractmethod
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Map images ``[B, C, H, W]`` in [0, 1] to latents ``[B, D]``.

        Must be a deterministic function of each image alone (posterior mean, eval mode).
        """

    def operator(self, transformation: Transformation | Family) -> Operator | None:
        """The latent operator the model claims for ``transformation`` (a cyclic
        :class:`~equibench.transforms.Transformation`, or a view dataset's
        :class:`~equibench.groups.Family`), or None if it claims none."""
        return None

    def generator(self, transformation: Transformation | Family, name: str) -> Generator | None:
        """The generator of the declared operator along the one-parameter subgroup ``name`` (``rot``,
        ``tx``, ``ty``, ``scale``, ``hue``; :func:`equibench.groups.families.flow`), for the Lie
        derivative of a continuous operator; None where it declares none."""
        return None

    def invariant_dims(self) -> slice | None:
        """The dimensions of f(x) the model declares invariant to the dataset's transformations, as a
        slice of the code's last axis (SIE's invariant part, say), so that they can be probed on
        their own; None where it declares none."""
        return None

    def capsules(self) -> tuple[int, int] | None:
        """Latent layout ``(capsules, capsule_dim)`` under which Roll is meaningful, if any.

        When ``capsule_dim`` equals the dataset's order, the harness also scores the model under
        Roll-by-k inside capsules (``commutativity_roll``) and with the TVAE paper's E_eq.
        """
        return None

    def encode_sequences(self, sequences: torch.Tensor) -> torch.Tensor | None:
        """Deterministic latents of whole sequences ``[S, N, C, H, W] -> [S, N, D]``, for models
        whose code of a frame depends on its neighbours in time (the TVAE); None where it does
        not (``eeq_tvae_context_mean``). Raise :class:`NotMeasurable` where such codes would be
        equivariant by construction, whatever the model learnt."""
        return None

    def sample_sequences(self, sequences: torch.Tensor, generator: torch.Generator) -> torch.Tensor | None:
        """One posterior *sample* of the codes of whole sequences ``[S, N, C, H, W] -> [S, N, D]``,
        drawn with ``generator`` (a seeded CPU generator: draw on its device, then move), for
        probabilistic models; None for deterministic ones. The TVAE paper computes its E_eq on
        such a sample (``eeq_tvae``), with each frame's code using its temporal context."""
        return None

    def log_likelihood(self, sequences: torch.Tensor) -> torch.Tensor | None:
        """log p of each sequence ``[S, N, C, H, W] -> [S]`` in nats, or None."""
        return None

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor | None:
        """Reconstructions of ``images``, same shape, or None."""
        return None

    def figures(self, test: OrbitSplit) -> dict[str, Any]:
        """Named matplotlib figures to save beside the result record (may be empty)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint must hold to restore the fitted model; empty for fixed encoders."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
