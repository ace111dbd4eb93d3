"""What the R² heads read of a model's code at one scale (the suite's, metric version 5) and with
every dimension at unit variance (metric version 4's reading).

The suite's standardiser (:func:`equibench.metrics.representation.standardiser`) gives the heads
the code centred and divided by the root of its mean variance (wide codes: their 256 leading
principal components at that scale), and the class probe every dimension (component) at unit
variance. Version 4 gave the heads the probe's reading too, where a dimension of little variance
weighs as much as the largest. Both readings are fitted on ``fit`` and scored on ``test`` exactly
as the suite does (the first line of each cell reproduces its record), so that the choice stays
weighed on numbers (docs/metrics.md, "What the heads read"). Nothing here changes a record.

    .venv/bin/python scripts/head_inputs.py --cells pixels:shapes3d-euler-views-ood tvae:digits-rot18
    .venv/bin/python scripts/head_inputs.py --cells pixels:shapes3d-euler-views-ood --fit-pairs 64000

``--fit-pairs``, ``--hidden`` and ``--lr`` measure other heads than the suite's (more pairs to fit
on, with a quarter as many held out to stop on; another width; another learning rate), for
weighing the protocol: no record is ever scored with them.

A model is loaded from its checkpoint in the cache where there is one (``equibench run`` and the
board's sweep put them there), and otherwise fitted and saved there exactly as ``equibench run`` does.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from equibench.errors import ConfigError, exit_status
from equibench.metrics import heads, regression
from equibench.metrics.pairs import pairs_of
from equibench.metrics.regression import TransformHeads
from equibench.metrics.representation import fit_probe, probe_accuracy, standardiser
from equibench.models.checks import encode_split
from equibench.progress import quiet
from equibench.runs.runner import RunRequest, default_cache_dir, fitted_model, plan


def codes(model_name: str, dataset: str, seed: int, cache_dir: Path):
    """The model's codes of ``fit`` and ``test``, from its cached checkpoint, and the dataset."""
    p = plan(RunRequest(model_name, dataset, seed, out_dir=None, cache_dir=cache_dir), quiet)
    model, _ = fitted_model(p, quiet)
    return (encode_split(model, model_name, p.data.splits[name], quiet) for name in ("fit", "test")), p.data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", nargs="+", required=True, help="model:dataset cells")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    parser.add_argument("--fit-pairs", type=int, default=regression.FIT_PAIRS, help="pairs the heads fit on")
    parser.add_argument("--hidden", type=int, default=heads.HIDDEN, help="the MLP head's hidden units")
    parser.add_argument("--lr", type=float, default=heads.LR, help="the MLP head's Adam learning rate")
    args = parser.parse_args()
    if min(args.fit_pairs, args.hidden) < 4 or args.lr <= 0:
        raise ConfigError("--fit-pairs and --hidden take 4 or more, --lr a positive rate")
    regression.FIT_PAIRS, regression.HELD_PAIRS = args.fit_pairs, args.fit_pairs // 4
    heads.HIDDEN, heads.LR = args.hidden, args.lr
    for cell in args.cells:
        if cell.count(":") != 1:
            raise ConfigError(f"--cells takes model:dataset, e.g. pixels:digits-rot18; got {cell!r}")
        model_name, dataset = cell.split(":")
        (z_fit, z_test), data = codes(model_name, dataset, args.seed, args.cache_dir)
        fit, test = data.splits["fit"], data.splits["test"]
        scale = standardiser(z_fit)
        x_fit, x_test = scale(z_fit), scale(z_test)
        probe = probe_accuracy(fit_probe(x_fit.probe, fit.labels, args.seed), x_test.probe, test.labels)
        for how, read in (("one scale", "heads"), ("per dim", "probe")):
            scores = TransformHeads.fit(getattr(x_fit, read), pairs_of(fit, data.transformation), args.seed).score(
                getattr(x_test, read), pairs_of(test, data.transformation))
            print(f"{cell:36s} {how:9s} " + "  ".join(f"{k} {v:.4f}" for k, v in scores.items())
                  + f"  probe_accuracy {probe:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(exit_status(main))  # bad input: one line, exit status 2
