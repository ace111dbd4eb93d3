"""The sie and vicreg plugins: every loss term against its value on batches built by hand (a dropped
term or a flipped sign changes the total), SIE's predictor against the reference's per-row matrices,
the declared operator's contract, training lowers the loss, the seed fixes the weights, refusals
are one line, and a harness run on an orbit dataset. Tiny widths throughout."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import torch

from equibench.cli import main
from equibench.data.cards import parse_card
from equibench.data.sources import load_source
from equibench.data.views import ViewSplit, generate
from equibench.errors import ConfigError
from equibench.groups import build_family, quaternions
from equibench.models import DataSpec
from equibench.runs.runner import RunRequest, run
from equibench.transforms import Rotation
from equibench_plugins.joint_embedding import hyper_inputs
from equibench_plugins.sie import SIE, sie_loss
from equibench_plugins.vicreg import VICReg, vicreg_loss

TINY = {"cnn_widths": [4, 8], "mlp": [16, 16], "batch_size": 8, "epochs": 3, "equivariant_dim": 4}
CARD = """
id = "tiny-so2-views"
source = "digits"
seed = 5
[transformation]
kind = "so2"
interpolation = "bicubic"
[views]
count = 4
[views.train]
angle = [[-180.0, 180.0]]
[splits]
train = 24
fit = 8
test = 8
"""
SIE_COEFFS = {"sim_coeff": 10.0, "std_coeff": 10.0, "cov_coeff": 1.0, "equi_factor": 0.45}
VICREG_COEFFS = {"sim_coeff": 25.0, "std_coeff": 25.0, "cov_coeff": 1.0}


def _model(cls: type, transformation=None, **config):
    spec = DataSpec("tiny", (1, 28, 28), 10, transformation if transformation is not None else build_family("so2"))
    keys = cls.default_config("quick", spec)
    return cls({**keys, **{k: v for k, v in {**TINY, **config}.items() if k in keys}}, spec, torch.device("cpu"))


@pytest.fixture(scope="module")
def views() -> ViewSplit:
    return generate(parse_card(CARD, "tiny"), load_source("digits"), lambda it, **_: it).splits["train"]


def _orthogonal(columns: int, scale: float) -> torch.Tensor:
    """A batch of 8 whose ``columns`` have mean 0, variance ``scale^2 * 8/7`` and zero covariance:
    columns 1.. of the Sylvester-Hadamard matrix of order 8."""
    h = torch.ones(1, 1)
    for _ in range(3):
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return scale * h[:, 1: 1 + columns]


def _hinge(scale: float) -> float:
    """VICReg's variance term of a column of ``_orthogonal``, by hand."""
    return max(0.0, 1.0 - math.sqrt(scale ** 2 * 8 / 7 + 1e-4))


def test_vicreg_loss_is_each_term_weighted_as_the_paper() -> None:
    x = _orthogonal(4, 2.0)                     # spread above 1 and uncorrelated: no variance or covariance cost
    assert float(vicreg_loss(x, x, VICREG_COEFFS)["loss"]) == 0.0
    shift = torch.tensor([0.5, -1.0, 0.0, 2.0])  # a constant shift changes neither variance nor covariance
    assert float(vicreg_loss(x, x + shift, VICREG_COEFFS)["loss"]) == pytest.approx(25.0 * (0.25 + 1 + 4) / 4)
    small = _orthogonal(4, 0.1)
    assert float(vicreg_loss(small, small, VICREG_COEFFS)["loss"]) == pytest.approx(25.0 * _hinge(0.1))
    column = _orthogonal(1, 3.0)                # two identical columns: covariance 9 * 8/7 off the diagonal
    same = torch.cat([column, column], 1)
    assert float(vicreg_loss(same, same, VICREG_COEFFS)["loss"]) == pytest.approx(2 * 2 * (9 * 8 / 7) ** 2 / 2)


def test_sie_loss_is_each_term_weighted_as_the_reference() -> None:
    x = _orthogonal(6, 2.0)
    inv, eq = x[:, :2], x[:, 2:4]
    assert float(sie_loss(inv, eq, inv, eq, eq, SIE_COEFFS)["loss"]) == 0.0
    shift = torch.tensor([0.5, -1.0])
    assert float(sie_loss(inv, eq, inv + shift, eq, eq, SIE_COEFFS)["loss"]) == pytest.approx(10 * 0.625)
    assert float(sie_loss(inv, eq, inv, eq, eq + shift, SIE_COEFFS)["loss"]) == pytest.approx(0.45 * 10 * 0.625)
    small = _orthogonal(4, 0.1)                 # both views' [inv, eq] narrow, the prediction wide
    loss = sie_loss(small[:, :2], small[:, 2:], small[:, :2], small[:, 2:], small[:, 2:] + x[:, 4:], SIE_COEFFS)
    mse = float((x[:, 4:] ** 2).mean())
    assert float(loss["loss"]) == pytest.approx(10 * _hinge(0.1) + 4.5 * mse)
    narrow = _orthogonal(6, 0.1)[:, 4:]         # only the prediction narrow: half a hinge, SIE's pred_std_loss
    loss = sie_loss(inv, eq, inv, narrow + 0.5, narrow, SIE_COEFFS)
    assert float(loss["loss"]) == pytest.approx(10 * _hinge(0.1) / 2 + 10 * _hinge(0.1) / 4 + 4.5 * 0.25, rel=1e-5)
    column = _orthogonal(1, 3.0)                # an invariant unit copied into the equivariant part: covariance
    part, other = torch.cat([column, x[:, 1:2]], 1), torch.cat([column, x[:, 2:3]], 1)  # across the split counts
    assert float(sie_loss(part, other, part, other, other, SIE_COEFFS)["loss"]) == pytest.approx(
        2 * 2 * (9 * 8 / 7) ** 2 / 4)


def test_the_predictor_is_the_reference_hypernetwork_read_as_out_by_in_matrices() -> None:
    torch.manual_seed(0)
    model = _model(SIE, anchored=False)
    z, phi = torch.randn(5, model.net.eq_dim), torch.randn(5, 2)
    weights = model.net.hypernet(phi).view(-1, model.net.eq_dim, model.net.eq_dim)     # SIE: view(-1, out, in)
    expected = torch.bmm(z.unsqueeze(1), weights.transpose(-2, -1)).squeeze(1)
    torch.testing.assert_close(model.net.predict(z, phi), expected)
    anchored = _model(SIE, anchored=True)
    anchored.net.load_state_dict(model.net.state_dict() | {"anchor": anchored.net.anchor})
    identity = torch.tensor([[1.0, 0.0]]).expand(5, 2)                              # so2's features at angle 0
    torch.testing.assert_close(anchored.net.predict(z, phi), z + model.net.predict(z, phi - identity))


@pytest.mark.parametrize("kind", ["so2", "so3"])
def test_the_hypernetwork_can_be_a_representation_of_the_group(kind: str) -> None:
    """Some H makes W(g) = H phi(g) turn every block of the equivariant part by g's own matrix, so
    that W(a) W(b) = W(ab): on SO(3) phi(g) must be the rotation matrix; of the canonical quaternion
    (SIE's input) no linear map is (q and -q are one turn): the best is 0.65 of the target away."""
    family = build_family(kind)
    ranges = {"angle": [[0.0, 180.0]]} if kind == "so3" else {"angle": [[-180.0, 180.0]]}  # so3: uniform
    g = family.sample(400, ranges, torch.Generator().manual_seed(0))
    if kind == "so3":
        blocks = quaternions.to_matrix(g)
    else:
        c, s = torch.deg2rad(g[:, 0]).cos(), torch.deg2rad(g[:, 0]).sin()
        blocks = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    target = torch.stack([torch.block_diag(b, b) for b in blocks]).flatten(1)  # W(g), [n, d * d]

    def residual(inputs: torch.Tensor) -> float:
        h = torch.linalg.lstsq(inputs.double(), target).solution  # the best H, [F, d * d]
        return float((inputs.double() @ h - target).norm() / target.norm())

    assert residual(hyper_inputs(family, g)) < 1e-6
    if kind == "so3":
        assert residual(family.features(g)) > 0.5  # the quaternion SIE feeds: 0.65


def test_on_so3_training_and_the_operator_read_the_rotation_matrix() -> None:
    """The loss and the declared operator give the hypernetwork the same inputs of g (a regression
    to the quaternion in either would train one predictor and declare another)."""
    family = build_family("so3")
    torch.manual_seed(0)
    model = _model(SIE, family)
    g = family.sample(6, {"angle": [[0.0, 180.0]]}, torch.Generator().manual_seed(0))
    z = model.encode(torch.rand(6, 1, 28, 28))
    split = model.net.inv_dim
    matrices = quaternions.to_matrix(g).flatten(1).float()
    expected = torch.cat([z[:, :split], model.net.predict(z[:, split:], matrices)], 1)
    torch.testing.assert_close(model.operator(family)(z, g), expected)
    seen = []
    model.net.predict = lambda z_eq, inputs: seen.append(inputs) or z_eq
    model.loss(torch.rand(8, 1, 28, 28), torch.rand(8, 1, 28, 28), hyper_inputs(family, family.identity(8)))
    assert seen[0].shape == (8, 9)
    model.fit(_so3_pairs(family), lambda it, **_: it)
    assert seen[-1].shape[1] == 9 and torch.allclose(seen[-1][0].view(3, 3) @ seen[-1][0].view(3, 3).T,
                                                     torch.eye(3), atol=1e-5)


def _so3_pairs(family) -> ViewSplit:
    """A train split of 8 random images with 3 views each at random turns."""
    elements = family.sample(24, {"angle": [[0.0, 180.0]]}, torch.Generator().manual_seed(1)).view(8, 3, -1)
    return ViewSplit((torch.rand(8, 3, 1, 28, 28) * 255).to(torch.uint8), torch.zeros(8, dtype=torch.long), elements)


@pytest.mark.parametrize("kind", ["so2", "similarity", "so2+hue"])
def test_the_declared_operator_moves_only_the_equivariant_part_and_the_identity_not_at_all(kind: str) -> None:
    family = build_family(kind)
    torch.manual_seed(0)
    model = _model(SIE, family, anchored=True)
    rho, part = model.operator(family), model.invariant_dims()
    z = model.encode(torch.rand(6, 1, 28, 28))
    ranges = {p.name: [-90.0, 90.0] if p.angle else [-1.0, 1.0] for p in family.parameters}
    g = family.sample(6, ranges, torch.Generator().manual_seed(0))
    moved = rho(z, g)
    assert moved.dtype == torch.float32 and moved.shape == z.shape and moved.device.type == "cpu"
    assert part == slice(0, model.net.inv_dim) and torch.equal(moved[:, part], z[:, part])
    assert (moved[:, part.stop:] - z[:, part.stop:]).abs().max() > 1e-3
    torch.testing.assert_close(rho(z, family.identity(6)), z, rtol=0, atol=1e-6)
    unanchored = _model(SIE, family)       # SIE's own W(e), the default, is whatever it learnt
    assert not torch.allclose(unanchored.operator(family)(z, family.identity(6)), z, atol=1e-3)


def test_on_an_orbit_dataset_the_steps_are_elements_of_the_cyclic_group() -> None:
    torch.manual_seed(0)
    model, vicreg = _model(SIE, Rotation(4), anchored=True), _model(VICReg, Rotation(4))
    z = model.encode(torch.rand(3, 1, 28, 28))
    rho = model.operator(Rotation(4))
    torch.testing.assert_close(rho(z, 0), z, rtol=0, atol=1e-6)
    torch.testing.assert_close(rho(z, 3), rho(z, torch.full((3, 1), 3.0, dtype=torch.float64)))
    assert not torch.allclose(rho(z, 1), rho(z, 3))
    assert torch.equal(vicreg.operator(Rotation(4))(z, 2), z) and vicreg.invariant_dims() == slice(0, 16)


def _pairs_loss(model, split: ViewSplit) -> float:
    """The loss on fixed pairs (view 0 -> view 1 of every base image), with batch statistics; the
    running statistics that this pass updates are restored."""
    g = model.family.relative(split.elements[:, 0], split.elements[:, 1])
    x, y = split.frames[:, 0].float() / 255, split.frames[:, 1].float() / 255
    state = copy.deepcopy(model.net.state_dict())
    model.net.train()
    with torch.no_grad():
        loss = float(model.loss(x, y, hyper_inputs(model.family, g))["loss"])
    model.net.eval().load_state_dict(state)
    return loss


@pytest.mark.parametrize("cls", [SIE, VICReg])
def test_a_few_epochs_lower_the_loss_and_the_seed_fixes_the_weights(cls: type, views: ViewSplit) -> None:
    def fitted(seed: int):
        torch.manual_seed(seed)
        model = _model(cls, epochs=10, lr=3e-3)
        before = _pairs_loss(model, views)
        model.fit(views, lambda it, **_: it)
        return model, before

    model, before = fitted(0)
    assert _pairs_loss(model, views) < 0.9 * before
    images = views.frames[:, 2].float() / 255
    assert torch.equal(fitted(0)[0].encode(images), model.encode(images))
    assert not torch.allclose(fitted(1)[0].encode(images), model.encode(images))


@pytest.mark.parametrize(("cls", "config", "fix"), [
    (SIE, {"backbone": "vgg"}, "unknown backbone 'vgg'; use --set backbone= one of cnn, resnet18"),
    (VICReg, {"batch_size": 1}, "use --set batch_size=2 or more"),
    (SIE, {"equivariant_dim": 8}, "sie: equivariant_dim 8 must lie between 1 and 7"),
    (SIE, {"mlp": [1, 1]}, "leave a part of the split without a unit"),
])
def test_bad_settings_are_refused_before_training(cls: type, config: dict, fix: str) -> None:
    with pytest.raises(ConfigError, match=fix.replace("[", r"\[")):
        _model(cls, **config)


def test_what_the_train_split_cannot_give_is_refused_with_the_fix(views: ViewSplit) -> None:
    with pytest.raises(ConfigError, match="batch_size 32 exceeds the 24 base images .* use --set batch_size=24"):
        _model(VICReg, batch_size=32).fit(views, lambda it, **_: it)
    single = ViewSplit(views.frames[:, :1], views.labels, views.elements[:, :1])
    with pytest.raises(ConfigError, match="sie trains on pairs of views; tiny has one view per image"):
        _model(SIE).fit(single, lambda it, **_: it)


def test_a_bad_option_on_the_command_line_is_one_line_and_exit_2(tmp_path: Path, capsys, digits_rot4) -> None:
    assert main(["run", "--model", "vicreg", "--dataset", "digits-rot4", "--set", "backbone=vgg",
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "use --set backbone= one of cnn, resnet18" in err


def test_the_paper_profile_has_sies_sizes_and_takes_a_step() -> None:
    spec = DataSpec("x", (3, 28, 28), 10, build_family("so2"))
    config = {**SIE.default_config("paper", spec), "mlp": [64, 64, 2048]}   # SIE's last width, narrow hidden
    torch.manual_seed(0)
    model = SIE(config, spec, torch.device("cpu"))
    assert (model.net.split, model.net.inv_dim, model.net.eq_dim, model.invariant_dims()) == (256, 1024, 1024,
                                                                                              slice(0, 1024))
    assert (config["batch_size"], config["epochs"], config["lr"], config["equivariant_dim"]) == (1024, 2000, 1e-3, 256)
    model.net.train()
    loss = model.loss(torch.rand(4, 3, 28, 28), torch.rand(4, 3, 28, 28), torch.rand(4, 2))["loss"]
    loss.backward()
    assert torch.isfinite(loss) and model.net.hypernet.weight.grad.abs().sum() > 0


def test_a_checkpoint_restores_the_code_and_the_operator(views: ViewSplit) -> None:
    torch.manual_seed(0)
    model = _model(SIE, epochs=1)
    model.fit(views, lambda it, **_: it)
    restored = _model(SIE)
    restored.load_state_dict(model.state_dict())
    images, g = views.frames[:, 0].float() / 255, views.elements[:, 1]
    z = model.encode(images)
    assert torch.equal(restored.encode(images), z)
    assert torch.equal(restored.operator(model.family)(z, g), model.operator(model.family)(z, g))


def test_a_harness_run_on_an_orbit_dataset_scores_the_declared_operator(tmp_path: Path, digits_rot4) -> None:
    sets = ("cnn_widths=[4,8]", "mlp=[16,16]", "equivariant_dim=4", "epochs=1")
    record = json.loads(run(RunRequest(model="sie", dataset="digits-rot4", overrides=sets, out_dir=tmp_path),
                            lambda it, **_: it).read_text())
    metrics = record["metrics"]
    assert metrics["latent_dim"] == 16 and metrics["commutativity"] is not None and metrics["h1_orbit"] is not None
