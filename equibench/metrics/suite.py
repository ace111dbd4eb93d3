"""Run the whole metric suite on a fitted model: latents in, metrics, curves and timings out.

The declared commutativity never stands alone: the same record always carries the fitted
operator's error, the invariance error, the spread of the representation and what it keeps of
the label, so that a constant, collapsed or information-free encoder cannot top a table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import torch

from equibench.data.cards import OOD
from equibench.data.orbits import OrbitDataset, OrbitSplit
from equibench.data.views import ViewDataset
from equibench.errors import PluginError
from equibench.metrics import lie
from equibench.metrics.capsules import EEQ_SAMPLES, eeq_tvae
from equibench.metrics.commutativity import identity, is_collapsed, total_variance
from equibench.metrics.cores import Shared, side_by_side
from equibench.metrics.diagnostics import diagnose
from equibench.metrics.fitted import (
    Whitener, fit_conditional, fit_conditional_mlp, fit_operators, fitted_operator, homomorphism_error,
    transform_accuracy,
)
from equibench.metrics.operator_scores import score_operator
from equibench.metrics.pairs import CyclicPairs, ViewPairs, pairs_of
from equibench.metrics.principal import PrincipalAxes
from equibench.metrics.regression import TransformHeads
from equibench.metrics.representation import (
    fit_probe, participation_ratio, probe_accuracy, standardiser,
)
from equibench.models.checks import check_latents, checked_invariant, checked_operator, encode_split
from equibench.models.encoder import Encoder, NotMeasurable, Operator, Progress
from equibench.models.operators import capsule_roll
from equibench.stopwatch import Stopwatch

METRIC_VERSION = 6  # 3: Lie derivatives, _ood and _fitted_mlp keys (view datasets); 4: MLP heads stopped on held-out
# base images (metrics/heads.py); 5: the R² heads read the code at one scale (representation.standardiser); 6: a
# code wider than 256 is read by its exact leading principal components, the whitening's (metrics/principal.py)


@dataclass(frozen=True)
class Metric:
    """What a metric says, and its range (so that intervals over seeds can respect it)."""

    description: str
    low: float | None = None
    high: float | None = None


ERROR = {"low": 0.0}
FRACTION = {"low": 0.0, "high": 1.0}
SUFFIXES = {"": "the declared rho (null if none)", "_roll": "Roll-by-k inside capsules (capsules of size N)",
            "_fitted": "the fitted linear M_k on whitened f (view datasets: M(g), linear in Fourier features of g)",
            "_fitted_mlp": "an MLP fitted on (whitened f, Fourier features of g) (view datasets only)"}


def _operator_metrics() -> dict[str, Metric]:
    return {name: metric for suffix, op in SUFFIXES.items() for name, metric in _scores_of(suffix, op).items()}


def _scores_of(suffix: str, op: str) -> dict[str, Metric]:
    """The scores of one operator (``op`` says which): commutativity, retrieval and PRE."""
    out = {f"commutativity{suffix}": Metric(
        f"E||rho(k) f(x) - f(g^k x)||^2 / total variance of f, k != 0, with {op}", **ERROR)}
    for where, among in (("orbit", "the N views of the same base image"), ("all", "every test view, "
                         "for a fixed subset of 2000 queries")):
        ranked = "; the leaderboard ranks by it" if where == "orbit" and suffix != "_roll" else ""
        out[f"h1_{where}{suffix}"] = Metric(f"H@1 of rho(k) f(x) retrieving f(g^k x) among {among} "
                                            f"(cosine), with {op}{ranked}", **FRACTION)
        out[f"h5_{where}{suffix}"] = Metric("H@5 of the same (null where 5 >= candidates)", **FRACTION)
        out[f"mrr_{where}{suffix}"] = Metric("mean reciprocal rank of the same", **FRACTION)
    out[f"pre_orbit{suffix}"] = Metric(
        "PRE (3DIEBench): mean 1 - <q, q_nn>^2 between the rotation (unit quaternion) of the view retrieved "
        "first among the same base image's views and the target view's, with " + op + "; view datasets of a "
        "rotation family (so2, so3), or of a product with one (its rotations alone; similarity: its turns), only",
        **FRACTION)
    return out


LIE = {"rot": "rotation (per radian^2)", "tx": "translation right (per pixel^2)",
       "ty": "translation down (per pixel^2)", "scale": "zoom (per unit of log-zoom^2)",
       "hue": "hue, as a rotation of RGB about the grey axis (per radian^2)"}

SCORED_ON_TEST = {
    **_operator_metrics(),
    "invariance": Metric("E||f(x) - f(g^k x)||^2 / total variance (rho = identity): how much f changes", **ERROR),
    "transform_accuracy": Metric("k != 0 recovered from (f(x), f(g^k x)) as the best-fitting of the fitted "
                                 "M_1..M_(N-1); chance 1/(N-1); cyclic datasets only", **FRACTION),
    "transform_r2": Metric("R^2 of (cos, sin) of g^k regressed from concat(f(x), f(g^k x)) (f centred, at one "
                           "scale), MLP head, fit -> test, pooled over every target entry (SIE); view datasets: the relative element's "
                           "features (angles as (cos, sin), other parameters as they are)", high=1.0),
    "transform_r2_dims": Metric("the same, R^2 averaged per target dimension (scikit-learn r2_score)", high=1.0),
    "transform_r2_linear": Metric("transform_r2 with a ridge head, pooled", high=1.0),
    "transform_r2_linear_dims": Metric("transform_r2 with a ridge head, per dimension", high=1.0),
    "probe_accuracy": Metric("logistic-regression probe for the label on the full standardised code, "
                             "fit -> test", **FRACTION),
    "probe_accuracy_invariant": Metric("the same probe on the part of the code the model declares invariant "
                                       "(Encoder.invariant_dims; SIE's invariant half)", **FRACTION),
}
"""The metrics scored on a test split: a view dataset's ``test_ood`` gets each again, key + ``_ood``."""

METRICS = {
    **SCORED_ON_TEST,
    **{f"{name}_ood": Metric(f"{m.description}; on test_ood, the views outside the training range "
                             f"(view datasets with an OOD split only)", m.low, m.high)
       for name, m in SCORED_ON_TEST.items()},
    "homomorphism": Metric("mean ||M_a M_b - M_(a+b)|| / ||M_(a+b)|| of the fitted maps; cyclic datasets only",
                           **ERROR),
    **{f"lie_{name}": Metric(f"E||d/dt f(exp(tX) x)||^2 at t = 0 / total variance of f, X = {what}, on "
                             f"{lie.IMAGES} fixed test views: local invariance (Lie derivative)", **ERROR)
       for name, what in LIE.items()},
    **{f"lie_{name}_declared": Metric(f"E||d/dt rho(exp(tX))^-1 f(exp(tX) x)||^2 / total variance, X = {what}, "
                                      "with the model's declared generator: local equivariance", **ERROR)
       for name, what in LIE.items()},
    "eeq_tvae": Metric(f"the TVAE paper's E_eq (L1, unit capsules, all pairs) on a posterior sample of the codes "
                       f"with their temporal context; mean of {EEQ_SAMPLES} samples drawn from the run's seed", **ERROR),
    "eeq_tvae_context_mean": Metric("E_eq on the posterior-mean codes with the trained temporal window", **ERROR),
    "participation_ratio": Metric("effective dimension of f on test: (sum eig)^2 / sum eig^2", low=1.0),
    "log_likelihood": Metric("importance-sampled log p(x) per frame, nats (where the model has one)", high=0.0),
    "collapsed": Metric("true when f has (numerically) no spread; then no error or score is reported"),
}
HEADLINE = ["h1_orbit", "h1_orbit_fitted", "mrr_orbit", "commutativity", "commutativity_fitted", "invariance",
            "transform_accuracy", "transform_r2", "probe_accuracy"]
NOT_ROTATIONS = ("view datasets of a rotation family (so2, so3), or of a product with one, only: PRE compares "
                 "the rotations of views")
CYCLIC_ONLY = "defined for the fitted maps of a finite group; a view dataset's elements are continuous"


@dataclass
class Evaluation:
    """Everything the suite measured, with the wall time of each metric."""

    metrics: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    null_reasons: dict[str, str] = field(default_factory=dict)  # metric -> why it is null
    chance: dict[str, float] = field(default_factory=dict)  # metric -> its value for a random guess
    warnings: list[dict[str, str]] = field(default_factory=list)
    watch: Stopwatch = field(default_factory=Stopwatch)

    def merge(self, part: Evaluation) -> None:
        """Add what ``part`` measured (a chain of the suite, whose metrics have other names); a stage
        both timed adds up. A part has no warnings: they are diagnosed from the whole."""
        self.metrics.update(part.metrics)
        self.curves.update(part.curves)
        self.null_reasons.update(part.null_reasons)
        self.chance.update(part.chance)
        for name, seconds in part.watch.seconds.items():
            self.watch.add(name, seconds)


def _roll_operator(model: Encoder, order: int | None) -> Callable | None:
    shape = model.capsules()
    return capsule_roll(*shape) if shape is not None and shape[1] == order else None


def _score(ev: Evaluation, name: str, suffix: str, z: torch.Tensor, op: Callable, pairs: CyclicPairs | ViewPairs,
           retrieval: bool = True, split: str = "") -> None:
    """Score one operator on one test split; ``split`` ("" or "_ood") ends every key."""
    with ev.watch.stage(name + split):
        scores = score_operator(z, op, pairs, retrieval)
    key = {"commutativity": name}  # the identity operator's error is the invariance
    for metric, value in scores.values.items():
        ev.metrics[key.get(metric, metric + suffix) + split] = value
    for curve, values in scores.curves.items():
        ev.curves[key.get(curve, curve + suffix) + split] = values
    ev.chance.update({metric + suffix + split: level for metric, level in scores.chance.items()})
    if retrieval and scores.values["h5_orbit"] is None:
        ev.null_reasons[f"h5_orbit{suffix}{split}"] = f"only {z.shape[1]} candidates on the orbit"


class Test(NamedTuple):
    """A test split as the suite scores it: its codes ``[S, V, D]``, labels and pairs."""

    z: torch.Tensor
    labels: torch.Tensor
    pairs: CyclicPairs | ViewPairs


def _declared(model: Encoder, plugin: str, data: OrbitDataset | ViewDataset, declared: dict[str, Callable | None],
              tests: dict[str, Test]) -> Evaluation:
    """Everything that calls plugin code, in one chain: the declared operators' scores on every test
    split, and the Lie derivatives."""
    ev = Evaluation()
    for split, test in tests.items():
        for suffix, op in declared.items():
            if op is not None:
                _score(ev, f"commutativity{suffix}", suffix, test.z, op, test.pairs, split=split)
    _lie(ev, model, plugin, data, total_variance(tests[""].z))
    return ev


def _invariance(tests: dict[str, Test]) -> Evaluation:
    """How much the code changes (the identity operator's error) on every test split."""
    ev = Evaluation()
    for split, test in tests.items():
        _score(ev, "invariance", "", test.z, identity, test.pairs, retrieval=False, split=split)
    return ev


def _spread(z: torch.Tensor) -> Evaluation:
    """The participation ratio of the test codes."""
    ev = Evaluation()
    with ev.watch.stage("participation_ratio"):
        ev.metrics["participation_ratio"] = participation_ratio(z)
    return ev


class Whitened(NamedTuple):
    """Whitened codes of ``fit`` and of every test split (by split key), read by the fitted operators."""

    fit: torch.Tensor
    tests: dict[str, torch.Tensor]


def _whitened(z_fit: torch.Tensor, axes: Shared[PrincipalAxes], tests: dict[str, Test]) -> Whitened:
    whiten = Whitener.fit(z_fit, axes=axes.get())
    return Whitened(whiten(z_fit), {split: whiten(test.z) for split, test in tests.items()})


class FittedOperator(NamedTuple):
    """An operator fitted on whitened ``fit`` codes, and a finite group's maps M_k behind it (else None)."""

    rho: Operator
    maps: dict[int, torch.Tensor] | None


def _fit_linear(whitened: Shared[Whitened], fit_pairs: CyclicPairs | ViewPairs) -> FittedOperator:
    """The fitted linear operator: a finite group's maps M_k, or a view dataset's M(g)."""
    w = whitened.get()
    if isinstance(fit_pairs, CyclicPairs):
        maps = fit_operators(w.fit, fit_pairs)
        return FittedOperator(fitted_operator(maps), maps)
    return FittedOperator(fit_conditional(w.fit, fit_pairs), None)


def _fit_mlp(whitened: Shared[Whitened], fit_pairs: ViewPairs, seed: int) -> FittedOperator:
    """A view dataset's MLP operator on (whitened f, Fourier features of g)."""
    return FittedOperator(fit_conditional_mlp(whitened.get().fit, fit_pairs, seed), None)


def _fitted(suffix: str, operator: Shared[FittedOperator], whitened: Shared[Whitened], split: str,
            test: Test) -> Evaluation:
    """A fitted operator's scores on one test split; for a finite group's maps, also their
    homomorphism error and the transform accuracy."""
    ev = Evaluation()
    m = ev.metrics
    fitted, w = operator.get(), whitened.get().tests[split]
    m["whitened_dim"] = w.shape[-1]
    _score(ev, f"commutativity{suffix}", suffix, w, fitted.rho, test.pairs, split=split)
    if fitted.maps is not None:
        with ev.watch.stage("homomorphism"):
            m["homomorphism"] = homomorphism_error(fitted.maps, test.pairs)
        with ev.watch.stage("transform_accuracy" + split):
            m["transform_accuracy" + split] = transform_accuracy(w, fitted.maps, test.pairs)
            ev.chance["transform_accuracy" + split] = 1 / (test.pairs.order - 1)
    return ev


def _heads(z_fit: torch.Tensor, axes: Shared[PrincipalAxes], labels: torch.Tensor, fit_pairs: CyclicPairs | ViewPairs,
           seed: int, invariant: slice | None, tests: dict[str, Test], classes: int) -> Evaluation:
    """The R² heads and the class probes (of the whole code, and of the part the model declares
    invariant), fitted on ``fit`` codes as :func:`standardiser` gives them to each, inside the first
    split's stage, and scored on every test split."""
    ev = Evaluation()
    m = ev.metrics
    with ev.watch.stage("standardise"):
        scale = standardiser(z_fit, axes.get)
        x_fit = scale(z_fit)
    heads = probe = part_scale = part_probe = None
    for split, test in tests.items():
        x = scale(test.z)
        with ev.watch.stage("transform_r2" + split):
            heads = TransformHeads.fit(x_fit.heads, fit_pairs, seed) if heads is None else heads
            m.update({k + split: v for k, v in heads.score(x.heads, test.pairs).items()})
        with ev.watch.stage("probe_accuracy" + split):
            probe = fit_probe(x_fit.probe, labels, seed) if probe is None else probe
            m["probe_accuracy" + split] = probe_accuracy(probe, x.probe, test.labels)
            ev.chance["probe_accuracy" + split] = 1 / classes
        if invariant is not None:
            with ev.watch.stage("probe_accuracy_invariant" + split):
                if part_probe is None:
                    part_scale = standardiser(z_fit[..., invariant])
                    part_probe = fit_probe(part_scale(z_fit[..., invariant]).probe, labels, seed)
                x_part = part_scale(test.z[..., invariant]).probe
                m["probe_accuracy_invariant" + split] = probe_accuracy(part_probe, x_part, test.labels)
                ev.chance["probe_accuracy_invariant" + split] = 1 / classes
    return ev


def _lie(ev: Evaluation, model: Encoder, plugin: str, data: Any, spread: float) -> None:
    """The Lie derivatives along every generator, for invariance and for a declared generator; null
    with the reason where the model cannot be differentiated or the generator does not apply."""
    x = lie.fixed_views(data.splits["test"].frames).to(model.device)
    for name in LIE:
        if name == "hue" and x.shape[1] != 3:
            reason = "hue acts on RGB images; this dataset is grayscale"
            ev.null_reasons.update({"lie_hue": reason, "lie_hue_declared": reason})
            continue
        with ev.watch.stage(f"lie_{name}"):
            try:
                ev.metrics[f"lie_{name}"] = lie.lie_derivative(model.encode, x, name, spread)
            except (NotMeasurable, Exception) as exc:  # noqa: BLE001 -- encode() ran without autodiff before
                reason = str(exc) if isinstance(exc, NotMeasurable) else f"{type(exc).__name__}: {exc}"
                ev.null_reasons[f"lie_{name}"] = ev.null_reasons[f"lie_{name}_declared"] = (
                    f"encode() cannot be differentiated ({reason.splitlines()[0] if reason else ''})")
                continue
            try:
                generator = model.generator(data.transformation, name)
            except NotMeasurable as exc:
                ev.null_reasons[f"lie_{name}_declared"] = str(exc)
                continue
            if generator is None:
                ev.null_reasons[f"lie_{name}_declared"] = "the model declares no generator for it"
                continue
            def checked(z: torch.Tensor, what: str = f"its declared generator ({name})") -> torch.Tensor:
                return check_latents(plugin, what, generator(z), z.shape[0], z.shape[1])

            ev.metrics[f"lie_{name}_declared"] = lie.lie_derivative(model.encode, x, name, spread, checked)


def _scored(model: Encoder, plugin: str, data: OrbitDataset | ViewDataset, declared: dict[str, Callable | None],
            z_fit: torch.Tensor, fit_pairs: CyclicPairs | ViewPairs, invariant: slice | None,
            tests: dict[str, Test], seed: int) -> list[Evaluation]:
    """Every metric of the suite but the model's own (E_eq, likelihood), as chains run side by side
    (:func:`~equibench.metrics.cores.side_by_side`): what calls plugin code, the heads, each fitted
    operator on each test split, the invariance and the spread. What several need (the principal
    axes, the whitened codes, each fitted operator) is computed once, by the first to ask, and timed
    as a stage of its own, in parts returned last in a fixed order. Stages nest (``whiten`` holds
    the principal axes where it asked for them first) and overlap, so they add up to more than the
    record's total. The out-of-distribution scores of the fitted operators come last, the MLP's
    first, since it is fitted sooner: their operators are fitted by then."""
    stages = {name: Evaluation() for name in ("principal_axes", "whiten", "fit_operators", "fit_operators_mlp")}

    def shared(stage: str, compute: Callable[[], Any]) -> Shared:
        return Shared(stages[stage].watch.timed(stage, compute))

    axes = shared("principal_axes", lambda: PrincipalAxes.fit(z_fit))
    whitened = shared("whiten", lambda: _whitened(z_fit, axes, tests))
    operators = {"_fitted": shared("fit_operators", lambda: _fit_linear(whitened, fit_pairs))}
    if isinstance(fit_pairs, ViewPairs):
        operators["_fitted_mlp"] = shared("fit_operators_mlp", lambda: _fit_mlp(whitened, fit_pairs, seed))
    fitted = {split: [partial(_fitted, suffix, op, whitened, split, test) for suffix, op in operators.items()]
              for split, test in tests.items()}
    chains = [lambda: _declared(model, plugin, data, declared, tests),
              lambda: _heads(z_fit, axes, data.splits["fit"].labels, fit_pairs, seed, invariant, tests, data.num_classes),
              *fitted[""], lambda: _invariance(tests), lambda: _spread(tests[""].z),
              *[task for split in tests if split for task in reversed(fitted[split])]]
    return [*side_by_side(chains), *stages.values()]


def evaluate(model: Encoder, plugin: str, data: OrbitDataset | ViewDataset, progress: Progress,
             seed: int) -> Evaluation:
    """Score ``model`` on ``data``: operators and probes fitted on ``fit``, scored on ``test`` (and on
    a view dataset's ``test_ood``, keys ending ``_ood``)."""
    ev, m = Evaluation(), {}
    ev.metrics = m
    fit, test = data.splits["fit"], data.splits["test"]
    tests = {"": "test", "_ood": OOD} if OOD in data.splits else {"": "test"}
    with ev.watch.stage("encode"):
        z_fit = encode_split(model, plugin, fit, progress)
        z_tests = {split: encode_split(model, plugin, data.splits[name], progress) for split, name in tests.items()}
    z_test = z_tests[""]
    m["latent_dim"] = z_test.shape[-1]
    m["collapsed"] = is_collapsed(z_test)
    t = data.transformation
    fit_pairs = pairs_of(fit, t)
    for name in METRICS:
        m.setdefault(name, None)
    if OOD not in data.splits:
        ev.null_reasons.update({f"{name}_ood": "the dataset has no out-of-distribution split" for name in SCORED_ON_TEST})
    if not isinstance(fit_pairs, ViewPairs):
        ev.null_reasons.update({name: "view datasets only (a finite group has one fitted map per "
                                "element)" for name in _operator_metrics() if name.endswith("_fitted_mlp")})
    else:
        ev.null_reasons.update({"homomorphism": CYCLIC_ONLY, **{"transform_accuracy" + split: CYCLIC_ONLY for split in tests}})
    if fit_pairs.rotations is None:
        ev.null_reasons.update({name: NOT_ROTATIONS for name in METRICS if name.startswith("pre_orbit")})
    ev.null_reasons.update({name: "the model declares no invariant part (Encoder.invariant_dims)"
                            for name in METRICS if name.startswith("probe_accuracy_invariant")})
    if m["collapsed"]:
        ev.null_reasons.update({name: "the code collapsed (no spread on test)" for name in METRICS
                                if name not in ("collapsed", "log_likelihood")})
    else:
        op = model.operator(t)
        declared = {"": op and checked_operator(plugin, op), "_roll": _roll_operator(model, t.order)}
        for suffix, op in declared.items():
            if op is None:
                why = "the model declares no operator" if not suffix else f"no capsules of size {t.order}"
                ev.null_reasons.update({name + split: why for name in _scores_of(suffix, "") for split in tests})
        invariant = checked_invariant(plugin, model.invariant_dims(), z_fit.shape[-1])
        scored = {split: Test(z_tests[split], data.splits[name].labels, pairs_of(data.splits[name], t))
                  for split, name in tests.items()}
        for part in _scored(model, plugin, data, declared, z_fit, fit_pairs, invariant, scored, seed):
            ev.merge(part)

    shape = model.capsules()
    if not m["collapsed"] and _roll_operator(model, t.order) is not None:
        with ev.watch.stage("eeq_tvae"):
            generator = torch.Generator().manual_seed(seed)
            draws = [_measurable(ev, "eeq_tvae", model, "sample_sequences", plugin, test, progress, generator=generator)
                     for _ in range(EEQ_SAMPLES)]
            if all(z is not None for z in draws):
                m["eeq_tvae"] = sum(eeq_tvae(z, *shape) for z in draws) / EEQ_SAMPLES
        with ev.watch.stage("eeq_tvae_context_mean"):
            context = _measurable(ev, "eeq_tvae_context_mean", model, "encode_sequences", plugin, test, progress)
            if context is not None:
                m["eeq_tvae_context_mean"] = eeq_tvae(context, *shape)
    with ev.watch.stage("log_likelihood"):
        m["log_likelihood"] = _log_likelihood(model, plugin, test, progress)
    ev.null_reasons = {name: why for name, why in ev.null_reasons.items() if m.get(name) is None}
    ev.warnings = diagnose(m, ev.curves, ev.chance)
    return ev


def _measurable(ev: Evaluation, metric: str, *args: Any, **kwargs: Any) -> torch.Tensor | None:
    """:func:`_sequence_codes` for ``metric``; None, with the plugin's reason recorded, where the
    plugin raises NotMeasurable."""
    try:
        codes = _sequence_codes(*args, **kwargs)
    except NotMeasurable as reason:
        ev.null_reasons[metric] = str(reason)
        return None
    if codes is None:
        ev.null_reasons[metric] = f"the model has no {args[1]}()"
    return codes


@torch.no_grad()
def _sequence_codes(model: Encoder, method: str, plugin: str, split: OrbitSplit, progress: Progress,
                    **kwargs: Any) -> torch.Tensor | None:
    """``model.<method>(sequences, **kwargs)`` over the split in batches of 32, checked; None
    where the model returns None."""
    out = []
    for lo in progress(range(0, split.num_sequences, 32), desc=method, leave=False):
        frames = split.frames[lo: lo + 32].to(model.device).float().div_(255.0)
        z = getattr(model, method)(frames, **kwargs)
        if z is None:
            return None
        check_latents(plugin, f"{method}()", z.flatten(0, 1), frames.shape[0] * frames.shape[1])
        out.append(z.float().cpu())
    return torch.cat(out)


@torch.no_grad()
def _log_likelihood(model: Encoder, plugin: str, split: OrbitSplit, progress: Progress) -> float | None:
    """Mean over test sequences of log p(sequence) / N: nats per frame."""
    total, n = 0.0, split.frames.shape[1]
    for lo in progress(range(0, split.num_sequences, 32), desc="log-likelihood", leave=False):
        ll = model.log_likelihood(split.frames[lo: lo + 32].to(model.device).float().div_(255.0))
        if ll is None:
            return None
        if not torch.isfinite(ll).all():
            raise PluginError(f"plugin {plugin!r}: log_likelihood() returned non-finite values")
        total += float(ll.double().sum())
    return total / (split.num_sequences * n)
