"""Where a trained model's transform accuracy misses on ``test`` fall: by digit, and by the shape of
each base image.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/where_misses_fall.py --dataset glyphs-rot18 --seed 0

Why: to tell which images a model cannot read the rotation off, on a cyclic card (docs/glyphs.md
traced the glyph source's last gap to the TVAE with it). The model is the one ``equibench run``
with the same options scores (its checkpoint, trained if absent), the maps are the suite's (fitted
on ``fit``'s whitened codes) and the pairs are ``test``'s, so the overall figure is the record's
``transform_accuracy``. Printed: the share of hits, of one-step misses (g^(k+-1)) and, for an even
order N, of half turns (g^(k+N/2)) over every pair, per label, and per quarter of the base images
ranked by each of two measures of the base image (its view at the identity; ties in rank order, so
the quarters are equal), over every digit and over each of ``--digits``:

- width / height of its ink's bounding box (pixels above 0.5);
- half-turn asymmetry ``||x - R x|| / ||x||``, R the half turn about the canvas centre (0: a
  shape the half turn maps onto itself, whose g^k and g^(k+N/2) no code can tell apart).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from equibench.data.cards import load_card
from equibench.data.orbits import OrbitSplit
from equibench.errors import ConfigError, exit_status
from equibench.metrics.fitted import Whitener, fit_operators, recovered
from equibench.metrics.pairs import CyclicPairs, pairs_of
from equibench.models.checks import encode_split
from equibench.progress import quiet
from equibench.runs.runner import RunRequest, default_cache_dir, fitted_model, plan


def upright(split: OrbitSplit) -> torch.Tensor:
    """Each base image of a cyclic split as it was drawn, its view at the identity, ``[S, C, H, W]`` in [0, 1]."""
    return split.frames[torch.arange(split.num_sequences), (split.steps == 0).int().argmax(1)].float() / 255.0


def shapes(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The two measures of each image ``images[S, C, H, W]`` in [0, 1] (channels summed)."""
    x = images.sum(1)
    on = x > 0.5
    rows, cols = on.any(2), on.any(1)
    height = rows.shape[1] - rows.flip(1).int().argmax(1) - rows.int().argmax(1)
    width = cols.shape[1] - cols.flip(1).int().argmax(1) - cols.int().argmax(1)
    asymmetry = (x - x.flip(1, 2)).flatten(1).norm(dim=1) / x.flatten(1).norm(dim=1)
    return {"width / height": width / height.clamp(min=1), "half-turn asymmetry": asymmetry}


def outcomes(w: torch.Tensor, maps: dict[int, torch.Tensor], pairs: CyclicPairs) -> dict[str, torch.Tensor]:
    """Per base image, the share of its pairs recovered exactly, one step off and (even orders) a
    half turn off."""
    offsets = {"hit": [0], "one step": [1, pairs.order - 1]}
    if pairs.order % 2 == 0:
        offsets["half turn"] = [pairs.order // 2]
    shares = {name: torch.zeros(w.shape[0]) for name in offsets}
    count = torch.zeros(w.shape[0])
    for batch, found in recovered(w, maps, pairs):
        offset = pairs.offset(batch.element, found)
        for name, values in offsets.items():
            shares[name].index_add_(0, batch.orbit, torch.isin(offset, torch.tensor(values)).float())
        count.index_add_(0, batch.orbit, torch.ones(len(found)))
    return {name: share / count for name, share in shares.items()}


def line(label: str, chosen: torch.Tensor, result: dict[str, torch.Tensor]) -> str:
    return f"  {label:28s} {int(chosen.sum()):5d} images  " + "  ".join(
        f"{name} {float(share[chosen].mean()):.3f}" for name, share in result.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tvae")
    parser.add_argument("--dataset", default="glyphs-rot18")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--digits", type=int, nargs="*", default=[0, 4], help="labels whose quarters are printed apart")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    parser.add_argument("--data-root", type=Path, help="folder holding MNIST / Fashion-MNIST")
    args = parser.parse_args()
    if load_card(args.dataset).views is not None:  # refused before a view dataset is generated or loaded
        raise ConfigError(f"--dataset {args.dataset}: give a cyclic card, e.g. glyphs-rot18")
    p = plan(RunRequest(model=args.model, dataset=args.dataset, seed=args.seed, out_dir=None,
                        cache_dir=args.cache_dir, data_root=args.data_root, device="cpu"), quiet)
    fit, test = p.data.splits["fit"], p.data.splits["test"]
    absent = sorted(set(args.digits) - set(test.labels.tolist()))
    if absent:
        raise ConfigError(f"--digits {' '.join(map(str, absent))}: no such label in {args.dataset}'s test split")
    model, _ = fitted_model(p, quiet)
    codes = [encode_split(model, args.model, split, quiet) for split in (fit, test)]
    whiten = Whitener.fit(codes[0])
    maps = fit_operators(whiten(codes[0]), pairs_of(fit, p.data.transformation))
    result = outcomes(whiten(codes[1]), maps, pairs_of(test, p.data.transformation))
    every = torch.ones(len(test.labels), dtype=torch.bool)
    print(f"{args.model} on {args.dataset}, seed {args.seed}, test")
    print(line("all", every, result))
    for label in test.labels.unique().tolist():
        print(line(f"label {label}", test.labels == label, result))
    for name, value in shapes(upright(test)).items():
        for subset, chosen in [("every label", every), *((f"label {d}", test.labels == d) for d in args.digits)]:
            members = chosen.nonzero().flatten()
            ranked = members[value[members].argsort(stable=True)]
            print(f"{name}, {subset}: quarters by rank, lowest first")
            for q in range(4):
                part = torch.zeros_like(chosen)
                part[ranked[q * len(ranked) // 4: (q + 1) * len(ranked) // 4]] = True
                span = f"quarter {q + 1}: {float(value[part].min()):.2f} to {float(value[part].max()):.2f}"
                print(line(span, part, result))
    return 0


if __name__ == "__main__":
    raise SystemExit(exit_status(main))  # bad input: one line, exit status 2
