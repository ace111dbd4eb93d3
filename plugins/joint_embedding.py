"""What the self-supervised plugins ``sie`` and ``vicreg`` share: the backbones, the projector, the
VICReg variance and covariance terms, and training on pairs of views of one base image.

Training follows SIE's 3DIEBench loader: every epoch, each base image of ``train`` gives one pair of
distinct views drawn uniformly (``np.random.choice(V, 2, replace=False)`` there), with the element
that carries the first view to the second, ``family.relative(e_1, e_2)``. A view dataset stores each
view's element; an orbit dataset's frames are the steps k of the cyclic group
(:class:`equibench.groups.Cyclic`), so both train on any family. The optimiser is SIE's: Adam with
weight decay and a constant rate. The code the harness scores is the projectors' output (the
embedding), where SIE's predictor acts and where SIE scores it (see docs/ssl.md).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from equibench.data.orbits import Split
from equibench.errors import ConfigError
from equibench.groups import Cyclic, Family
from equibench.models import DataSpec, Encoder
from equibench.models.encoder import Progress
from equibench.transforms import Transformation

BACKBONES = ("cnn", "resnet18")
STD_EPS = 1e-4  # VICReg's sqrt(Var + eps)


def hyper_inputs(family: Family, g: torch.Tensor) -> torch.Tensor:
    """What a predictor conditioned on the relative element reads of it, float32 ``[n, F]``: the
    family's first-harmonic functions (:meth:`equibench.groups.Family.conditioning`), in which a
    linear map can be a representation: (cos, sin) of each angle, the rotation matrix on SO(3)."""
    return family.conditioning(g, 1).float()


def family_of(transformation: Transformation | Family) -> Family:
    """A view dataset's family itself; an orbit dataset's steps as the cyclic group they are."""
    return transformation if isinstance(transformation, Family) else Cyclic(transformation)


def elements_of(split: Split) -> torch.Tensor:
    """The element of every view, float64 ``[S, V, p]``: a view split's stored elements, or an orbit
    split's steps as elements of :class:`~equibench.groups.Cyclic`."""
    elements = getattr(split, "elements", None)
    return elements if elements is not None else split.steps[..., None].double()


def cnn(channels: int, widths: list[int]) -> nn.Sequential:
    """3x3 convolutions with batch norm and ReLU, stride 1 then 2 at every later stage, averaged over
    space: ``[B, C, H, W] -> [B, widths[-1]]``."""
    layers: list[nn.Module] = []
    for i, (w_in, w_out) in enumerate(zip([channels, *widths], widths)):
        layers += [nn.Conv2d(w_in, w_out, 3, stride=1 if i == 0 else 2, padding=1, bias=False),
                   nn.BatchNorm2d(w_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())


def resnet18(channels: int) -> nn.Module:
    """torchvision's ResNet-18 with zero-initialised residual branches (as SIE builds it), its first
    convolution taking ``channels`` and no classifier: ``[B, C, H, W] -> [B, 512]``."""
    net = torchvision.models.resnet18(zero_init_residual=True)
    net.conv1 = nn.Conv2d(channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
    net.fc = nn.Identity()
    return net


def backbone(config: dict[str, Any], channels: int) -> tuple[nn.Module, int]:
    """The configured backbone and the size of its representation."""
    if config["backbone"] == "resnet18":
        return resnet18(channels), 512
    return cnn(channels, config["cnn_widths"]), config["cnn_widths"][-1]


def projector(dim: int, widths: list[int]) -> nn.Sequential:
    """VICReg's and SIE's projector (expander): Linear, BatchNorm, ReLU for every width but the last,
    then a Linear without bias."""
    sizes = [dim, *widths]
    layers: list[nn.Module] = []
    for w_in, w_out in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(w_in, w_out), nn.BatchNorm1d(w_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1], bias=False))


def variance(z: torch.Tensor) -> torch.Tensor:
    """VICReg's variance term of one branch: the mean over dimensions of max(0, 1 - sqrt(Var + eps))."""
    return F.relu(1.0 - torch.sqrt(z.var(dim=0) + STD_EPS)).mean()


def covariance(z: torch.Tensor) -> torch.Tensor:
    """VICReg's covariance term of one branch: the squared off-diagonal entries of the batch
    covariance, summed and divided by the dimension."""
    z = z - z.mean(dim=0)
    cov = z.T @ z / (len(z) - 1)
    return (cov.square().sum() - cov.diagonal().square().sum()) / z.shape[1]


def common_config(profile: str) -> dict[str, Any]:
    """The settings both plugins share. ``paper``: SIE's 3DIEBench run (ResNet-18, batch 1024, 2000
    epochs, Adam 1e-3, weight decay 1e-6); ``quick``: a small CNN that trains in minutes on 2 cores.
    ``cnn_widths`` is read by the ``cnn`` backbone only."""
    if profile == "paper":
        return {"backbone": "resnet18", "cnn_widths": [16, 32, 64, 128], "mlp": [2048, 2048, 2048],
                "batch_size": 1024, "epochs": 2000, "lr": 1e-3, "weight_decay": 1e-6}
    return {"backbone": "cnn", "cnn_widths": [16, 32, 64, 128], "mlp": [256, 256, 256],
            "batch_size": 128, "epochs": 100, "lr": 1e-3, "weight_decay": 1e-6}


class PairTrained(Encoder):
    """An encoder trained on pairs of views of one base image (see the module docstring). A subclass
    builds ``self.net`` with :meth:`build` and defines :meth:`loss` on a batch of pairs."""

    @classmethod
    def _name(cls) -> str:
        return cls.__name__.lower()

    def __init__(self, config: dict[str, Any], spec: DataSpec, device: torch.device) -> None:
        super().__init__(config, spec, device)
        if config["backbone"] not in BACKBONES:
            raise ConfigError(f"{self._name()}: unknown backbone {config['backbone']!r}; use --set backbone= one of "
                              f"{', '.join(BACKBONES)}")
        if config["batch_size"] < 2:
            raise ConfigError(f"{self._name()}: batch_size {config['batch_size']} has no variance to regularise; "
                              "use --set batch_size=2 or more")
        self.family = family_of(spec.transformation)
        self.net = self.build().to(device).eval()

    @abstractmethod
    def build(self) -> nn.Module:
        """The network: ``embed(images)`` gives the code, the rest is what :meth:`loss` uses."""

    @abstractmethod
    def loss(self, x: torch.Tensor, y: torch.Tensor, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """The terms of the loss on views ``x`` and ``y`` (``y = g . x``, ``features`` what
        :func:`hyper_inputs` reads of g) and their weighted sum under ``"loss"``."""

    def fit(self, train: Split, progress: Progress) -> None:
        frames, elements = train.frames, elements_of(train)
        count, views = frames.shape[:2]
        batch, epochs = self.config["batch_size"], self.config["epochs"]
        if views < 2:
            raise ConfigError(f"{self._name()} trains on pairs of views; {self.spec.dataset} has one view per image")
        if batch > count:
            raise ConfigError(f"{self._name()}: batch_size {batch} exceeds the {count} base images of the train "
                              f"split; use --set batch_size={count} or less")
        optimiser = torch.optim.Adam(self.net.parameters(), lr=self.config["lr"],
                                     weight_decay=self.config["weight_decay"])
        self.net.train()
        for _ in progress(range(epochs), desc=f"train {self._name()}", total=epochs):
            first = torch.randint(views, (count,))
            second = (first + torch.randint(1, views, (count,))) % views  # two distinct views, uniformly
            for idx in torch.randperm(count).split(batch):
                if len(idx) < batch:  # the shuffle's remainder: a variance over a handful of pairs is noise
                    continue
                i, j = first[idx], second[idx]
                g = self.family.relative(elements[idx, i], elements[idx, j])
                x, y = (frames[idx, v].to(self.device).float().div_(255.0) for v in (i, j))
                loss = self.loss(x, y, hyper_inputs(self.family, g).to(self.device))["loss"]
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        self.net.eval()

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """The embedding (the projectors' output) in eval mode."""
        return self.net.embed(images.to(self.device))

    def state_dict(self) -> dict[str, Any]:
        return self.net.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state)
