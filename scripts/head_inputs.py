"""What the heads read of raw pixels with their 256 principal components whitened (the suite's
standardiser for codes wider than 256) and with the same components at one common scale.

The R² heads and the probe see a wide code by its 256 leading principal components, whitened, so
that every component has unit variance: the 256th weighs as much as the first. This prints, for the
``pixels`` code of each card, the R² heads' scores and the probe's accuracy both ways, fitted on
``fit`` and scored on ``test`` exactly as the suite does, so that the choice can be weighed on
numbers (docs/shapes3d.md, "The protocol's upper reference"). Nothing here changes a record.

    .venv/bin/python scripts/head_inputs.py shapes3d-euler-views-ood digits-so2-views-ood digits-rot18
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

from equibench.data.cards import load_card
from equibench.data.orbits import load_dataset
from equibench.metrics.pairs import pairs_of
from equibench.metrics.regression import TransformHeads
from equibench.metrics.representation import MAX_WIDTH, fit_probe, one_thread, probe_accuracy
from equibench.progress import quiet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cards", nargs="+", help="dataset ids or card files")
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "equibench")
    args = parser.parse_args()
    for name in args.cards:
        card = load_card(name)
        data = load_dataset(card, args.cache_dir, quiet, None, False)
        fit, test = data.splits["fit"], data.splits["test"]
        z_fit, z_test = (split.frames.float().div(255.0).flatten(2) for split in (fit, test))  # pixels' codes
        flat = z_fit.reshape(-1, z_fit.shape[-1]).double().numpy()
        for whiten in (True, False):
            with one_thread():
                pca = PCA(MAX_WIDTH, whiten=whiten, random_state=0).fit(flat)
                scale = 1.0 if whiten else 1 / np.sqrt(pca.explained_variance_.mean())  # unit variance on average
                x_fit, x_test = (pca.transform(z.reshape(-1, z.shape[-1]).double().numpy()).reshape(*z.shape[:2], -1)
                                 * scale for z in (z_fit, z_test))
            scores = TransformHeads.fit(x_fit, pairs_of(fit, data.transformation), seed=0).score(
                x_test, pairs_of(test, data.transformation))
            probe = probe_accuracy(fit_probe(x_fit, fit.labels, seed=0), x_test, test.labels)
            print(f"{card.id:28s} {'whitened' if whiten else 'one scale':9s} "
                  + "  ".join(f"{k} {v:.4f}" for k, v in scores.items()) + f"  probe_accuracy {probe:.4f}", flush=True)


if __name__ == "__main__":
    main()
