"""Reference encoders that validate the metric suite: pixels, PCA and a random MLP.

They are not contenders but calibration points: ``pixels`` declares the image-space action as
its operator (and its generators) and must score zero on exact actions; ``random-mlp`` is rich but structureless, so
its fitted-operator error marks what "no equivariance" looks like; ``pca`` is a linear code
fitted on the training images.
"""

from __future__ import annotations

from typing import Any

import torch
from sklearn.decomposition import PCA
from threadpoolctl import threadpool_limits

from equibench.data.orbits import OrbitSplit
from equibench.groups import Family
from equibench.groups.families import flow
from equibench.models import DataSpec, Encoder, Operator
from equibench.models.encoder import Generator, Progress
from equibench.transforms import Transformation


class Pixels(Encoder):
    description = "raw pixels; declares the image-space action itself as its operator"
    calibration = True

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1)

    def operator(self, transformation: Transformation | Family) -> Operator | None:
        """The image action itself: the cyclic step k, or any element of a view dataset's family;
        nothing for a family that turns 3D objects (SO(3)), whose views are rendered: no map of
        the pixels of one view gives another (the hidden side of the object is not in them)."""
        shape = self.spec.image_shape
        if isinstance(transformation, Family):
            if not transformation.acts_on_images:
                return None
            return lambda z, g: transformation.act(z.unflatten(1, shape), g).flatten(1)
        if not transformation.group_action:
            return None

        def act(z: torch.Tensor, k: int) -> torch.Tensor:
            return transformation.apply(z.unflatten(1, shape), k).flatten(1)

        return act

    def generator(self, transformation: Transformation | Family, name: str) -> Generator | None:
        """The image-space generator X . z of every one-parameter subgroup (the same bilinear flow
        the Lie derivative follows), whatever the dataset."""
        shape = self.spec.image_shape

        def apply(z: torch.Tensor) -> torch.Tensor:
            zero, one = torch.zeros((), dtype=z.dtype), torch.ones((), dtype=z.dtype)
            return torch.func.jvp(lambda t: flow(name, z.unflatten(1, shape), t).flatten(1), (zero,), (one,))[1]

        return apply


class PrincipalComponents(Encoder):
    description = "PCA of the training frames (linear, fitted); declares nothing"
    calibration = True

    @classmethod
    def default_config(cls, profile: str, spec: DataSpec) -> dict[str, Any]:
        return {"components": 64}

    def fit(self, train: OrbitSplit, progress: Progress) -> None:
        """On one BLAS thread: the components' rounding would otherwise follow the thread count, and
        the metrics' MLP heads amplify it (0.867 and 0.862 R² on digits-so2-views-ood, 1 and 2 threads)."""
        pca = PCA(n_components=self.config["components"], svd_solver="covariance_eigh")
        with threadpool_limits(limits=1):
            pca.fit(train.images().flatten(1).numpy())
        self.mean = torch.from_numpy(pca.mean_).float()
        self.components = torch.from_numpy(pca.components_).float()

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return (images.flatten(1).cpu() - self.mean) @ self.components.T

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "components": self.components}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean, self.components = state["mean"], state["components"]


class RandomMLP(Encoder):
    description = "MLP with fixed random weights (seeded); structureless baseline, declares nothing"
    calibration = True

    @classmethod
    def default_config(cls, profile: str, spec: DataSpec) -> dict[str, Any]:
        return {"hidden": 512, "dim": 64}

    def __init__(self, config: dict[str, Any], spec: DataSpec, device: torch.device) -> None:
        super().__init__(config, spec, device)
        inputs = spec.image_shape[0] * spec.image_shape[1] * spec.image_shape[2]
        self.net = torch.nn.Sequential(
            torch.nn.Flatten(), torch.nn.Linear(inputs, config["hidden"]), torch.nn.ReLU(),
            torch.nn.Linear(config["hidden"], config["dim"]),
        ).to(device).eval()

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)

    def state_dict(self) -> dict[str, Any]:
        return self.net.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state)
