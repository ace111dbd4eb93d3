"""The MLP heads (equibench.metrics.heads): stopped on held-out base images, they read what a code
carries and cannot score by memorising the objects they were trained on."""

import numpy as np
import pytest
import torch

from equibench.errors import ConfigError
from equibench.groups import build_family
from equibench.metrics.fitted import fit_conditional_mlp
from equibench.metrics.heads import fit_mlp, held_out
from equibench.metrics.pairs import CyclicPairs, ViewPairs
from equibench.metrics.regression import TransformHeads, r2_pooled

OBJECTS, PAIRS, WIDTH = 300, 20, 32


def _objects(seed: int, informative: bool) -> tuple[np.ndarray, np.ndarray]:
    """``PAIRS`` inputs per object near the object's own random code; the target either a fixed
    linear function of the input (informative) or a random value per object (only memorisable)."""
    rng = np.random.default_rng(seed)
    codes = rng.standard_normal((OBJECTS, 1, WIDTH))
    x = codes + 0.1 * rng.standard_normal((OBJECTS, PAIRS, WIDTH))
    if informative:
        y = x @ np.random.default_rng(99).standard_normal((WIDTH, 2)) / np.sqrt(WIDTH) + 3.0
    else:
        y = np.repeat(rng.standard_normal((OBJECTS, 1, 2)), PAIRS, axis=1) + 3.0  # a mean the head must find
    return x, y


def _fit_and_test(informative: bool, stop_on_training_objects: bool = False) -> float:
    x, y = _objects(0, informative)
    train, held = held_out(OBJECTS)
    xs, ys = x[train.numpy()].reshape(-1, WIDTH), y[train.numpy()].reshape(-1, 2)
    if stop_on_training_objects:  # the old protocol: validation pairs share the training objects
        xh, yh = xs[::5], ys[::5]
    else:
        xh, yh = x[held.numpy()].reshape(-1, WIDTH), y[held.numpy()].reshape(-1, 2)
    predict = fit_mlp(xs, ys, xh, yh, seed=0)
    x_test, y_test = _objects(1, informative)  # new objects
    return r2_pooled(y_test.reshape(-1, 2), predict(x_test.reshape(-1, WIDTH)))


def test_held_out_splits_the_base_images_once():
    train, held = held_out(500)
    assert len(held) == 100 and sorted(torch.cat([train, held]).tolist()) == list(range(500))
    again = held_out(500)
    assert torch.equal(train, again[0]) and torch.equal(held, again[1])
    assert [len(part) for part in held_out(2)] == [1, 1]
    with pytest.raises(ConfigError, match="fit = 2 or more"):
        held_out(1)


def test_a_head_reads_an_informative_code():
    assert _fit_and_test(informative=True) > 0.9


def test_a_head_scores_about_the_mean_on_a_code_that_only_names_its_objects():
    """Targets that depend on the object alone can be memorised, never generalised: the head
    stopped on held-out objects stays near the constant predictor (R² about 0 on new objects), where
    one stopped on pairs of its own training objects memorises them and falls well below 0."""
    honest = _fit_and_test(informative=False)
    assert -0.05 < honest < 0.05
    assert _fit_and_test(informative=False, stop_on_training_objects=True) < honest - 0.1


def test_the_transform_head_is_stopped_on_other_base_images():
    """Through TransformHeads itself: random codes, a new one for every view, say nothing of the
    step between two views, but a head stopped on pairs of the views it trains on memorises them.
    Stopped on pairs of other base images, it scores about the constant's R² on new codes."""
    pairs = CyclicPairs(orbits=300, order=8)
    codes = [np.random.default_rng(seed).standard_normal((300, 8, 16)) for seed in (0, 1)]
    scores = TransformHeads.fit(codes[0], pairs, seed=0).score(codes[1], pairs)
    assert abs(scores["transform_r2_dims"]) < 0.02


def test_the_mlp_operator_is_stopped_on_other_base_images():
    """The same through the view datasets' ``_fitted_mlp`` operator: on random codes it can only
    memorise, so stopped on other base images it predicts about the mean code (error about 1 of the
    codes' variance on new ones); stopped on its own training pairs it gave 1.13."""
    so2 = build_family("so2")
    elements = so2.sample(300 * 6, {"angle": [-180, 180]}, torch.Generator().manual_seed(0)).reshape(300, 6, -1)
    pairs = ViewPairs(so2, elements)
    codes = [torch.from_numpy(np.random.default_rng(seed).standard_normal((300, 6, 16))) for seed in (0, 1)]
    rho = fit_conditional_mlp(codes[0], pairs, seed=0)
    batch, flat = next(pairs.batches()), codes[1].flatten(0, 1)
    error = (rho(flat[batch.orbit * 6 + batch.source], batch.element) - flat[batch.orbit * 6 + batch.target])
    assert float(error.pow(2).sum(1).mean() / flat.var(0).sum()) < 1.05
