"""The gcnn plugin: escnn's own equivariance check, the declared operator on exact rotations,
export equivalence, both objectives and a harness run. Tiny widths throughout."""

from __future__ import annotations

import json

import pytest
import torch
from escnn import gspaces, nn

from equibench.data.orbits import OrbitSplit
from equibench.errors import ConfigError
from equibench.metrics.operator_scores import commutativity
from equibench.models.encoder import DataSpec
from equibench.runs.runner import RunRequest, run
from equibench.transforms import Composite, Hue, Rotation, Scale, Shift, Transformation
from equibench_plugins.gcnn import GCNN
from equibench_plugins.steerable import build_trunk, export_to_torch

TINY = {"channels": [8, 8, 16], "epochs": 1, "frames_per_sequence": 2, "decoder_hidden": [32]}


def _model(transformation: Transformation, channels: int = 1, **config) -> GCNN:
    spec = DataSpec("test", (channels, 28, 28), 10, transformation)
    return GCNN({**GCNN.default_config("quick", spec), **TINY, **config}, spec, torch.device("cpu"))


def _quarter_turn_orbits(count: int = 12) -> OrbitSplit:
    """Random images and their rotations by 0, 90, 180 and 270 degrees."""
    g = torch.Generator().manual_seed(0)
    base = (torch.rand(count, 1, 1, 28, 28, generator=g) * 255).to(torch.uint8)
    frames = torch.cat([torch.rot90(base, k, dims=(-2, -1)) for k in range(4)], dim=1)
    return OrbitSplit(frames, torch.randint(0, 10, (count,), generator=g), torch.arange(4).repeat(count, 1))


def _fitted(objective: str, **config) -> GCNN:
    torch.manual_seed(0)
    model = _model(Rotation(4), objective=objective, **config)
    model.fit(_quarter_turn_orbits(), lambda iterable, **_: iterable)
    return model


def _relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_escnn_equivariance_check_passes_on_the_trunk_and_fails_when_pooling_is_off_centre() -> None:
    """escnn's ``check_equivariance`` feeds 10x10 inputs and samples elements of C_4 (all exact);
    a trunk built for 12x12 inputs samples off-centre pixels at 10x10 and must fail it."""
    gspace = gspaces.rot2dOnR2(4)
    image = nn.FieldType(gspace, [gspace.trivial_repr])
    torch.manual_seed(0)
    errors = build_trunk(image, [8, 8, 8], size=10).eval().check_equivariance()
    assert len(errors) == 20 and max(e for _, e in errors) < 1e-6
    with pytest.raises(AssertionError, match="equivariance check"):
        build_trunk(image, [8, 8, 8], size=12).eval().check_equivariance()


@pytest.mark.parametrize(("n", "objective"), [(4, "classify"), (8, "classify"), (4, "vae"), (8, "vae")])
def test_declared_operator_is_exact_on_quarter_turns(n: int, objective: str) -> None:
    """rot90^k of the input is the shift of every regular field by k N / 4, trained or not."""
    orbits = _quarter_turn_orbits()
    for model in (_model(Rotation(4), N=n, objective=objective, train=False), _fitted(objective, N=n)):
        z = model.encode(orbits.images()).unflatten(0, (orbits.num_sequences, 4))
        rho = model.operator(Rotation(4))
        assert commutativity(z, rho).values["commutativity"] < 1e-8  # float32 rounding only
        wrong = commutativity(z, lambda v, k: rho(v, -k)).values["commutativity"]
        assert wrong > 0.05, "the other direction must not fit"


def test_operator_is_declared_only_for_rotations_whose_order_divides_n() -> None:
    model = _model(Rotation(4), N=8, train=False)
    assert model.operator(Rotation(8)) is not None and model.operator(Rotation(2)) is not None
    undeclared = [Rotation(18), Rotation(16), Shift(7, (4, 0)), Scale(18, (0.6, 1.26)), Hue(8),
                  Composite([Rotation(8), Hue(8)])]
    assert all(model.operator(t) is None for t in undeclared)
    assert model.capsules() == (2, 8)


def test_default_n_follows_the_rotation_order_else_eight() -> None:
    def default_n(t: Transformation) -> int:
        return GCNN.default_config("quick", DataSpec("test", (3, 28, 28), 10, t))["N"]

    assert default_n(Rotation(18)) == 18 and default_n(Rotation(4)) == 4
    assert default_n(Composite([Rotation(18), Hue(18)])) == 18
    assert default_n(Hue(18)) == 8 and default_n(Shift(7, (4, 0))) == 8


@pytest.mark.parametrize("objective", ["classify", "vae"])
def test_exported_network_gives_the_escnn_outputs_with_plain_torch_modules(objective: str) -> None:
    model = _fitted(objective)
    x = _quarter_turn_orbits().images()
    assert _relative_error(model.features(x, exported=True), model.features(x, exported=False)) < 1e-6
    exported = export_to_torch(model.net["encoder"])
    assert not any(isinstance(m, nn.EquivariantModule) for m in exported.modules())


def test_encoding_in_chunks_gives_the_bits_of_one_pass() -> None:
    """On the CPU the network encodes 128 images at a time; every bit must be what one pass over the
    harness's batch gives (records depend on it). Quick widths: the kernels depend on them."""
    torch.manual_seed(0)
    spec = DataSpec("test", (1, 28, 28), 10, Rotation(18))
    model = GCNN({**GCNN.default_config("quick", spec), "train": False}, spec, torch.device("cpu"))
    x = torch.rand(300, 1, 28, 28)  # two chunks of 128 and one of 44
    assert torch.equal(model.features(x), model._encoder_output(x, exported=True)[:, : model.latent_dim])


def test_export_equivalence_on_colour_images() -> None:
    model = _model(Hue(8), channels=3, train=False)
    x = torch.rand(6, 3, 28, 28)
    assert model.features(x).shape == (6, 2 * 8)
    assert _relative_error(model.features(x, exported=True), model.features(x, exported=False)) < 1e-6


def test_supervision_follows_the_objective() -> None:
    assert _model(Rotation(4)).supervision == "labels"
    assert _model(Rotation(4), train=False).supervision == "none"
    assert _model(Rotation(4), objective="vae").supervision == "none"
    with pytest.raises(ConfigError, match="objective"):
        _model(Rotation(4), objective="contrastive")


def test_vae_objective_has_a_finite_log_likelihood_and_reconstructions() -> None:
    model, orbits = _fitted("vae"), _quarter_turn_orbits()
    ll = model.log_likelihood(orbits.sequences()[:3])
    assert ll.shape == (3,) and torch.isfinite(ll).all() and (ll < 0).all()
    assert model.reconstruct(orbits.images()[:5]).shape == (5, 1, 28, 28)
    classifier = _model(Rotation(4), train=False)
    assert classifier.log_likelihood(orbits.sequences()[:3]) is None and classifier.reconstruct(orbits.images()) is None


@pytest.mark.parametrize("objective", ["classify", "vae"])
def test_checkpoint_round_trip_restores_the_same_encoder(objective: str) -> None:
    model, x = _fitted(objective), _quarter_turn_orbits().images()
    torch.manual_seed(1)
    fresh = _model(Rotation(4), objective=objective)
    assert _relative_error(fresh.encode(x), model.encode(x)) > 1e-3
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(fresh.encode(x), model.encode(x))


def test_harness_run_on_quarter_turns_is_exact_and_records_labels(tmp_path, digits_rot4) -> None:
    overrides = tuple(f"{k}={json.dumps(v)}" for k, v in TINY.items()) + ("frames_per_sequence=1",)
    record = json.loads(run(RunRequest(model="gcnn", dataset="digits-rot4", overrides=overrides,
                                       out_dir=tmp_path), progress=lambda iterable, **_: iterable).read_text())
    assert record["supervision"] == "labels"
    assert record["metrics"]["commutativity"] < 1e-5 and record["metrics"]["commutativity_roll"] < 1e-5
    assert record["metrics"]["invariance"] > 0.01
