"""How much ink the base images of a dataset carry, and how wide their edges are.

    .venv/bin/python scripts/ink_statistics.py --datasets digits-rot18 glyphs-rot18
    .venv/bin/python scripts/ink_statistics.py --datasets mnist-rot18 --data-root <root>   # local MNIST

Why: the glyph source is meant to look like handwriting (docs/glyphs.md). Printed per dataset, on
each ``test`` base image as it was drawn (its view at the identity; at most ``--limit``),
intensities in [0, 1]: the mean ink (sum of intensities), the pixels above 0.5 (the strokes'
cores), above 0.1, and strictly between 0.1 and 0.9 (the edges: wide for a blurred image, narrow
for a sharp one), and the width / height of the bounding box of the pixels above 0.5 (mean, and
quartiles in brackets).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from where_misses_fall import shapes, upright

from equibench import api
from equibench.data.orbits import OrbitSplit
from equibench.errors import ConfigError, exit_status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["digits-rot18", "glyphs-rot18"])
    parser.add_argument("--data-root", type=Path, help="folder holding MNIST / Fashion-MNIST")
    parser.add_argument("--limit", type=int, default=4000, help="base images read per dataset")
    args = parser.parse_args()
    for name in args.datasets:
        test = api.dataset(name, data_root=args.data_root).splits["test"]
        if not isinstance(test, OrbitSplit):
            raise ConfigError(f"--datasets {name}: give cyclic cards, whose base images are views at the identity, "
                              "e.g. glyphs-rot18")
        drawn = upright(test)[: args.limit]
        x, ratio = drawn.flatten(1), shapes(drawn)["width / height"]
        quartiles = torch.quantile(ratio, torch.tensor([0.25, 0.5, 0.75]))
        print(f"{name:16s} images {len(x):5d}  ink {x.sum(1).mean():6.1f}  above 0.5 {(x > 0.5).sum(1).float().mean():6.1f}"
              f"  above 0.1 {(x > 0.1).sum(1).float().mean():6.1f}"
              f"  edges (0.1, 0.9) {((x > 0.1) & (x < 0.9)).sum(1).float().mean():6.1f}"
              f"  width / height {ratio.mean():.2f} ({', '.join(f'{q:.2f}' for q in quartiles.tolist())})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(exit_status(main))  # bad input: one line, exit status 2
