"""Generation speed of the procedural glyph source: base images/s, and the wall time of a full
orbit dataset from an empty cache, then from the cache.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/glyph_generation.py --threads 2

The target (issue 13, item 7): 50,000 base images and their orbit views in under 2 minutes on
2 cores. Each figure is given as wall time and as the CPU time of this process (all threads), so
that a run on a machine shared with other work still says what the work costs. Peak resident
memory of the whole process is printed last, since a 48,000-image colour dataset is 2 GB of
uint8 frames.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from equibench.data import glyphs
from equibench.data.cards import load_card
from equibench.data.orbits import load_dataset


def quiet(iterable, **_):
    return iterable


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of ``work()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50_000, help="base images to draw")
    parser.add_argument("--dataset", default="glyphs-rot18", help="card to generate in full ('' skips it)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    wall, cpu = timed(glyphs.atlas)
    print(f"atlas (rasterise and distance-transform {len(glyphs.atlas().faces)} faces x 10 digits): "
          f"{wall:.2f} s wall, {cpu:.2f} s CPU")
    wall, cpu = timed(lambda: glyphs.draw(glyphs.TRAIN_FACES, args.images, glyphs.split_generator(0, "train")))
    print(f"{args.images:,} base images on {args.threads} thread(s): {wall:.2f} s wall, {cpu:.2f} s CPU; "
          f"{args.images / wall:,.0f} images/s")

    if args.dataset:
        card = load_card(args.dataset)
        with tempfile.TemporaryDirectory() as cache:
            built = timed(lambda: load_dataset(card, Path(cache), quiet))
            cached = timed(lambda: load_dataset(card, Path(cache), quiet))
        views = sum(card.splits.values()) * card.transformation["order"]
        print(f"{card.id} ({sum(card.splits.values()):,} base images, {views:,} views): generated and cached "
              f"in {built[0]:.1f} s wall, {built[1]:.1f} s CPU ({views / built[0]:,.0f} views/s); "
              f"loaded from the cache in {cached[0]:.1f} s wall, {cached[1]:.1f} s CPU")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    print(f"peak resident memory: {peak:.2f} GiB")


if __name__ == "__main__":
    main()
