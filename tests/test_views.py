"""View datasets: elements stored with the views, the OOD split, the pair metrics over per-pair
elements (the same numbers as the cyclic sampler on an orbit), pixels under its own action, and the
Lie derivative."""

from __future__ import annotations

import pytest
import torch

from equibench.data.cards import OOD, parse_card
from equibench.data.sources import load_source
from equibench.data.views import generate
from equibench.groups import Cyclic, build_family
from equibench.metrics import lie
from equibench.metrics.commutativity import identity, total_variance
from equibench.metrics.operator_scores import score_operator
from equibench.metrics.pairs import CyclicPairs, ViewPairs
from equibench.metrics.regression import TransformHeads
from equibench.metrics.suite import evaluate
from equibench.models.encoder import DataSpec
from equibench.progress import progress
from equibench_plugins.reference import Pixels, RandomMLP

CARD = """
id = "tiny-{kind}"
source = "digits"
seed = 3
[transformation]
kind = "{kind}"
interpolation = "{interpolation}"
[views]
count = 5
[views.train]
{train}
{ood}
[splits]
train = 20
fit = 60  # views: 300 > the 256 components the heads read from pixels
test = 40
{ood_count}
"""
TRAIN = {"so2": 'angle = [[-90.0, 90.0]]', "similarity": 'angle = [-180.0, 180.0]\nlog_scale = [-0.2, 0.2]\n'
         'dx = [-2.0, 2.0]\ndy = [-2.0, 2.0]', "so2+hue": 'angle = [-180.0, 180.0]\nhue = [-180.0, 180.0]',
         "torus": 'dx = [-3.0, 3.0]\ndy = [-3.0, 3.0]', "scale": 'log_scale = [-0.2, 0.2]'}


def _views(kind: str, ood: bool = False):
    text = CARD.format(kind=kind, interpolation="linear" if kind == "torus" else "bicubic", train=TRAIN[kind],
                       ood='[views.ood]\nangle = [[-180.0, -90.0], [90.0, 180.0]]' if ood else "",
                       ood_count="test_ood = 30" if ood else "")
    card = parse_card(text, "tiny")
    return generate(card, load_source("digits"), lambda it, **kw: it)


def _spec(data) -> DataSpec:
    return DataSpec(data.card.id, data.image_shape, data.num_classes, data.transformation)


def test_views_carry_their_elements_and_the_ood_split_lies_outside_the_training_range():
    data = _views("so2", ood=True)
    for name in ("train", "fit", "test"):
        assert data.splits[name].elements.abs().max() <= 90
    assert data.splits[OOD].elements.abs().min() >= 90
    test = data.splits["test"]
    assert test.frames.shape[:2] == (40, 5) and test.elements.shape == (40, 5, 1)
    again = _views("so2", ood=True)
    assert again.content_hash == data.content_hash, "same card and seed, same bytes"


def test_a_bad_view_card_is_one_clear_error():
    from equibench.errors import ConfigError

    text = CARD.format(kind="so2", interpolation="bicubic", train='tilt = [0.0, 1.0]', ood="", ood_count="")
    with pytest.raises(ConfigError, match="'tilt' is not a parameter of so2"):
        parse_card(text, "tiny")


@pytest.mark.parametrize("kind", list(TRAIN))
def test_pixels_under_its_own_action_commutes_up_to_interpolation_and_has_zero_lie_derivative(kind):
    data = _views(kind)
    pixels = Pixels({}, _spec(data), torch.device("cpu"))
    test = data.splits["test"]
    z = test.sequences().flatten(2)
    pairs = ViewPairs(data.family, test.elements)
    scores = score_operator(z, pixels.operator(data.family), pairs)
    invariance = score_operator(z, identity, pairs, retrieval=False).values["commutativity"]
    # resampling twice (and rounding to uint8) against once: a few percent of the spread at most
    assert scores.values["commutativity"] < 0.02 * invariance
    assert scores.values["h1_orbit"] > 0.9  # zoomed views within exp(+-0.2) differ little: 0.91
    x = lie.fixed_views(test.frames)
    spread = total_variance(z)
    for name in ("rot", "tx", "ty", "scale") + (("hue",) if x.shape[1] == 3 else ()):
        assert lie.lie_derivative(pixels.encode, x, name, spread) > 0.1, "pixels are not invariant"
        declared = lie.lie_derivative(pixels.encode, x, name, spread, pixels.generator(data.family, name))
        assert declared < 1e-8, (name, declared)


def test_view_pairs_on_an_orbit_give_the_cyclic_numbers(digits_rot4):
    """An orbit is a view dataset whose elements are the steps: the view sampler, with per-pair
    elements, must give every pair metric the numbers of the cyclic sampler."""
    test, fit = digits_rot4.splits["test"], digits_rot4.splits["fit"]
    family = Cyclic(digits_rot4.transformation)
    z, z_fit = test.sequences().flatten(2), fit.sequences().flatten(2)
    pixels = Pixels({}, _spec(digits_rot4), torch.device("cpu"))
    cyclic, views = CyclicPairs(test.num_sequences, 4), ViewPairs(family, test.steps[..., None].double())
    for op, retrieval in ((pixels.operator(digits_rot4.transformation), True), (identity, False)):
        a = score_operator(z, op, cyclic, retrieval).values
        view_op = (lambda w, g: pixels.operator(family)(w, g)) if retrieval else identity
        b = score_operator(z, view_op, views, retrieval).values
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == pytest.approx(b[key], abs=1e-12) if a[key] is not None else b[key] is None, key
    fit_views = ViewPairs(family, fit.steps[..., None].double())
    scale = torch.nn.functional.normalize
    x_fit, x_test = (scale(c, dim=-1).double().numpy()[..., ::32] for c in (z_fit, z))
    r2_cyclic = TransformHeads.fit(x_fit, CyclicPairs(fit.num_sequences, 4), 0).score(x_test, cyclic)
    assert TransformHeads.fit(x_fit, fit_views, 0).score(x_test, views) == r2_cyclic


def test_a_view_dataset_is_scored_in_distribution_and_ood_side_by_side():
    data = _views("so2", ood=True)
    ev = evaluate(Pixels({}, _spec(data), torch.device("cpu")), "pixels", data, progress, 0)
    m = ev.metrics
    for key in ("commutativity", "h1_orbit", "commutativity_fitted", "commutativity_fitted_mlp", "invariance",
                "transform_r2", "probe_accuracy"):
        assert m[key] is not None and m[key + "_ood"] is not None, key
    assert m["commutativity"] < 0.05 and m["commutativity_ood"] < 0.05
    assert m["commutativity_fitted"] < m["invariance"], "the conditioned operator explains part of the change"
    assert m["transform_accuracy"] is None and "finite group" in ev.null_reasons["transform_accuracy"]
    assert m["lie_rot_declared"] < 1e-8 < m["lie_rot"]


def test_random_mlp_is_far_from_locally_invariant():
    data = _views("so2")
    torch.manual_seed(0)
    mlp = RandomMLP({"hidden": 512, "dim": 64}, _spec(data), torch.device("cpu"))
    test = data.splits["test"]
    spread = total_variance(mlp.encode(test.images()).view(40, 5, -1))
    x = lie.fixed_views(test.frames)
    for name in ("rot", "tx", "ty", "scale"):
        assert lie.lie_derivative(mlp.encode, x, name, spread) > 0.1, name  # measured 0.38 (tx) to 34 (scale)
    assert lie.lie_derivative(lambda v: 3.0 * mlp.encode(v) + 1.0, x, "rot", 9.0 * spread) == pytest.approx(
        lie.lie_derivative(mlp.encode, x, "rot", spread), rel=1e-4), "rescaling f changes nothing"


def test_a_detached_encoder_gets_a_reason_not_a_zero():
    from equibench.models.encoder import NotMeasurable

    x = lie.fixed_views(_views("so2").splits["test"].frames)
    with pytest.raises(NotMeasurable, match="exactly zero"):
        lie.lie_derivative(lambda v: v.detach().flatten(1), x, "rot", 1.0)


def test_a_c8_steerable_network_is_more_rotation_invariant_than_a_plain_cnn_of_the_same_width():
    """At their seeded initial weights, the mean over each regular field of a C_8 trunk changes about
    0.4x as fast under an infinitesimal rotation as a plain CNN's pooled output (seeds 0, 1, 2:
    1.11 / 2.55, 0.81 / 2.14, 1.12 / 3.19). The maximum over each field (escnn's GroupPooling, exactly
    invariant to the 8 rotations) is not locally smoother than the plain CNN at initialisation
    (4.50, 1.87, 2.96): the max is only piecewise smooth."""
    from escnn import gspaces, nn

    from equibench_plugins.steerable import build_trunk, export_to_torch

    torch.manual_seed(0)
    gspace = gspaces.rot2dOnR2(8)
    image = nn.FieldType(gspace, [gspace.trivial_repr])
    trunk = build_trunk(image, [16, 32, 64], size=28)
    pooled = torch.nn.Sequential(export_to_torch(trunk))
    fields = 64 // 8

    def c8(x: torch.Tensor) -> torch.Tensor:  # the invariant part of each regular field: its mean
        return pooled(x).view(len(x), fields, 8).mean(dim=2)

    plain = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 4, padding=1), torch.nn.ReLU(), torch.nn.AvgPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.AvgPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
    ).eval()
    x = lie.fixed_views(_views("so2").splits["test"].frames)
    with torch.no_grad():
        spread_c8, spread_plain = total_variance(c8(x)), total_variance(plain(x))
    equivariant = lie.lie_derivative(c8, x, "rot", spread_c8)
    ordinary = lie.lie_derivative(plain, x, "rot", spread_plain)
    assert equivariant < 0.6 * ordinary, (equivariant, ordinary)


def test_the_conditioned_fitted_operator_recovers_a_rotation_of_the_code():
    """Codes that turn with the view's angle, (r cos(a + phase), r sin(a + phase)): rho(g) is the
    rotation by g's angle, linear in (cos, sin) of g, and the fitted M(g) must find it."""
    from equibench.groups import build_family
    from equibench.metrics.fitted import fit_conditional

    family = build_family("so2")
    g = torch.Generator().manual_seed(0)

    def codes(count: int):
        angles = family.sample(count * 6, {"angle": [-180, 180]}, g).view(count, 6, 1)
        r, phase = 1 + torch.rand(count, 1, generator=g), 6.3 * torch.rand(count, 1, generator=g)
        a = torch.deg2rad(angles[..., 0]) + phase
        return torch.stack([r * a.cos(), r * a.sin()], dim=-1).double(), ViewPairs(family, angles)

    (w_fit, fit_pairs), (w_test, test_pairs) = codes(50), codes(40)
    scores = score_operator(w_test, fit_conditional(w_fit, fit_pairs), test_pairs)
    assert scores.values["commutativity"] < 1e-6 and scores.values["h1_orbit"] > 0.99


def test_a_view_card_file_runs_through_the_cli_and_into_the_leaderboard(tmp_path, capsys):
    import json

    from equibench.cli import main

    card = tmp_path / "tiny-so2-views.toml"
    card.write_text(CARD.format(kind="so2", interpolation="bicubic", train=TRAIN["so2"],
                                ood='[views.ood]\nangle = [[-180.0, -90.0], [90.0, 180.0]]', ood_count="test_ood = 30")
                    .replace('id = "tiny-so2"', 'id = "tiny-so2-views"'))
    assert main(["run", "--model", "pixels", "--dataset", str(card), "--out", str(tmp_path / "records")]) == 0
    record = json.loads(next((tmp_path / "records").glob("*.json")).read_text())
    assert record["metrics"]["commutativity_ood"] < 0.05 and record["curves"] == {}
    summary = capsys.readouterr().out
    assert "test_ood" in summary.splitlines()[1]
    assert f"{record['metrics']['transform_r2_ood']:.4g}" in next(line for line in summary.splitlines()
                                                                  if "transform_r2" in line)
    assert main(["leaderboard", "--results", str(tmp_path / "records"), "--out", str(tmp_path / "board")]) == 0
    board = (tmp_path / "board" / "README.md").read_text()
    assert "tiny-so2-views" in board
    ood_row = board.split("In distribution against out of distribution on tiny-so2-views")[1].split("| pixels")[1]
    m = record["metrics"]
    assert ood_row.split("|")[1].strip() == f"{m['h1_orbit']:.3g} / {m['h1_orbit_ood']:.3g}"
    assert not list((tmp_path / "board" / "plots").glob("curves-*.png")), "a view dataset has no per-k curves"


def test_pre_is_one_minus_the_squared_overlap_of_the_retrieved_and_the_target_rotation():
    from equibench.groups import build_family
    from equibench.metrics.retrieval import pose_errors

    so2 = build_family("so2")
    angles = torch.tensor([[0.0], [90.0], [180.0], [60.0]], dtype=torch.float64)
    rotations = so2.quaternion(angles)[None].expand(4, 4, 4)  # 4 queries, each among the same 4 views
    target = torch.tensor([0, 0, 0, 0])
    similarity = torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0.5, 0, 0.5]])
    # found: the target, a quarter turn, a half turn, a tie of 90 and 60 degrees
    expected = torch.tensor([0.0, 0.5, 1.0, (0.5 + 0.25) / 2], dtype=torch.float64)
    assert torch.allclose(pose_errors(similarity, target, rotations), expected, atol=1e-12)
    so3 = build_family("so3")
    half_turn_x = torch.tensor([[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    q = so3.quaternion(half_turn_x)[None]
    assert torch.allclose(pose_errors(torch.tensor([[1.0, 0.0]]), torch.tensor([1]), q), torch.ones(1, dtype=torch.float64))


def test_no_degenerate_code_beats_chance_on_pre():
    """Views at the four quarter turns: a code invariant along the orbit, pure noise and a second-harmonic
    code that confuses g with its half turn all score PRE at its chance level; the right code scores 0."""
    from equibench.groups import build_family

    so2 = build_family("so2")
    turns = torch.tensor([0.0, 90.0, 180.0, 270.0], dtype=torch.float64)
    elements = turns[None, :, None].repeat(30, 1, 1)
    pairs = ViewPairs(so2, elements)
    offset = torch.randn(30, 1, 6)  # what tells base images apart

    def harmonic(m: int) -> torch.Tensor:
        angle = torch.deg2rad(turns)[None, :, None] * m
        return torch.cat([torch.cat([angle.cos(), angle.sin()], 2).expand(30, 4, 2), offset.expand(30, 4, 6)], 2).float()

    def rotate(m: int):
        def rho(z, g):
            a = torch.deg2rad(g[:, 0]).float() * m
            c, s = a.cos(), a.sin()
            return torch.cat([torch.stack([c * z[:, 0] - s * z[:, 1], s * z[:, 0] + c * z[:, 1]], 1), z[:, 2:]], 1)
        return rho

    right = score_operator(harmonic(1), rotate(1), pairs)
    level = right.chance["pre_orbit"]
    assert right.values["pre_orbit"] < 1e-9 and level == pytest.approx(0.5)  # the mean of 0, 0.5, 1, 0.5
    invariant = score_operator(offset.expand(30, 4, 6).contiguous(), identity, pairs).values["pre_orbit"]
    noise = score_operator(torch.randn(30, 4, 8), identity, pairs).values["pre_orbit"]
    confused = score_operator(harmonic(2), rotate(2), pairs).values["pre_orbit"]
    assert invariant == pytest.approx(level)
    assert noise > 0.4
    assert confused == pytest.approx(level), "tied with the half turn: its error 1 outweighs the hit"


def test_pre_and_the_invariant_probe_are_scored_on_rotation_views_only():
    data = _views("so2", ood=True)

    class HalfInvariant(Pixels):  # declares the first half of the pixels invariant, which they are not
        def invariant_dims(self):
            return slice(0, 32)

    ev = evaluate(HalfInvariant({}, _spec(data), torch.device("cpu")), "half", data, progress, 0)
    m = ev.metrics
    assert m["pre_orbit"] < 0.01 and m["pre_orbit_ood"] < 0.01, "its own action retrieves the right view"
    assert m["pre_orbit_fitted"] > m["pre_orbit"] and "pre_orbit" not in ev.null_reasons
    assert m["probe_accuracy_invariant"] is not None and m["probe_accuracy_invariant_ood"] is not None
    assert m["probe_accuracy_invariant"] < m["probe_accuracy"], "half the pixels keep less of the label"
    similarity = _views("similarity")  # its turns alone: PRE leaves zoom and shift out
    ev = evaluate(Pixels({}, _spec(similarity), torch.device("cpu")), "pixels", similarity, progress, 0)
    assert ev.metrics["pre_orbit"] < 0.01 and "pre_orbit" not in ev.null_reasons
    assert "invariant part" in ev.null_reasons["probe_accuracy_invariant"]
    shifts = _views("torus")
    ev = evaluate(Pixels({}, _spec(shifts), torch.device("cpu")), "pixels", shifts, progress, 0)
    assert ev.metrics["pre_orbit"] is None and "rotation family" in ev.null_reasons["pre_orbit"]


def test_an_invariant_part_that_selects_nothing_is_refused_in_one_line():
    from equibench.errors import PluginError

    data = _views("so2")

    class NoneInvariant(Pixels):
        def invariant_dims(self):
            return slice(5, 5)

    with pytest.raises(PluginError, match="invariant_dims\\(\\) must return None or a slice"):
        evaluate(NoneInvariant({}, _spec(data), torch.device("cpu")), "none", data, progress, 0)


def test_a_conditioned_operator_called_from_two_threads_at_once_gives_each_its_own_products():
    """The suite scores two test splits with one fitted operator at once, each in its own thread
    (metrics/cores.py): the products the operator keeps for the codes of its last call are kept per
    thread, so each call gives what it gives alone (shared, 5 of 200 calls came out wrong)."""
    import threading

    from equibench.metrics.fitted import fit_conditional

    so2 = build_family("so2")

    def split(n, seed):
        elements = so2.sample(n * 6, {"angle": [-180, 180]}, torch.Generator().manual_seed(seed)).reshape(n, 6, -1)
        codes = torch.randn(n, 6, 40, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        flat = codes.flatten(0, 1)
        return [(flat[b.orbit * 6 + b.source], b.element) for b in ViewPairs(so2, elements).batches()]

    fit = torch.randn(300, 6, 40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    fit_elements = so2.sample(1800, {"angle": [-180, 180]}, torch.Generator().manual_seed(0)).reshape(300, 6, -1)
    rho = fit_conditional(fit, ViewPairs(so2, fit_elements))
    splits = [split(400, 1), split(400, 2)]  # the same shapes: a wrong product would pass unseen
    alone = [[rho(w, g) for w, g in calls] for calls in splits]
    wrong, both = [], threading.Barrier(2, timeout=30)

    def run(index):
        both.wait()
        for _ in range(10):
            wrong.extend(not torch.equal(rho(w, g), expected) for (w, g), expected in zip(splits[index], alone[index]))

    threads = [threading.Thread(target=run, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wrong) == 2 * 10 * 5 and not any(wrong)
