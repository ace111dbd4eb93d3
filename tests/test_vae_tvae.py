"""The vae and tvae plugins: W's neighbourhood, the shifting property, the log-likelihood
estimator against exact values, the likelihood and KL terms, and checkpoints through the harness."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import special

from equibench.data.cards import load_card
from equibench.data.orbits import OrbitSplit
from equibench.errors import ConfigError
from equibench.metrics.capsules import eeq_tvae
from equibench.models import DataSpec, NotMeasurable
from equibench.metrics.suite import evaluate
from equibench.models.operators import capsule_roll
from equibench.transforms import Rotation
from equibench_plugins.topographic import Topographic, neighbourhood_sum, offsets, time_window
from equibench_plugins.tvae import TVAE
from equibench_plugins.vae import VAE, Gaussian, bernoulli_log_likelihood

CPU = torch.device("cpu")


def dense_w(frames: int, capsules: int, capsule_dim: int, window: int, kernel: int, shifting: bool) -> torch.Tensor:
    """W as a matrix over flattened ``[frames, capsules, capsule_dim]``: column j is W e_j."""
    n = frames * capsules * capsule_dim
    basis = torch.eye(n).reshape(n, frames, capsules, capsule_dim)
    return neighbourhood_sum(basis, window, kernel, shifting).reshape(n, n).T


def tiny(cls: type, order: int = 4, image_shape: tuple[int, int, int] = (1, 6, 6), **overrides) -> VAE:
    spec = DataSpec("tiny", image_shape, 10, Rotation(order))
    config = {**cls.default_config("quick", spec), "hidden": [16, 8], "capsules": 2, "epochs": 2,
              "batch_sequences": 4, **overrides}
    return cls(config, spec, CPU)


def reference_w(u2: torch.Tensor, window: int, kernel: int, shifting: bool) -> torch.Tensor:
    """W u^2 as the reference computes it, built independently of the plugin: a frozen 0/1
    ConvTranspose3d over (time, position) per capsule, square K x K with ones on |a - b| <= 1 when
    shifting (all ones, window x kernel, when stationary), after the same circular padding."""
    batch, frames, capsules, dim = u2.shape
    kt, kc = (window, window) if shifting else (window, kernel)
    weight = torch.tensor([[float(not shifting or abs(a - b) <= kernel // 2) for b in range(kc)] for a in range(kt)])
    even = [(k + 1) % 2 for k in (kt, kc)]  # the reference's padding fix for an even kernel
    conv = torch.nn.ConvTranspose3d(1, 1, (kt, kc, 1), bias=False, dtype=u2.dtype,
                                    padding=(2 * (kt // 2) - even[0], 2 * (kc // 2) - even[1], 0))
    x = u2.permute(0, 2, 1, 3).reshape(batch * capsules, 1, frames, dim, 1)
    x = torch.nn.functional.pad(x, (0, 0, kc // 2 - even[1], kc // 2, kt // 2 - even[0], kt // 2), mode="circular")
    with torch.no_grad():
        conv.weight.copy_(weight[None, None, :, :, None])
        return conv(x).reshape(batch, capsules, frames, dim).permute(0, 2, 1, 3)


@pytest.mark.parametrize("variant, terms", [("L0", 3), ("L1/2", 52), ("L13/36", 37), ("L5/36", 13), ("bubbles", 15)])
def test_w_is_the_reference_kernel(variant: str, terms: int):
    """At N = 18: the impulse response has the reference's 3K - 2 terms for the shifting windows
    (the square kernel clips the band at both ends), and W u^2 equals the reference's."""
    window, shifting = time_window(variant, 18)
    impulse = torch.zeros(1, 18, 2, 18, dtype=torch.float64)
    impulse[0, 5, 1, 7] = 1.0
    response = neighbourhood_sum(impulse, window, 3, shifting)
    assert int((response != 0).sum()) == terms == int((reference_w(impulse, window, 3, shifting) != 0).sum())
    assert not response[:, :, 0].any()  # never across capsules
    u2 = torch.randn(4, 18, 3, 18, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).square()
    ours, reference = neighbourhood_sum(u2, window, 3, shifting), reference_w(u2, window, 3, shifting)
    assert float(((ours - reference).abs() / reference).max()) < 1e-6


def test_w_stationary_is_a_circular_band_and_never_crosses_capsules():
    w = dense_w(1, 2, 5, window=1, kernel=3, shifting=False)
    band = torch.tensor([[1, 1, 0, 0, 1], [1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [1, 0, 0, 1, 1]])
    assert torch.equal(w[:5, :5], band.float()) and torch.equal(w[5:, 5:], band.float())
    assert not w[:5, 5:].any() and not w[5:, :5].any()
    shifted = dense_w(3, 2, 5, window=3, kernel=3, shifting=True).reshape(3, 2, 5, 3, 2, 5)
    assert not shifted[:, 0, :, :, 1].any() and not shifted[:, 1, :, :, 0].any()


def test_windows_of_the_paper_variants():
    assert [time_window(v, 18) for v in ("L0", "L1/2", "L13/36", "L5/36", "bubbles")] == [
        (1, False), (18, True), (13, True), (5, True), (5, False)]
    assert list(offsets(3)) == [-1, 0, 1] and list(offsets(18)) == list(range(-9, 9))
    with pytest.raises(ConfigError, match="variant"):
        time_window("L1/3", 18)


@pytest.mark.parametrize("window", [6, 5, 2])
def test_shifting_property(window: int):
    """z, u of frame t + 1 equal those of frame t rolled by one in every capsule => so does s,
    and each frame alone (context=False) gives the same code as with its window."""
    torch.manual_seed(0)
    capsules, dim = 3, 6
    layer = Topographic(capsules, dim, window, kernel=3, shifting=True, mu_init=30.0)
    roll = capsule_roll(capsules, dim)
    z0, u0 = torch.randn(2, 1, capsules * dim), torch.randn(2, 1, capsules * dim)
    z = torch.stack([roll(z0[:, 0], t) for t in range(dim)], dim=1)
    u = torch.stack([roll(u0[:, 0], t) for t in range(dim)], dim=1)
    with torch.no_grad():
        s = layer(z, u.square())
        alone = layer(z, u.square(), context=False)
    for t in range(dim - 1):
        torch.testing.assert_close(s[:, t + 1], roll(s[:, t], 1))
    torch.testing.assert_close(alone, s)
    if window > 1:  # the diagonal's direction matters: a stationary window sums other positions
        stationary = Topographic(capsules, dim, window, kernel=3, shifting=False, mu_init=30.0)
        with torch.no_grad():
            assert not torch.allclose(stationary(z, u.square(), context=False), stationary(z, u.square()))


def _eeq_of_context_codes(variant: str, z: torch.Tensor, u2: torch.Tensor) -> float:
    """E_eq of the paper-sized layer's (18 capsules of 18) context codes of ``z``, ``u2``."""
    window, shifting = time_window(variant, 18)
    with torch.no_grad():
        return eeq_tvae(Topographic(18, 18, window, 3, shifting, mu_init=30.0)(z, u2), 18, 18)


def test_eeq_of_chi_squared_noise_is_in_the_hundreds_and_of_a_rolling_code_near_zero():
    """E_eq of the context codes tells pure chi-squared noise u^2 from a code that rolls with the
    frames, under L13/36 and, thanks to the square kernel's clipped ends, under L1/2 too (with
    the unclipped band, W u^2 would depend on i - t alone there, and noise would score ~0)."""
    g = torch.Generator().manual_seed(0)
    roll = capsule_roll(18, 18)
    z0, u0 = torch.randn(2, 8, 18 * 18, generator=g)
    rolling_z, rolling_u = (torch.stack([roll(x, t) for t in range(18)], dim=1) for x in (z0, u0))
    zero, noise = torch.zeros(8, 18, 18 * 18), torch.randn(8, 18, 18 * 18, generator=g).square()
    for variant in ("L13/36", "L1/2"):
        assert 100 < _eeq_of_context_codes(variant, zero, noise) < 1000
        assert _eeq_of_context_codes(variant, rolling_z, rolling_u.square()) < 1e-3


def test_the_suite_reports_a_not_measurable_metric_as_null_with_its_reason(digits_rot4):
    class Windowless(TVAE):
        def encode_sequences(self, sequences: torch.Tensor) -> torch.Tensor:
            raise NotMeasurable("no window here")

    spec = DataSpec("digits-rot4", digits_rot4.image_shape, digits_rot4.num_classes, digits_rot4.transformation)
    model = Windowless({**TVAE.default_config("quick", spec), "hidden": [16, 8], "capsules": 2}, spec, CPU)
    ev = evaluate(model, "windowless", digits_rot4, lambda it, **_: it, seed=0)
    assert ev.metrics["eeq_tvae_context_mean"] is None and ev.null_reasons["eeq_tvae_context_mean"] == "no window here"
    assert "eeq_tvae" not in ev.null_reasons
    assert ev.metrics["eeq_tvae"] > 0


def test_posterior_samples_follow_the_generator():
    sequences = torch.rand(2, 4, 1, 6, 6)
    for model in (tiny(TVAE), tiny(VAE)):
        draw = [model.sample_sequences(sequences, torch.Generator().manual_seed(seed)) for seed in (0, 0, 1)]
        assert draw[0].shape == (2, 4, 8)
        assert torch.equal(draw[0], draw[1]) and not torch.allclose(draw[0], draw[2])


def test_decoder_initialised_like_transposed_convolutions():
    """The reference's ConvTranspose2d layers take fan-in from their output channels."""
    spec = DataSpec("x", (3, 28, 28), 10, Rotation(18))
    decoder = VAE(VAE.default_config("paper", spec), spec, CPU).net.decoder
    stds = [float(layer.weight.detach().std()) for layer in decoder if isinstance(layer, torch.nn.Linear)]
    assert stds == pytest.approx([0.0227, 0.0185, 0.0119], abs=3e-4)


def test_gaussian_terms_match_torch_distributions():
    torch.manual_seed(0)
    q = Gaussian(torch.randn(5, 7), torch.randn(5, 7))
    x = torch.randn(5, 7)
    normal, prior = torch.distributions.Normal(q.mean, q.logvar.mul(0.5).exp()), torch.distributions.Normal(0.0, 1.0)
    torch.testing.assert_close(q.kl(), torch.distributions.kl_divergence(normal, prior).sum(-1))
    torch.testing.assert_close(q.log_ratio(x), (prior.log_prob(x) - normal.log_prob(x)).sum(-1))
    torch.testing.assert_close(q.second_moment(), q.mean.square() + q.logvar.exp())


def test_bernoulli_likelihood_of_grey_values():
    logits, x = torch.randn(3, 1, 2, 2), torch.rand(3, 1, 2, 2)  # grey, not binary
    p = torch.sigmoid(logits)
    expected = (x * p.log() + (1 - x) * (1 - p).log()).sum((1, 2, 3))
    torch.testing.assert_close(bernoulli_log_likelihood(logits, x), expected)


PROPOSAL_MEAN, PROPOSAL_STD, DECODER_GAIN = 0.4, 1.6, 8.0
"""Every q(. | x) in the likelihood tests: shifted from, and wider than, the N(0, 1) prior, so
that the latent log-ratio log p - log q of each importance weight matters."""


def _fixed_proposal(model: VAE) -> None:
    """Make every q(. | x) N(PROPOSAL_MEAN, PROPOSAL_STD^2) whatever x, and the decoder depend
    strongly on s; the exact log p(x) does not depend on q, the estimator's weights do."""
    encoders = [model.net.encoder_z] + ([model.net.encoder_u] if model.net.encoder_u is not None else [])
    with torch.no_grad():
        for encoder in encoders:
            d = encoder[-1].out_features // 2
            encoder[-1].weight.zero_()
            encoder[-1].bias.copy_(torch.tensor([PROPOSAL_MEAN] * d + [2 * math.log(PROPOSAL_STD)] * d))
        for layer in model.net.decoder:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.mul_(DECODER_GAIN)


def _pixel_probability(model: VAE, x: float, s: np.ndarray) -> np.ndarray:
    """p(x | s) of the one-pixel model for codes ``s`` (a 1-D array of scalars)."""
    with torch.no_grad():
        logits = model.net.decode(torch.as_tensor(s, dtype=torch.float32)[:, None]).flatten().double()
    return bernoulli_log_likelihood(logits[:, None, None, None], torch.full((len(s), 1, 1, 1), x,
                                    dtype=torch.float64)).exp().numpy()


def _gauss_expectation(f, points: int = 80) -> np.ndarray:
    """E f(z), z ~ N(0, 1), by Gauss-Hermite quadrature; ``f`` maps nodes ``[points]`` to
    ``[..., points]``."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(points)
    return (weights * f(nodes)).sum(-1) / math.sqrt(2 * math.pi)


def _estimate(model: VAE, frames: list[float], copies: int) -> float:
    """Mean over independent copies of the plugin's estimate for the sequence ``frames``."""
    torch.manual_seed(0)
    sequences = torch.tensor(frames).reshape(1, len(frames), 1, 1, 1).expand(copies, -1, -1, -1, -1)
    return float(model.log_likelihood(sequences.contiguous()).mean())


def test_vae_log_likelihood_against_quadrature():
    torch.manual_seed(0)
    model = tiny(VAE, order=2, image_shape=(1, 1, 1), capsules=1, capsule_dim=1, hidden=[8], is_samples=64)
    _fixed_proposal(model)
    frames = [0.9, 0.2]
    exact = sum(math.log(_gauss_expectation(lambda z, x=x: _pixel_probability(model, x, z))) for x in frames)
    assert _estimate(model, frames, copies=1000) == pytest.approx(exact, abs=0.02)


def test_tvae_log_likelihood_estimates_the_whole_sequence():
    """Three one-pixel frames, one capsule of one dimension, a shifting window of all frames and
    a band of one position (kernel 1, so W is the window's diagonal alone): s_t =
    (z_t + mu) / sqrt(r^2 + eps) with r^2 = u_0^2 + u_1^2 + u_2^2 ~ chi^2(3) = 2 Gamma(3/2) under
    the prior, whatever the proposal;
    given r^2 the frames are independent, so log p(x_0, x_1, x_2) is a 2-D integral:
    generalised Gauss-Laguerre over r^2 / 2, Gauss-Hermite over each z_t."""
    torch.manual_seed(1)
    frames, mu = [0.9, 0.95, 0.9], 2.0
    model = tiny(TVAE, order=3, image_shape=(1, 1, 1), capsules=1, capsule_dim=1, hidden=[8], is_samples=1024,
                 variant="L1/2", mu_init=mu, kernel=1)
    _fixed_proposal(model)
    half_r2, weights = special.roots_genlaguerre(150, 0.5)
    scale = 1.0 / np.sqrt(2.0 * half_r2 + 1e-6)

    def log_p(which: list[float]) -> float:
        given_r2 = math.prod(_gauss_expectation(lambda z, x=x: _pixel_probability(
            model, x, ((z[None] + mu) * scale[:, None]).ravel()).reshape(len(scale), -1)) for x in which)
        return math.log(2.0 / math.sqrt(math.pi) * float((weights * given_r2).sum()))

    exact = log_p(frames)
    assert abs(exact - sum(log_p([x]) for x in frames)) > 0.3  # a per-frame estimator would be caught
    assert _estimate(model, frames, copies=500) == pytest.approx(exact, abs=0.03)


def _split(order: int, sequences: int = 8) -> OrbitSplit:
    g = torch.Generator().manual_seed(1)
    frames = torch.randint(0, 256, (sequences, order, 1, 6, 6), dtype=torch.uint8, generator=g)
    return OrbitSplit(frames, torch.zeros(sequences, dtype=torch.long), torch.arange(order).repeat(sequences, 1))


@pytest.mark.parametrize("cls", [VAE, TVAE])
def test_fit_lowers_the_loss_and_checkpoints_round_trip(cls: type, tmp_path):
    torch.manual_seed(0)
    split = _split(4)
    model = tiny(cls, epochs=5, lr=1e-2)
    with torch.no_grad():
        before = float(model.net.loss(split.sequences()))
    model.fit(split, lambda it, **_: it)
    with torch.no_grad():
        assert float(model.net.loss(split.sequences())) < before
    torch.save(model.state_dict(), tmp_path / "ckpt.pt")
    restored = tiny(cls, epochs=5, lr=1e-2)
    restored.load_state_dict(torch.load(tmp_path / "ckpt.pt", weights_only=True))
    images = split.images()
    torch.testing.assert_close(restored.encode(images), model.encode(images), rtol=0, atol=0)
    assert model.encode(images).shape == (len(images), 2 * 4)
    assert model.reconstruct(images).shape == images.shape


def test_training_stops_after_max_steps_and_quick_keeps_its_digits_epochs():
    """A cap that binds ends training mid-epoch; one that does not changes no weight; and quick's
    cap is its 60 epochs of digits' training split, so training there is what it was."""
    split = _split(4)  # 8 sequences: 2 batches of 4 an epoch
    taken, weights = {}, {}
    for cap in (0, 3, 10, 100):
        torch.manual_seed(0)
        model = tiny(VAE, epochs=5, max_steps=cap)
        make, count = model.optimizer, []

        def counting(make=make, count=count):
            optimizer = make()
            step = optimizer.step
            optimizer.step = lambda *a, **k: (count.append(1), step(*a, **k))[1]
            return optimizer

        model.optimizer = counting
        model.fit(split, lambda it, **_: it)
        taken[cap], weights[cap] = len(count), model.state_dict()
    assert taken == {0: 10, 3: 3, 10: 10, 100: 10}
    for cap in (10, 100):
        assert all(torch.equal(weights[0][k], weights[cap][k]) for k in weights[0])
    assert not all(torch.equal(weights[0][k], weights[3][k]) for k in weights[0])
    digits = load_card("digits-rot18").splits["train"]
    config = VAE.default_config("quick", DataSpec("digits-rot18", (1, 28, 28), 10, Rotation(18)))
    assert config["max_steps"] == config["epochs"] * math.ceil(digits / config["batch_sequences"])


def test_declared_operators_and_capsules():
    tvae, vae = tiny(TVAE), tiny(VAE)
    assert tvae.capsules() == vae.capsules() == (2, 4)
    assert vae.operator(Rotation(4)) is None and tvae.operator(Rotation(4)) is not None
    assert tvae.operator(Rotation(8)) is None
    assert vae.encode_sequences(torch.rand(2, 4, 1, 6, 6)) is None
    assert tvae.encode_sequences(torch.rand(2, 4, 1, 6, 6)).shape == (2, 4, 8)


def test_default_capsules_follow_the_order():
    for order, capsules in ((18, 18), (4, 81)):
        spec = DataSpec("x", (1, 28, 28), 10, Rotation(order))
        config = TVAE.default_config("paper", spec)
        assert (config["capsules"], config["capsule_dim"], config["hidden"]) == (capsules, order, [972, 648])


@pytest.mark.parametrize("model", ["tvae", "vae"])
def test_harness_run_loads_the_second_time_and_scores_roll(model: str, tmp_path, digits_rot4):
    from equibench.runs.runner import RunRequest, run

    sets = ("epochs=1", "hidden=[32,16]", "is_samples=2", "capsules=4")
    request = RunRequest(model=model, dataset="digits-rot4", overrides=sets, out_dir=tmp_path)
    first = json.loads(run(request, lambda it, **_: it).read_text())
    second = json.loads(run(request, lambda it, **_: it).read_text())
    assert not first["checkpoint"]["loaded"] and second["checkpoint"]["loaded"]
    assert first["metrics"] == second["metrics"]
    metrics = first["metrics"]
    assert metrics["commutativity_roll"] is not None and metrics["eeq_tvae"] is not None
    assert metrics["log_likelihood"] < 0
    if model == "tvae":
        assert metrics["commutativity"] == metrics["commutativity_roll"]
        assert metrics["eeq_tvae_context_mean"] is not None
    else:
        assert metrics["commutativity"] is None and metrics["eeq_tvae_context_mean"] is None
    assert set(first["figures"]) == {"roll_decoding", "capsule_activations"}
    assert all((tmp_path / name).is_file() for name in first["figures"].values())
