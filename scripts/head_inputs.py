"""What the R² heads and the probe read of a model's code as the suite standardises it, and at one
common scale.

The heads and the probe see a code through the suite's standardiser
(:func:`equibench.metrics.representation.standardiser`): each dimension scaled to unit variance, or,
for a code wider than 256 (raw pixels), its 256 leading principal components whitened. Either way
a dimension or component of little variance weighs as much as the largest. The other choice printed
here keeps the code's own geometry up to one scale: the codes centred and divided by the root of
their mean variance (wide codes: the same 256 components, unwhitened, at that one scale). Both are
fitted on ``fit`` and scored on ``test`` exactly as the suite does (the first line of each cell
reproduces its record), so that the choice can be weighed on numbers (docs/metrics.md, "What the
heads read"). Nothing here changes a record.

    .venv/bin/python scripts/head_inputs.py --cells pixels:shapes3d-euler-views-ood tvae:digits-rot18

A model is loaded from its checkpoint in the cache where there is one (``equibench run`` and the
board's sweep put them there), and otherwise fitted and saved there exactly as ``equibench run`` does.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA

from equibench.errors import ConfigError, exit_status
from equibench.metrics.pairs import pairs_of
from equibench.metrics.regression import TransformHeads
from equibench.metrics.representation import MAX_WIDTH, fit_probe, one_thread, probe_accuracy, standardiser
from equibench.models.checks import encode_split
from equibench.progress import quiet
from equibench.runs.runner import RunRequest, default_cache_dir, fitted_model, plan


def one_scale(z_fit: torch.Tensor) -> Callable[[torch.Tensor], np.ndarray]:
    """Codes centred and divided by the root of their mean variance on ``fit``; wider than
    ``MAX_WIDTH``: their leading ``MAX_WIDTH`` principal components, unwhitened, at that scale."""
    flat = z_fit.reshape(-1, z_fit.shape[-1]).double().numpy()
    with one_thread():
        if flat.shape[1] > MAX_WIDTH:
            pca = PCA(min(MAX_WIDTH, len(flat) - 1), random_state=0).fit(flat)
            reduce, variance = pca.transform, pca.explained_variance_.mean()
        else:
            mean = flat.mean(0)
            reduce, variance = (lambda x: x - mean), flat.var(0, ddof=1).mean()

    def transform(z: torch.Tensor) -> np.ndarray:
        with one_thread():
            out = reduce(z.reshape(-1, z.shape[-1]).double().numpy()) / np.sqrt(variance)
        return out.reshape(*z.shape[:-1], -1)
    return transform


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
    args = parser.parse_args()
    for cell in args.cells:
        if cell.count(":") != 1:
            raise ConfigError(f"--cells takes model:dataset, e.g. pixels:digits-rot18; got {cell!r}")
        model_name, dataset = cell.split(":")
        (z_fit, z_test), data = codes(model_name, dataset, args.seed, args.cache_dir)
        fit, test = data.splits["fit"], data.splits["test"]
        for how, make in (("the suite's", standardiser), ("one scale", one_scale)):
            scale = make(z_fit)
            x_fit, x_test = scale(z_fit), scale(z_test)
            scores = TransformHeads.fit(x_fit, pairs_of(fit, data.transformation), args.seed).score(
                x_test, pairs_of(test, data.transformation))
            probe = probe_accuracy(fit_probe(x_fit, fit.labels, args.seed), x_test, test.labels)
            print(f"{cell:36s} {how:11s} " + "  ".join(f"{k} {v:.4f}" for k, v in scores.items())
                  + f"  probe_accuracy {probe:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(exit_status(main))  # bad input: one line, exit status 2
