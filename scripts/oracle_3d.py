"""The 3DIEBench protocol's upper reference: an oracle whose code is each view's rotation matrix.

    .venv/bin/python scripts/oracle_3d.py                      # writes docs/records/api.oracle__...json

Why: issue 14 asks to see the protocol on a known case in a record, not only in a test
(``tests/test_shapes3d.py`` checks the same oracle on a tiny card). The oracle looks each view's
rotation up by its bytes (it reads the stored elements, which no model may), declares the true
operator rho(z, g) = R(g) z on the 3x3 matrix, and is scored by :func:`equibench.api.evaluate`
exactly as ``equibench run`` scores a model. Its record goes beside the docs, not onto the board:
it is not a model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from equibench import api
from equibench.errors import ConfigError, exit_status
from equibench.groups import quaternions


def oracle(dataset_id: str):
    """The encoder (images -> flattened rotation matrices) and its operator, for ``dataset_id``."""
    data = api.dataset(dataset_id)
    if data.transformation.kind != "so3":
        raise ConfigError(f"{dataset_id} does not turn 3D objects by SO(3) alone; give a shapes3d card of kind 'so3' "
                          "(--dataset shapes3d-euler-views-ood)")
    pose = {frame.numpy().tobytes(): quaternions.to_matrix(element[None])[0].flatten().float()
            for split in data.splits.values()
            for frame, element in zip(split.frames.flatten(0, 1), split.elements.flatten(0, 1))}

    def encode(images: torch.Tensor) -> torch.Tensor:
        return torch.stack([pose[(x * 255).round().to(torch.uint8).numpy().tobytes()] for x in images])

    def rho(z: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return (quaternions.to_matrix(g).float() @ z.view(-1, 3, 3)).flatten(1)

    encode.__name__ = "oracle"
    return encode, rho


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="shapes3d-euler-views-ood")
    parser.add_argument("--out", type=Path, default=Path("docs/records"))
    args = parser.parse_args()
    encode, rho = oracle(args.dataset)
    result = api.evaluate(encode, args.dataset, operator=rho, out=args.out)
    m = result.metrics
    for key in ("transform_r2", "transform_r2_dims", "transform_r2_linear_dims", "h1_orbit", "mrr_orbit",
                "pre_orbit", "transform_r2_ood", "transform_r2_dims_ood", "h1_orbit_ood", "pre_orbit_ood"):
        print(f"{key:26s} {m[key]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(exit_status(main))  # bad input: one line, exit status 2
