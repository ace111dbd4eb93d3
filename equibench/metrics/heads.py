"""The MLP heads that read a frozen code: trained on some base images, stopped on others.

A head fitted to pairs of codes measures what the code carries only if it cannot score by
memorising the base images it was fitted on. Until metric version 4 the heads were scikit-learn's
``MLPRegressor`` with early stopping on a random tenth of the *pairs*: those pairs share their
base images with the training pairs, so validation rewarded memorising objects, and on the 3D
quick set every model but the oracle scored a per-dimension R² between -0.4 and -1.8 (worse than
predicting the mean; pixels the worst), which ranked models by how much their head overfitted.

Here the base images of ``fit`` are split once, by a fixed seed, into a training part and a
held-out part (:func:`held_out`). The head starts as the constant predictor (output weights zero,
bias the mean target), is trained by Adam on pairs of the training part, and keeps the parameters
with the lowest mean squared error on pairs of the held-out part, checked every ``CHECK_EVERY``
steps from step 0 on. So a code that says nothing of the target gets about the mean's score
(R² about 0) instead of a negative one, and a code that carries it is read as before (the 3D
oracle's per-dimension R²: 0.919 before, 0.926 now). In float32 with torch it is also faster than the float64
``MLPRegressor`` it replaces.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from equibench.errors import ConfigError

HIDDEN = 256
HELD_OUT = 0.2  # share of fit's base images whose pairs stop training
SPLIT_SEED = 0
PAIR_SEED = 0  # draws the pairs every head is fitted and stopped on (and regression's test pairs)
BATCH = 256
LR = 3e-3
CHECK_EVERY = 10  # optimiser steps between checks on the held-out pairs
PATIENCE = 20  # checks without improvement before stopping
MAX_EPOCHS = 200


def held_out(orbits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of fit's base images to train a head on and to stop it on (a fixed split)."""
    if orbits < 2:
        raise ConfigError(f"the metrics' heads train on some of fit's base images and stop on others; fit has "
                          f"{orbits}: give the card's [splits] fit = 2 or more (100s for a meaningful score)")
    order = torch.randperm(orbits, generator=torch.Generator().manual_seed(SPLIT_SEED))
    cut = orbits - max(1, round(HELD_OUT * orbits))
    return order[:cut].sort().values, order[cut:].sort().values


Rows = np.ndarray | torch.Tensor


@torch.enable_grad()  # whatever the caller's mode: a worker thread of the suite has its own (metrics/cores.py)
def fit_mlp(x: Rows, y: Rows, x_held: Rows, y_held: Rows, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    """A one-hidden-layer ReLU MLP from ``x`` to ``y`` (float32), stopped on ``(x_held, y_held)`` as
    the module says; returns its prediction, float64 rows in and out."""
    generator = torch.Generator().manual_seed(seed)
    x, y, x_held, y_held = (torch.as_tensor(a, dtype=torch.float32) for a in (x, y, x_held, y_held))
    bound = 1 / math.sqrt(x.shape[1])  # torch.nn.Linear's initialisation, from our own generator
    first = [torch.empty(HIDDEN, x.shape[1]).uniform_(-bound, bound, generator=generator),
             torch.empty(HIDDEN).uniform_(-bound, bound, generator=generator)]
    last = [torch.zeros(y.shape[1], HIDDEN), y.mean(0)]
    params = [p.requires_grad_() for p in first + last]

    def forward(inputs: torch.Tensor) -> torch.Tensor:
        return _mlp(params, inputs)

    optimiser = torch.optim.Adam(params, lr=LR)
    best, kept, waited, step = math.inf, [p.detach().clone() for p in params], 0, 0
    for _ in range(MAX_EPOCHS):
        for rows in torch.randperm(len(x), generator=generator).split(BATCH):
            if step % CHECK_EVERY == 0:
                with torch.no_grad():
                    error = float((forward(x_held) - y_held).pow(2).mean())
                if error < best:
                    best, kept, waited = error, [p.detach().clone() for p in params], 0
                elif (waited := waited + 1) >= PATIENCE:
                    return _predictor(kept)
            optimiser.zero_grad()
            (forward(x[rows]) - y[rows]).pow(2).mean().backward()
            optimiser.step()
            step += 1
    return _predictor(kept)


def _mlp(params: list[torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
    """relu(inputs W1' + b1) W2' + b2."""
    return torch.relu(inputs @ params[0].T + params[1]) @ params[2].T + params[3]


def _predictor(params: list[torch.Tensor]) -> Callable[[np.ndarray], np.ndarray]:
    def predict(inputs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return _mlp(params, torch.as_tensor(inputs, dtype=torch.float32)).double().numpy()
    return predict
