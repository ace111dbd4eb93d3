"""The metric suite, validated on cases with known answers and on the reference encoders."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from equibench.metrics.capsules import eeq_tvae
from equibench.metrics.commutativity import identity, is_collapsed
from equibench.metrics.fitted import (
    Whitener, fit_operators, fitted_operator, homomorphism_error, transform_accuracy,
)
from equibench.metrics.operator_scores import commutativity
from equibench.metrics.pairs import CyclicPairs
from equibench.metrics.representation import participation_ratio
from equibench.metrics.ridge import ALPHAS, ConditionedRidgeLOO, RidgeLOO
from equibench.metrics.suite import METRICS, evaluate
from equibench.models.encoder import DataSpec, Encoder
from equibench.models.operators import capsule_roll
from equibench.progress import progress
from equibench_plugins.reference import Pixels, RandomMLP


def _rolling_orbits(sequences: int = 50, n: int = 6, capsules: int = 3) -> torch.Tensor:
    """Orbits on which Roll by k inside capsules is exactly the group action."""
    g = torch.Generator().manual_seed(0)
    base = torch.randn(sequences, 1, capsules, n, generator=g)
    return torch.cat([base.roll(t, dims=-1) for t in range(n)], dim=1).flatten(2)


def test_commutativity_is_zero_for_the_true_operator_and_normalised_otherwise() -> None:
    z = _rolling_orbits()
    exact = commutativity(z, capsule_roll(3, 6))
    assert exact.values["commutativity"] < 1e-12 and len(exact.curves["commutativity"]) == 5
    wrong = commutativity(z, lambda v, k: capsule_roll(3, 6)(v, -k)).values["commutativity"]
    assert wrong > 0.5
    doubled = commutativity(2 * z, lambda v, k: capsule_roll(3, 6)(v, -k)).values["commutativity"]
    assert doubled == pytest.approx(wrong), "scale-free: divided by the spread of f"


def test_invariance_is_zero_for_an_invariant_code_and_about_two_for_an_unrelated_one() -> None:
    invariant = torch.randn(40, 1, 8).expand(40, 6, 8)
    assert commutativity(invariant, identity).values["commutativity"] == pytest.approx(0.0, abs=1e-12)
    unrelated = torch.randn(400, 6, 8, generator=torch.Generator().manual_seed(1))
    assert commutativity(unrelated, identity).values["commutativity"] == pytest.approx(2.0, rel=0.05)


def test_constant_encoders_are_collapsed() -> None:
    assert is_collapsed(torch.full((10, 4, 5), 3.0))
    assert is_collapsed(torch.zeros(10, 4, 5))
    assert not is_collapsed(torch.randn(10, 4, 5))


def test_fitted_maps_recover_a_permutation_representation() -> None:
    z = _rolling_orbits(sequences=200)
    whiten, pairs = Whitener.fit(z), CyclicPairs(200, 6)
    maps = fit_operators(whiten(z), pairs)
    assert commutativity(whiten(z), fitted_operator(maps)).values["commutativity"] < 1e-3
    assert homomorphism_error(maps, pairs) < 1e-2
    assert transform_accuracy(whiten(z), maps, pairs) == 1.0


@pytest.mark.parametrize("n", [4, 18])
def test_transform_accuracy_is_at_its_chance_level_one_over_n_minus_one_for_noise(n: int) -> None:
    """k = 0 is not scored (its map is the identity), so chance is 1 / (N - 1), not 2 / N."""
    noise = torch.randn(400, n, 8, generator=torch.Generator().manual_seed(2))
    pairs = CyclicPairs(400, n)
    whiten = Whitener.fit(noise)
    accuracy = transform_accuracy(whiten(noise), fit_operators(whiten(noise), pairs), pairs)
    assert accuracy == pytest.approx(1 / (n - 1), abs=0.25 / (n - 1))


def test_eeq_tvae_matches_a_hand_computation() -> None:
    # one sequence, N = 2 frames, one capsule of size 2: s0 = (3, 4) -> (0.6, 0.8), s1 = (1, 0)
    z = torch.tensor([[[3.0, 4.0], [1.0, 0.0]]])
    # Roll_1(0.6, 0.8) = (0.8, 0.6); |0.8 - 1| + |0.6 - 0| = 0.8
    assert eeq_tvae(z, 1, 2) == pytest.approx(0.8)
    assert eeq_tvae(_rolling_orbits(), 3, 6) == pytest.approx(0.0, abs=1e-9)


def test_participation_ratio_counts_effective_dimensions() -> None:
    g = torch.Generator().manual_seed(4)
    assert participation_ratio(torch.randn(20000, 6, generator=g) + 5.0) == pytest.approx(6, rel=0.05)
    line = torch.randn(1000, 1, generator=g) * torch.tensor([[1.0, 2.0, -1.0]]) + torch.tensor([[3.0, -1.0, 7.0]])
    assert participation_ratio(line) == pytest.approx(1.0, rel=1e-6), "about the mean, not the origin"


def _spec(data) -> DataSpec:
    return DataSpec(data.card.id, data.image_shape, data.num_classes, data.transformation)


class Constant(Encoder):
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return torch.ones(images.shape[0], 4)

    def operator(self, transformation):
        return identity


def test_pixels_are_exactly_equivariant_on_quarter_turns(digits_rot4) -> None:
    ev = evaluate(Pixels({}, _spec(digits_rot4), torch.device("cpu")), "pixels", digits_rot4, progress, 0)
    assert ev.metrics["commutativity"] < 1e-6
    assert ev.metrics["commutativity_fitted"] < 1e-6
    for name in ("h1_orbit", "mrr_orbit", "h1_orbit_fitted", "mrr_orbit_fitted"):
        assert ev.metrics[name] >= 0.99, name
    assert ev.metrics["h5_orbit"] is None and "4 candidates" in ev.null_reasons["h5_orbit"]
    assert ev.chance["h1_orbit"] == 0.25 and ev.warnings == []
    assert set(ev.null_reasons) <= set(METRICS) and all(ev.metrics[name] is None for name in ev.null_reasons)
    assert ev.metrics["invariance"] > 1.0
    assert ev.metrics["probe_accuracy"] > 0.5


def test_random_mlp_scores_clearly_worse_than_pixels_under_fitted_maps(digits_rot18) -> None:
    spec, cpu = _spec(digits_rot18), torch.device("cpu")
    torch.manual_seed(0)
    mlp = evaluate(RandomMLP({"hidden": 512, "dim": 64}, spec, cpu), "random-mlp", digits_rot18, progress, 0)
    pixels = evaluate(Pixels({}, spec, cpu), "pixels", digits_rot18, progress, 0)
    assert mlp.metrics["commutativity"] is None, "random-mlp declares nothing"
    assert pixels.metrics["commutativity"] < 0.02, "interpolated, so not exact"
    assert mlp.metrics["commutativity_fitted"] > 10 * pixels.metrics["commutativity_fitted"]
    # any invertible code tells the 18 views of one image apart under a fitted map, so the fitted
    # orbit retrieval nearly saturates; among every test view it does not
    assert pixels.metrics["h1_all_fitted"] > 0.99 and mlp.metrics["h1_all_fitted"] < 0.9
    assert mlp.metrics["h1_orbit_fitted"] <= pixels.metrics["h1_orbit_fitted"]
    assert len(mlp.curves["commutativity_fitted"]) == 17
    assert math.isfinite(mlp.metrics["homomorphism"])


def test_a_constant_encoder_is_reported_collapsed_not_perfect(digits_rot4) -> None:
    ev = evaluate(Constant({}, _spec(digits_rot4), torch.device("cpu")), "constant", digits_rot4, progress, 0)
    m = ev.metrics
    assert m["collapsed"] is True
    assert m["commutativity"] is None and m["commutativity_fitted"] is None and m["invariance"] is None
    retrieval = [name for name in m if name.startswith(("h1_", "h5_", "mrr_"))]
    # 6 scores x 4 operators (declared, Roll, fitted, fitted MLP) x 2 test splits (test, test_ood)
    assert len(retrieval) == 48 and all(m[name] is None for name in retrieval)
    assert m["transform_r2"] is None and m["probe_accuracy"] is None
    assert "collapsed" in ev.null_reasons["h1_orbit"]


def test_wide_codes_of_a_small_fit_split_are_standardised_without_an_error():
    """Raw pixels of a fit split with fewer views than the heads' 256 components keep one component
    fewer than they have views (the last has no variance left): the probe reads each at unit
    variance, the heads all of them at one scale (their variances falling, their mean 1)."""
    from equibench.metrics.representation import standardiser

    z = torch.rand(10, 8, 300, generator=torch.Generator().manual_seed(0))  # 80 views of 300 pixels
    out = standardiser(z)(z)
    assert out.probe.shape == out.heads.shape == (10, 8, 79)
    assert np.allclose(out.probe.reshape(80, 79).std(0, ddof=1), 1.0)
    variance = out.heads.reshape(80, 79).var(0)
    assert np.isclose(variance.mean(), 1.0) and np.all(np.diff(variance) <= 1e-12) and variance[0] > 2 * variance[-1]


@pytest.mark.parametrize("width", [6, 300], ids=["narrow", "wide"])
def test_the_heads_read_a_code_at_one_scale_and_the_probe_each_dimension_at_unit_variance(width):
    """The heads' inputs are the centred code (wide: its leading principal components) divided by
    one number, so the code's geometry is kept: distances between codes scale by one factor and a
    low-variance dimension stays small. The probe's have unit variance in every dimension."""
    from equibench.metrics.representation import standardiser

    g = torch.Generator().manual_seed(0)
    spread = torch.logspace(1, -2, width)  # dimensions from 10 to 0.01
    z = torch.randn(40, 9, width, generator=g, dtype=torch.float64) * spread + 3.0
    z_test = torch.randn(5, 9, width, generator=g, dtype=torch.float64) * spread + 3.0
    scale = standardiser(z)
    heads, probe = scale(z_test)
    flat = z_test.reshape(-1, width).numpy()
    distances = np.linalg.norm(flat[:, None] - flat[None], axis=-1)
    read = heads.reshape(len(flat), -1)
    ratio = np.linalg.norm(read[:, None] - read[None], axis=-1)[distances > 0] / distances[distances > 0]
    if width == 6:  # narrow: nothing is dropped, every distance scales by the same factor
        assert np.allclose(ratio, ratio[0], rtol=1e-9)
        assert np.allclose(read, (flat - z.reshape(-1, width).numpy().mean(0)) * ratio[0], rtol=1e-9)
    else:  # wide: 256 components keep nearly every distance (the dropped ones are the smallest)
        assert np.allclose(ratio, ratio.mean(), rtol=1e-3)
    fit_heads, fit_probe = scale(z)
    assert np.isclose(fit_heads.reshape(-1, fit_heads.shape[-1]).var(0).mean(), 1.0, rtol=1e-2)
    assert np.allclose(fit_probe.reshape(-1, fit_probe.shape[-1]).std(0), 1.0, rtol=1e-2)


@pytest.mark.parametrize("width", [6, 300], ids=["narrow", "wide"])
def test_the_standardiser_is_scikit_learns_centring_pca_and_scaling(width):
    """Exactly: the probe reads StandardScaler's output, or on a wide code the whitened projection
    on its 256 leading principal components (PCA(whiten=True) of the varying columns, exact:
    the covariance's eigendecomposition), bit for bit, constant columns included; the heads read the
    centred code (PCA's projection) divided by the root of its mean variance about the fit mean,
    divided by the count (so the heads' fit inputs have mean square 1 on a narrow code). The
    components are the covariance's leading eigenvectors (up to sign), computed here apart."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    from equibench.metrics.cores import one_thread
    from equibench.metrics.representation import standardiser

    g = torch.Generator().manual_seed(2)
    z, z_test = (torch.rand(n, 9, width, generator=g, dtype=torch.float64) * torch.linspace(0, 2, width) + 1
                 for n in (40, 5))  # column 0 constant
    flat, flat_test = z.reshape(-1, width).numpy(), z_test.reshape(-1, width).numpy()
    heads, probe = (x.reshape(len(flat_test), -1) for x in standardiser(z)(z_test))
    if width == 6:
        reference = StandardScaler().fit(flat)
        assert np.array_equal(probe, reference.transform(flat_test))
        assert np.allclose(heads, (flat_test - flat.mean(0)) / np.sqrt(flat.var(0).mean()), rtol=1e-12)
        fit_heads = standardiser(z)(z).heads
        assert np.isclose((fit_heads ** 2).mean(), 1.0, rtol=1e-12)
    else:
        with one_thread():  # the standardiser's PCA runs on one thread: its bits follow the count
            whitened = PCA(256, whiten=True, svd_solver="covariance_eigh").fit(flat[:, 1:]).transform(flat_test[:, 1:])
            pca = PCA(256, svd_solver="covariance_eigh").fit(flat[:, 1:])
        assert np.array_equal(probe, whitened)
        variance = pca.explained_variance_.mean() * (len(flat) - 1) / len(flat)
        assert np.allclose(heads, pca.transform(flat_test[:, 1:]) / np.sqrt(variance), rtol=1e-12)
        centred = flat[:, 1:] - flat[:, 1:].mean(0)
        values, vectors = np.linalg.eigh(centred.T @ centred / (len(flat) - 1))
        values, vectors = values[::-1][:256], vectors[:, ::-1][:, :256]
        leading = vectors * np.sign(np.einsum("di,di->i", vectors, pca.components_.T))
        assert np.allclose(pca.components_.T, leading, atol=1e-9)
        assert np.allclose(probe, (flat_test[:, 1:] - flat[:, 1:].mean(0)) @ leading / np.sqrt(values), atol=1e-8)


def test_the_whitening_is_scikit_learns_pca_of_the_varying_columns():
    """The whitening keeps the leading components that explain 99% of the variance, whitened, from
    the one eigendecomposition it shares with the standardiser: bit for bit scikit-learn's own
    ``PCA(0.99, whiten=True)`` fitted on the varying columns, as metric version 5 fitted it, so that
    sharing the decomposition moves no number of a code the heads read whole."""
    from sklearn.decomposition import PCA

    from equibench.metrics.commutativity import varying_columns
    from equibench.metrics.cores import one_thread

    g = torch.Generator().manual_seed(3)
    z = torch.rand(200, 6, 40, generator=g) @ torch.rand(40, 40, generator=g) * (torch.arange(40) % 7 != 0)
    flat = z.reshape(-1, 40)
    columns = varying_columns(flat)
    assert len(columns) == 34
    with one_thread():
        reference = PCA(0.99, whiten=True, svd_solver="covariance_eigh").fit(flat[:, columns].double().numpy())
        expected = reference.transform(flat[:, columns].double().numpy())
    whitened = Whitener.fit(z)(z)
    assert 1 < whitened.shape[-1] == reference.n_components_ < 34
    assert np.array_equal(whitened.reshape(-1, whitened.shape[-1]).numpy(), expected)


@pytest.mark.parametrize("intercept", [False, True], ids=["no-intercept", "intercept"])
@pytest.mark.parametrize("rows, noise, alpha", [(400, 0.1, 0.01), (400, 30.0, 1000.0), (32, 1.0, 1.0), (20, 1.0, None)])
def test_ridge_loo_is_ridgecv(rows, noise, alpha, intercept):
    """The fitted operators' and the linear head's ridge regression equals scikit-learn's RidgeCV
    (strength by leave-one-out): strength, coefficients, intercept and predictions, for each of the
    strengths that win here, with and without intercept, for two target sets on one decomposition
    (and by RidgeCV itself where rows <= columns), and the leave-one-out error at every strength
    (RidgeCV's ``cv_results_``), which a wrong leverage could change without moving the winner. At
    32 rows the intercept's leverage 1/n decides the strength."""
    from sklearn.linear_model import RidgeCV

    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, 30)) * rng.uniform(0.1, 3.0, 30) + 5.0 * intercept
    design = RidgeLOO(x, intercept)
    for targets in (4, 1):
        y = x @ rng.standard_normal((30, targets)) + 3.0 * intercept + noise * rng.standard_normal((rows, targets))
        reference = RidgeCV(alphas=ALPHAS, fit_intercept=intercept, store_cv_results=rows > 30).fit(x, y)
        assert alpha is None or targets == 1 or reference.alpha_ == pytest.approx(alpha)
        ridge = design.fit(y)
        scale = np.abs(reference.coef_).max()
        assert ridge.alpha == reference.alpha_
        if rows > 30:  # the leave-one-out error at every strength, which decides it (RidgeCV's own mode)
            loo = reference.cv_results_.reshape(rows, -1, len(ALPHAS)).mean((0, 1))
            assert np.allclose(ridge.errors, loo, rtol=1e-10, atol=0)
        assert np.allclose(ridge.coef, reference.coef_, rtol=1e-12, atol=1e-13 * scale)
        assert np.allclose(ridge.intercept, reference.intercept_, rtol=1e-12, atol=1e-13 * scale)
        assert np.allclose(ridge.predict(x).ravel(), reference.predict(x).ravel(), rtol=1e-12, atol=1e-12 * np.abs(y).max())


@pytest.mark.parametrize("codes, noise, alpha", [(300, 0.5, 0.1), (300, 40.0, 1000.0), (6, 1.0, 1.0)],
                         ids=["weak", "strong", "few-rows"])
def test_conditioned_ridge_is_the_ridge_on_the_formed_design(codes, noise, alpha):
    """The view datasets' conditioned operator never forms its Kronecker design phi (x) x; fitted on
    that design formed row by row, RidgeLOO gives the same strength, coefficients and leave-one-out
    choice. Each code is paired with 5 elements of its own, so every sum the structured route
    regroups (the Gram blocks, x'y, the leverages, the fitted values) is a sum over several rows.
    The noise moves the strength (0.1 and 1000 win); with 6 codes (30 rows) the design is wider than tall
    and is formed (RidgeLOO's RidgeCV route)."""
    rng = np.random.default_rng(1)
    blocks, features, width, targets = 5, 4, 9, 7
    x = rng.standard_normal((codes, width)) * rng.uniform(0.2, 3.0, width)
    phi = np.concatenate([np.ones((codes, blocks, 1)), rng.uniform(-1, 1, (codes, blocks, features - 1))], axis=2)
    design = (phi[:, :, :, None] * x[:, None, None, :]).reshape(codes * blocks, features * width)
    assert design[blocks + 2, 3 * width + 5] == phi[1, 2, 3] * x[1, 5]  # row (i, d), column m w + a
    y = design @ rng.standard_normal((features * width, targets)) + noise * rng.standard_normal((codes * blocks, targets))
    reference = RidgeLOO(design).fit(y)
    ridge = ConditionedRidgeLOO(x, phi).fit(y.reshape(codes, blocks, targets))
    assert ridge.alpha == reference.alpha == pytest.approx(alpha)
    if codes > 6:  # the leave-one-out error at every strength, which decides the strength
        assert np.allclose(ridge.errors, reference.errors, rtol=1e-10, atol=0)
    assert np.allclose(ridge.coef, reference.coef, rtol=1e-10, atol=1e-12 * np.abs(reference.coef).max())
    assert not ridge.intercept.any()


def test_the_heads_inputs_do_not_depend_on_the_thread_count():
    """The standardiser and the whitening run on one BLAS thread: fitted and applied under 1 or 2
    threads they give the same bits (on 2 threads, unpinned, both differ in the last digits, which
    the MLP heads amplify to 0.02 of R²)."""
    from threadpoolctl import threadpool_limits

    from equibench.metrics.representation import standardiser

    g = torch.Generator().manual_seed(0)
    z = torch.rand(360, 18, 784, generator=g) * (torch.rand(360, 18, 784, generator=g) > 0.6)
    outputs = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads):
            outputs.append((standardiser(z)(z), Whitener.fit(z)(z)))
    assert all(np.array_equal(a, b) for a, b in zip(outputs[0][0], outputs[1][0]))
    assert torch.equal(outputs[0][1], outputs[1][1])


def test_the_suite_gives_the_same_bits_side_by_side_as_one_chain_after_the_other(digits_rot18):
    """On two threads the suite's chains run side by side (metrics/cores.py), on one thread one after
    the other: every metric, curve, chance level and null reason the same, bit for bit, on raw
    pixels (whose principal axes the whitening and the heads share, and whose BLAS calls would round
    differently on two threads)."""
    spec, cpu, threads = _spec(digits_rot18), torch.device("cpu"), torch.get_num_threads()
    runs = []
    try:
        for count in (2, 1):
            torch.set_num_threads(count)
            runs.append(evaluate(Pixels({}, spec, cpu), "pixels", digits_rot18, progress, 0))
    finally:
        torch.set_num_threads(threads)
    side_by_side, serial = runs
    assert side_by_side.metrics == serial.metrics and side_by_side.metrics["transform_r2"] > 0.5
    assert (side_by_side.curves, side_by_side.chance, side_by_side.null_reasons) == (
        serial.curves, serial.chance, serial.null_reasons)
    assert {"principal_axes", "whiten", "standardise", "commutativity"} <= set(side_by_side.watch.seconds)


def test_side_by_side_runs_two_tasks_at_once_and_returns_their_results_in_order():
    """Tasks run two at a time on two threads or more (each sees half of torch's threads), one after
    the other on one; results come back in the order given, and a task's exception is raised."""
    import threading
    import time

    from equibench.metrics.cores import Shared, side_by_side

    threads = torch.get_num_threads()
    both = threading.Barrier(2, timeout=10)  # passes only if two tasks wait at once
    calls = []
    shared = Shared(lambda: calls.append(1) or len(calls))

    def task(value):
        def run():
            both.wait()
            return value, torch.get_num_threads(), shared.get()
        return run

    try:
        torch.set_num_threads(2)
        assert side_by_side([task("a"), task("b")]) == [("a", 1, 1), ("b", 1, 1)] and calls == [1]
        torch.set_num_threads(1)
        assert side_by_side([lambda: "c", lambda: torch.get_num_threads()]) == ["c", 1]
        torch.set_num_threads(2)

        def fails(which):
            def run():
                raise ValueError(f"from chain {which}")
            return run
        ran = []
        queued = [lambda i=i: ran.append(i) for i in range(10)]
        with pytest.raises(ValueError, match="from chain 1"):  # the first in order, whatever ends first
            side_by_side([lambda: time.sleep(0.3), fails(1), *queued, fails(12)])
        assert len(ran) <= 1, "the queued tasks are cancelled (one may start as the failure ends)"
        assert torch.get_num_threads() == 2, "the run's thread count is restored"
    finally:
        torch.set_num_threads(threads)


