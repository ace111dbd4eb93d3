"""Evaluation throughput of the gcnn plugin on the CPU: images/s through the exported network and
through escnn's own modules (both in eval mode, where escnn caches its expanded filters).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/gcnn_eval_throughput.py --order 18

The weights are the seeded initial ones: training changes no shape, so not the cost either.
"""

from __future__ import annotations

import argparse
import time

import torch

from equibench.models.encoder import DataSpec
from equibench.transforms import Rotation
from equibench_plugins.gcnn import GCNN


def images_per_second(model: GCNN, images: torch.Tensor, batch: int, repeats: int) -> dict[bool, float]:
    """Best rate of ``repeats`` passes over ``images``, exported (True) and not (False). The two
    alternate within each repeat, so that a change in the machine's load hits both alike."""
    best = {True: float("inf"), False: float("inf")}
    for exported in best:  # warm up: the first call exports, the first batches allocate
        model.features(images[:batch], exported=exported)
    for _ in range(repeats):
        for exported in best:
            start = time.perf_counter()
            for chunk in images.split(batch):
                model.features(chunk, exported=exported)
            best[exported] = min(best[exported], time.perf_counter() - start)
    return {exported: len(images) / seconds for exported, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order", type=int, default=18, help="rotation order of the dataset; N defaults to it")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=512, help="the harness encodes in batches of 512")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    torch.manual_seed(0)
    spec = DataSpec(f"rot{args.order}", (1, 28, 28), 10, Rotation(args.order))
    config = GCNN.default_config(args.profile, spec)
    model = GCNN(config, spec, torch.device("cpu"))
    images = torch.rand(args.images, 1, 28, 28)
    print(f"gcnn {args.profile}: N={config['N']} channels={config['channels']} fields={model.fields} "
          f"threads={torch.get_num_threads()} batch={args.batch}")
    rates = images_per_second(model, images, args.batch, args.repeats)
    print(f"  exported (plain torch) {rates[True]:8.0f} images/s")
    print(f"  escnn modules          {rates[False]:8.0f} images/s")
    print(f"  speed-up               {rates[True] / rates[False]:8.2f}x")


if __name__ == "__main__":
    main()
