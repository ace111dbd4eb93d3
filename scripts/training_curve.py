"""Transform accuracy of a VAE or TVAE while it trains, measured on the ``fit`` split only.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/training_curve.py --dataset glyphs-rot18 --every 1020

Why: to tell a model that is still learning when its budget ends (accuracy rising) from one that
has settled on a code that cannot tell g^k from g^(k+9) (accuracy flat near 0.5), and to compare
training choices, without ever reading the test split. The maps M_k are fitted on the first half
of fit's orbits, after whitening there, and scored on the second half: the same functions as the
suite's ``transform_accuracy``. Training is exactly ``equibench run``'s (same seeding, same
``fit``; measuring draws no random number), and the trained weights are saved where ``equibench
run`` with the same options looks for its checkpoint, so that run scores this very model. The last
line says where the final validation pairs go: the share of each offset between the recovered and
the true step (a half turn is N/2) and each label's hit rate.

``--blur SIGMA`` blurs every frame of every split by a Gaussian of SIGMA pixels (uint8 again)
before training and measuring: how the source's sharpness matters (docs/glyphs.md). A Gaussian
commutes with rotation, so the orbits stay orbits up to resampling; the run keeps no checkpoint.
``--distortion FIELD=VALUE`` (repeatable) draws a glyph card with that field of
``glyphs.Distortion`` instead of the source's own (``pressure_px=0,0``: no pen pressure;
``stroke_px=0.3,1.5``: bolder strokes), cached apart (under ``<cache-dir>/distortion-FIELD-VALUE...``);
no checkpoint either.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import fields, replace
from pathlib import Path

import torch
from torchvision.transforms.functional import gaussian_blur

from equibench.atomic import atomic_path
from equibench.data import glyphs
from equibench.data.cards import load_card
from equibench.data.orbits import OrbitSplit
from equibench.errors import ConfigError, exit_status
from equibench.metrics.fitted import Whitener, fit_operators, recovered, transform_accuracy
from equibench.metrics.pairs import CyclicPairs, pairs_of
from equibench.progress import quiet
from equibench.runs.runner import RunRequest, default_cache_dir, plan, seed_everything


def _validation(model, fit: OrbitSplit, transformation):
    """Whitened codes of fit's second half, maps fitted on its first half, the second half's pairs
    and labels."""
    half = fit.num_sequences // 2
    parts = [OrbitSplit(fit.frames[s], fit.labels[s], fit.steps[s]) for s in (slice(0, half), slice(half, None))]
    codes = [torch.cat([model.encode(chunk) for chunk in part.images().split(4096)]).unflatten(0, part.frames.shape[:2])
             for part in parts]
    whiten = Whitener.fit(codes[0])
    maps = fit_operators(whiten(codes[0]), pairs_of(parts[0], transformation))
    return whiten(codes[1]), maps, pairs_of(parts[1], transformation), parts[1].labels


def validation_accuracy(model, fit: OrbitSplit, transformation) -> float:
    """Transform accuracy with maps fitted on the first half of ``fit``'s orbits, scored on the second."""
    return transform_accuracy(*_validation(model, fit, transformation)[:3])


def misses(w: torch.Tensor, maps: dict[int, torch.Tensor], pairs: CyclicPairs, labels: torch.Tensor) -> str:
    """Where :func:`_validation`'s pairs' recovered elements go: the share of each offset (recovered
    minus true step, mod N; 0 is a hit, N/2 a half turn; shares under 0.002 left out) and the hit
    rate of each label present."""
    offsets, hits, counts = torch.zeros(pairs.order), torch.zeros(int(labels.max()) + 1), torch.zeros(int(labels.max()) + 1)
    for batch, found in recovered(w, maps, pairs):
        offsets += torch.bincount(pairs.offset(batch.element, found), minlength=pairs.order)
        hits.index_add_(0, labels[batch.orbit], (found == batch.element).float())
        counts.index_add_(0, labels[batch.orbit], torch.ones(len(found)))
    shares = offsets / offsets.sum()
    return ("offsets " + ", ".join(f"{o}: {float(v):.3f}" for o, v in enumerate(shares) if v >= 0.002) +
            "; hits by label " + ", ".join(f"{c}: {float(h / n):.3f}" for c, (h, n) in enumerate(zip(hits, counts)) if n))


def distorted(settings: list[str], source: str) -> glyphs.Distortion:
    """``glyphs.DISTORTION`` with the ``FIELD=VALUE`` settings; a glyph card only."""
    known = {f.name: f.type for f in fields(glyphs.Distortion)}
    changes = {}
    for setting in settings:
        name, _, value = setting.partition("=")
        try:
            numbers = tuple(float(v) for v in value.split(","))
        except ValueError:
            numbers = ()
        if source != "glyphs" or name not in known or len(numbers) != (2 if "tuple" in known[name] else 1):
            raise ConfigError(f"--distortion {setting}: give FIELD=VALUE with a field of glyphs.Distortion "
                              f"({', '.join(known)}; stroke_px and pressure_px as two numbers, "
                              "e.g. pressure_px=0.5,1.5), with a glyph card")
        changes[name] = numbers if len(numbers) == 2 else (int(numbers[0]) if known[name] == "int" else numbers[0])
    return replace(glyphs.DISTORTION, **changes)


def blurred(dataset, sigma: float) -> None:
    """Every frame of every split of ``dataset`` blurred by a Gaussian of ``sigma`` pixels, in place."""
    size = 2 * math.ceil(3 * sigma) + 1
    for name, split in dataset.splits.items():
        frames = torch.cat([gaussian_blur(chunk.float(), [size, size], [sigma, sigma]).round().to(chunk.dtype)
                            for chunk in split.frames.flatten(0, 1).split(8192)])
        dataset.splits[name] = replace(split, frames=frames.view_as(split.frames))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tvae")
    parser.add_argument("--dataset", default="digits-rot18")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], dest="overrides", help="KEY=VALUE, as equibench run")
    parser.add_argument("--every", type=int, default=1020, help="optimiser steps between measurements")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    parser.add_argument("--cosine", type=int, metavar="STEPS",
                        help="decay the learning rate to 0 over STEPS optimiser steps (a cosine); saves no checkpoint")
    parser.add_argument("--blur", type=float, metavar="SIGMA",
                        help="blur every frame by a Gaussian of SIGMA pixels first; saves no checkpoint")
    parser.add_argument("--distortion", action="append", default=[], metavar="FIELD=VALUE",
                        help="draw the glyph source with this field of glyphs.Distortion (a number, or two "
                             "separated by a comma); saves no checkpoint")
    args = parser.parse_args()
    if args.blur is not None and not args.blur > 0:
        raise ConfigError(f"--blur {args.blur}: give a Gaussian's sigma in pixels above 0, e.g. --blur 1.6")
    if args.distortion:
        glyphs.DISTORTION = distorted(args.distortion, load_card(args.dataset).source)
        args.cache_dir = args.cache_dir / "-".join(["distortion", *args.distortion]).replace("=", "-").replace(",", "-")

    p = plan(RunRequest(model=args.model, dataset=args.dataset, seed=args.seed, overrides=tuple(args.overrides),
                        out_dir=None, cache_dir=args.cache_dir, device="cpu"), quiet)
    if args.blur:
        blurred(p.data, args.blur)
    seed_everything(args.seed)
    model = p.model.cls(p.config, p.spec, p.device)
    fit, transformation, make = p.data.splits["fit"], p.data.transformation, model.optimizer
    started, steps = time.perf_counter(), [0]

    def measured_optimizer() -> torch.optim.Optimizer:
        optimizer = make()
        step = optimizer.step

        rates = [group["lr"] for group in optimizer.param_groups]

        def counted(*a, **k):
            result = step(*a, **k)
            steps[0] += 1
            if args.cosine:
                for group, rate in zip(optimizer.param_groups, rates):
                    group["lr"] = rate * 0.5 * (1 + math.cos(math.pi * min(steps[0], args.cosine) / args.cosine))
            if steps[0] % args.every == 0:
                print(f"step {steps[0]:6d}  {time.perf_counter() - started:6.0f} s  validation transform accuracy "
                      f"{validation_accuracy(model, fit, transformation):.3f}", flush=True)
            return result

        optimizer.step = counted
        return optimizer

    model.optimizer = measured_optimizer
    model.fit(p.data.splits["train"], quiet)
    w, maps, pairs, labels = _validation(model, fit, transformation)
    print(f"{args.model} on {args.dataset}, seed {args.seed}, {' '.join(args.overrides) or 'defaults'}: "
          f"{steps[0]} steps; final validation transform accuracy {transform_accuracy(w, maps, pairs):.3f}")
    print(f"where the validation pairs go: {misses(w, maps, pairs, labels)}")
    if args.cosine or args.blur or args.distortion:  # not equibench run's model: no checkpoint
        return 0
    checkpoint = p.checkpoint
    with atomic_path(checkpoint) as tmp:
        torch.save(model.state_dict(), tmp)
    print(f"checkpoint: {checkpoint} (equibench run with the same options scores it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(exit_status(main))  # bad input: one line, exit status 2
