"""How much ink the base images of a dataset carry, and how wide their edges are.

    .venv/bin/python scripts/ink_statistics.py --datasets digits-rot18 glyphs-rot18
    .venv/bin/python scripts/ink_statistics.py --datasets mnist-rot18 --data-root <root>   # local MNIST

Why: the glyph source is meant to look like handwriting (docs/glyphs.md). Printed per dataset, on
the first view of each ``test`` base image (at most ``--limit``), intensities in [0, 1]: the mean
ink (sum of intensities), the pixels above 0.5 (the strokes' cores), above 0.1, and strictly
between 0.1 and 0.9 (the edges: wide for a blurred image, narrow for a sharp one).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from equibench import api
from equibench.errors import exit_status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["digits-rot18", "glyphs-rot18"])
    parser.add_argument("--data-root", type=Path, help="folder holding MNIST / Fashion-MNIST")
    parser.add_argument("--limit", type=int, default=4000, help="base images read per dataset")
    args = parser.parse_args()
    for name in args.datasets:
        x = api.dataset(name, data_root=args.data_root).splits["test"].sequences()[: args.limit, 0].flatten(1)
        print(f"{name:16s} images {len(x):5d}  ink {x.sum(1).mean():6.1f}  above 0.5 {(x > 0.5).sum(1).float().mean():6.1f}"
              f"  above 0.1 {(x > 0.1).sum(1).float().mean():6.1f}"
              f"  edges (0.1, 0.9) {((x > 0.1) & (x < 0.9)).sum(1).float().mean():6.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(exit_status(main))  # bad input: one line, exit status 2
