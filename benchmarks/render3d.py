"""Throughput of the 3D renderer: images/s at 28x28 and 64x64 on 1 and 2 threads, and the time to
generate a 3D view dataset from an empty cache (which renders on 1 thread, the renderer's default).

    .venv/bin/python benchmarks/render3d.py [--images 1024] [--dataset shapes3d-euler-views-ood ...]

Each figure renders the same objects (the source's 12 classes drawn uniformly) at rotations
uniform on SO(3), as view generation does. Wall time and the CPU time of this process (all
threads) are both printed, so that a run on a machine shared with other work still says what the
work costs; on a loaded machine two threads are far slower than one (OpenMP's threads spin while
they wait for a core, at every one of the renderer's thousands of small steps).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
from pathlib import Path

import torch
from glyph_generation import timed  # the sibling benchmark's helper (this folder is on sys.path)

from equibench.data import shapes3d, tracing
from equibench.data.cards import load_card
from equibench.data.orbits import load_dataset
from equibench.groups import build_family
from equibench.progress import quiet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1024, help="images rendered per figure")
    parser.add_argument("--dataset", nargs="*", default=["shapes3d-euler-views-ood"], help="cards to generate")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    so3 = build_family("so3")
    turns = so3.matrix(so3.sample(args.images, {"angle": [0.0, 180.0]}, torch.Generator().manual_seed(1)))
    for pixels in (28, 64):
        objects = shapes3d.draw(args.images, torch.Generator().manual_seed(0), pixels).rotated(turns)
        objects = objects.to(args.device)
        for threads in (1, 2):
            tracing.render(objects[:32], pixels, threads)  # warm up
            def render() -> None:
                tracing.render(objects, pixels, threads)
                if args.device != "cpu":
                    torch.cuda.synchronize()

            wall, cpu, _ = timed(render)
            print(f"{pixels}x{pixels}, {threads} thread(s), {args.device}: {args.images / wall:,.0f} images/s wall "
                  f"({wall:.2f} s), {args.images / cpu:,.0f} images per CPU second")
    for ident in args.dataset:
        card = load_card(ident)
        views = sum(card.splits.values()) * card.views["count"]
        with tempfile.TemporaryDirectory() as cache:
            wall, cpu, _ = timed(lambda: load_dataset(card, Path(cache), quiet))
        print(f"{card.id} ({sum(card.splits.values()):,} objects, {views:,} views at {card.image_size}x"
              f"{card.image_size}): generated (rendering on 1 thread) and cached in {wall:.1f} s wall, "
              f"{cpu:.1f} s CPU ({views / wall:,.0f} views/s)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    print(f"peak resident memory: {peak:.2f} GiB; load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
