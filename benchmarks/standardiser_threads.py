"""Whether the principal axes that the whitening and the heads' standardiser share would gain from a
second BLAS thread: the wall time of their eigendecomposition (``metrics.principal.PrincipalAxes``,
of a dataset's ``fit`` pixels, fitted as it fits them but with the thread count left free) on 1 and
on 2 threads, each twice, how far apart the two fits'
leading components are, and the same for metric version 5's second, randomized PCA (256
components, as ``representation.standardiser`` fitted it then).

    .venv/bin/python benchmarks/standardiser_threads.py [--dataset digits-rothue18]

Why: the scoring's linear algebra runs on one thread so that its rounding does not follow the
thread count (docs/metrics.md, "What scoring costs"); this says what that costs in time and what a
second thread would change in bits.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.decomposition import PCA
from threadpoolctl import threadpool_limits

from equibench import api
from equibench.errors import exit_status
from equibench.metrics.commutativity import varying_columns
from equibench.metrics.representation import MAX_WIDTH


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="digits-rothue18")
    args = parser.parse_args()
    x = api.dataset(args.dataset).splits["fit"].images().flatten(1).double().numpy()
    varying = x[:, varying_columns(torch.from_numpy(x)).numpy()]  # as PrincipalAxes fits them, here unpinned
    fits = {"principal axes (version 6)": lambda: PCA(whiten=True, svd_solver="covariance_eigh").fit(varying)
            .components_[:MAX_WIDTH],
            "randomized PCA (version 5)": lambda: PCA(min(MAX_WIDTH, len(x) - 1), random_state=0).fit(x).components_}
    for name, fit in fits.items():
        components = {}
        for threads in (1, 2, 1, 2):
            with threadpool_limits(limits=threads):
                started = time.perf_counter()
                components[threads] = fit()
                print(f"{args.dataset}: {name} of {x.shape[0]} x {x.shape[1]} on {threads} thread(s): "
                      f"{time.perf_counter() - started:.2f} s", flush=True)
        print(f"{name}: leading {MAX_WIDTH} components, 1 against 2 threads: largest difference "
              f"{np.abs(components[1] - components[2]).max():.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(exit_status(main))  # bad input: one line, exit status 2
