"""Generation speed of the procedural glyph source: base images/s, and the wall time of every glyph
dataset (orbit and view cards) from an empty cache, then from the cache, with its content hash.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/glyph_generation.py --threads 1
    .venv/bin/python benchmarks/glyph_generation.py --cards glyphs-rot18 glyphs-rothue18

The target (issue 13, item 7): 50,000 base images and their views in under 2 minutes on 2 cores.
Each figure is given as wall time and as the CPU time of this process (all threads), so that a run
on a machine shared with other work still says what the work costs. The content hash printed beside
each card is the one its run records carry: a faster generation must leave it unchanged. Peak
resident memory of the whole process is printed last, since a 48,000-image colour dataset is 2 GB
of uint8 frames.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from equibench.data import glyphs
from equibench.data.cards import builtin_card_ids, load_card
from equibench.data.orbits import load_dataset
from equibench.progress import quiet


def timed(work: Callable[[], object]) -> tuple[float, float, object]:
    """Wall and CPU seconds of ``work()``, and what it returned."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def glyph_cards() -> list[str]:
    return [ident for ident in builtin_card_ids() if load_card(ident).source == "glyphs"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50_000, help="base images to draw")
    parser.add_argument("--cards", nargs="*", default=None,
                        help="cards to generate in full (default: every built-in glyph card; none: skip)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.threads} torch thread(s), {os.cpu_count()} cores, load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())} at the start")

    wall, cpu, book = timed(glyphs.atlas)
    print(f"atlas (rasterise and distance-transform {len(book.faces)} faces x 10 digits): "
          f"{wall:.2f} s wall, {cpu:.2f} s CPU")
    wall, cpu, _ = timed(lambda: glyphs.draw(glyphs.TRAIN_FACES, args.images, glyphs.split_generator(0, "train")))
    print(f"{args.images:,} base images: {wall:.2f} s wall, {cpu:.2f} s CPU; {args.images / wall:,.0f} images/s")

    for ident in glyph_cards() if args.cards is None else args.cards:
        card = load_card(ident)
        with tempfile.TemporaryDirectory() as cache:
            wall, cpu, dataset = timed(lambda: load_dataset(card, Path(cache), quiet))
            views = sum(s.frames.shape[0] * s.frames.shape[1] for s in dataset.splits.values())
            digest = dataset.content_hash
            del dataset
            cached = timed(lambda: load_dataset(card, Path(cache), quiet))[:2]
        gc.collect()
        print(f"{card.id}: {sum(card.splits.values()):,} base images, {views:,} views; generated and cached in "
              f"{wall:.1f} s wall, {cpu:.1f} s CPU ({views / wall:,.0f} views/s); from the cache "
              f"{cached[0]:.1f} s wall; content hash {digest}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    print(f"peak resident memory: {peak:.2f} GiB")


if __name__ == "__main__":
    main()
