"""A complete third-party equibench plugin: pixels averaged over 4x4 blocks.

Average pooling over blocks that tile the 28x28 frame commutes with quarter turns and with
shifts by whole blocks, so this encoder declares the image-space action on its 7x7 code for
exactly those transformations, and nothing for the others.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from equibench.models import DataSpec, Encoder, Operator
from equibench.transforms import Transformation


class PooledPixels(Encoder):
    description = "pixels average-pooled over blocks (example third-party plugin)"

    @classmethod
    def default_config(cls, profile: str, spec: DataSpec) -> dict[str, Any]:
        return {"block": 4}

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(images, self.config["block"]).flatten(1)

    def operator(self, transformation: Transformation) -> Operator | None:
        if transformation.kind != "rot" or not transformation.exact:
            return None
        c, h, w = self.spec.image_shape
        block = self.config["block"]

        def act(z: torch.Tensor, k: int) -> torch.Tensor:
            return transformation.apply(z.unflatten(1, (c, h // block, w // block)), k).flatten(1)

        return act
