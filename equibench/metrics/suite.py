"""Run the whole metric suite on a fitted model: latents in, metrics, curves and timings out.

The declared commutativity never stands alone: the same record always carries the fitted
operator's error, the invariance error, the spread of the representation and what it keeps of
the label, so that a constant, collapsed or information-free encoder cannot top a table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from equibench.data.orbits import OrbitDataset, OrbitSplit
from equibench.errors import PluginError
from equibench.metrics.capsules import EEQ_SAMPLES, eeq_tvae
from equibench.metrics.commutativity import identity, is_collapsed
from equibench.metrics.diagnostics import diagnose
from equibench.metrics.fitted import Whitener, fit_operators, fitted_operator, homomorphism_error, transform_accuracy
from equibench.metrics.operator_scores import score_operator
from equibench.metrics.pairs import CyclicPairs
from equibench.metrics.regression import transform_r2
from equibench.metrics.representation import participation_ratio, probe_accuracy, standardiser
from equibench.models.checks import check_latents, checked_operator, encode_split
from equibench.models.encoder import Encoder, NotMeasurable, Progress
from equibench.models.operators import capsule_roll
from equibench.stopwatch import Stopwatch

METRIC_VERSION = 2


@dataclass(frozen=True)
class Metric:
    """What a metric says, and its range (so that intervals over seeds can respect it)."""

    description: str
    low: float | None = None
    high: float | None = None


ERROR = {"low": 0.0}
FRACTION = {"low": 0.0, "high": 1.0}
SUFFIXES = {"": "the declared rho (null if none)", "_roll": "Roll-by-k inside capsules (capsules of size N)",
            "_fitted": "the fitted linear M_k on whitened f"}


def _operator_metrics() -> dict[str, Metric]:
    out = {}
    for suffix, op in SUFFIXES.items():
        out[f"commutativity{suffix}"] = Metric(
            f"E||rho(k) f(x) - f(g^k x)||^2 / total variance of f, k != 0, with {op}", **ERROR)
        for where, among in (("orbit", "the N views of the same base image"), ("all", "every test view, "
                             "for a fixed subset of 2000 queries")):
            ranked = "; the leaderboard ranks by it" if where == "orbit" and suffix != "_roll" else ""
            out[f"h1_{where}{suffix}"] = Metric(f"H@1 of rho(k) f(x) retrieving f(g^k x) among {among} "
                                                f"(cosine), with {op}{ranked}", **FRACTION)
            out[f"h5_{where}{suffix}"] = Metric("H@5 of the same (null where 5 >= candidates)", **FRACTION)
            out[f"mrr_{where}{suffix}"] = Metric("mean reciprocal rank of the same", **FRACTION)
    return out


METRICS = {
    **_operator_metrics(),
    "invariance": Metric("E||f(x) - f(g^k x)||^2 / total variance (rho = identity): how much f changes", **ERROR),
    "homomorphism": Metric("mean ||M_a M_b - M_(a+b)|| / ||M_(a+b)|| of the fitted maps", **ERROR),
    "transform_accuracy": Metric("k != 0 recovered from (f(x), f(g^k x)) as the best-fitting of the fitted "
                                 "M_1..M_(N-1); chance 1/(N-1)", **FRACTION),
    "transform_r2": Metric("R^2 of (cos, sin) of g^k regressed from concat(f(x), f(g^k x)), MLP head, fit -> "
                           "test, pooled over every target entry (SIE)", high=1.0),
    "transform_r2_dims": Metric("the same, R^2 averaged per target dimension (scikit-learn r2_score)", high=1.0),
    "transform_r2_linear": Metric("transform_r2 with a ridge head, pooled", high=1.0),
    "transform_r2_linear_dims": Metric("transform_r2 with a ridge head, per dimension", high=1.0),
    "eeq_tvae": Metric(f"the TVAE paper's E_eq (L1, unit capsules, all pairs) on a posterior sample of the codes "
                       f"with their temporal context; mean of {EEQ_SAMPLES} samples drawn from the run's seed", **ERROR),
    "eeq_tvae_context_mean": Metric("E_eq on the posterior-mean codes with the trained temporal window", **ERROR),
    "participation_ratio": Metric("effective dimension of f on test: (sum eig)^2 / sum eig^2", low=1.0),
    "probe_accuracy": Metric("logistic-regression probe for the label on the full standardised code, "
                             "fit -> test", **FRACTION),
    "log_likelihood": Metric("importance-sampled log p(x) per frame, nats (where the model has one)", high=0.0),
    "collapsed": Metric("true when f has (numerically) no spread; then no error or score is reported"),
}
HEADLINE = ["h1_orbit", "h1_orbit_fitted", "mrr_orbit", "commutativity", "commutativity_fitted", "invariance",
            "transform_accuracy", "transform_r2", "probe_accuracy"]


@dataclass
class Evaluation:
    """Everything the suite measured, with the wall time of each metric."""

    metrics: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    null_reasons: dict[str, str] = field(default_factory=dict)  # metric -> why it is null
    chance: dict[str, float] = field(default_factory=dict)  # metric -> its value for a random guess
    warnings: list[dict[str, str]] = field(default_factory=list)
    watch: Stopwatch = field(default_factory=Stopwatch)


def _roll_operator(model: Encoder, order: int) -> Callable | None:
    shape = model.capsules()
    return capsule_roll(*shape) if shape is not None and shape[1] == order else None


def _score(ev: Evaluation, name: str, suffix: str, z: torch.Tensor, op: Callable, pairs: CyclicPairs,
           retrieval: bool = True) -> None:
    with ev.watch.stage(name):
        scores = score_operator(z, op, pairs, retrieval)
    key = {"commutativity": name}  # the identity operator's error is the invariance
    for metric, value in scores.values.items():
        ev.metrics[key.get(metric, metric + suffix)] = value
    for curve, values in scores.curves.items():
        ev.curves[key.get(curve, curve + suffix)] = values
    ev.chance.update({metric + suffix: level for metric, level in scores.chance.items()})
    if retrieval and scores.values["h5_orbit"] is None:
        ev.null_reasons[f"h5_orbit{suffix}"] = f"only {z.shape[1]} candidates on the orbit"


def evaluate(model: Encoder, plugin: str, data: OrbitDataset, progress: Progress, seed: int) -> Evaluation:
    """Score ``model`` on ``data``: operators and probes fitted on ``fit``, scored on ``test``."""
    ev, m = Evaluation(), {}
    ev.metrics = m
    fit, test = data.splits["fit"], data.splits["test"]
    with ev.watch.stage("encode"):
        z_fit = encode_split(model, plugin, fit, progress)
        z_test = encode_split(model, plugin, test, progress)
    m["latent_dim"] = z_test.shape[-1]
    m["collapsed"] = is_collapsed(z_test)
    order, factors = data.transformation.order, data.transformation.factors
    test_pairs, fit_pairs = CyclicPairs(test.num_sequences, order, factors), CyclicPairs(fit.num_sequences, order, factors)
    for name in METRICS:
        m.setdefault(name, None)
    if m["collapsed"]:
        ev.null_reasons.update({name: "the code collapsed (no spread on test)" for name in METRICS
                                if name not in ("collapsed", "log_likelihood")})
    else:
        declared = model.operator(data.transformation)
        operators = {"": declared and checked_operator(plugin, declared),
                     "_roll": _roll_operator(model, order)}
        for suffix, op in operators.items():
            if op is None:
                ev.null_reasons[f"commutativity{suffix}"] = ("the model declares no operator" if not suffix else
                                                             f"no capsules of size {order}")
            else:
                _score(ev, f"commutativity{suffix}", suffix, z_test, op, test_pairs)
        _score(ev, "invariance", "", z_test, identity, test_pairs, retrieval=False)
        with ev.watch.stage("commutativity_fitted"):
            whiten = Whitener.fit(z_fit)
            w_fit, w_test = whiten(z_fit), whiten(z_test)
            maps = fit_operators(w_fit, fit_pairs)
        m["whitened_dim"] = w_test.shape[-1]
        _score(ev, "commutativity_fitted", "_fitted", w_test, fitted_operator(maps), test_pairs)
        with ev.watch.stage("homomorphism"):
            m["homomorphism"] = homomorphism_error(maps, test_pairs)
        with ev.watch.stage("transform_accuracy"):
            m["transform_accuracy"] = transform_accuracy(w_test, maps, test_pairs)
            ev.chance["transform_accuracy"] = 1 / (order - 1)
        with ev.watch.stage("standardise"):
            scale = standardiser(z_fit)
            x_fit, x_test = scale(z_fit), scale(z_test)
        with ev.watch.stage("transform_r2"):
            m.update(transform_r2(x_fit, x_test, fit_pairs, test_pairs, seed))
        with ev.watch.stage("probe_accuracy"):
            m["probe_accuracy"] = probe_accuracy(x_fit, fit.labels, x_test, test.labels, seed)
            ev.chance["probe_accuracy"] = 1 / data.num_classes
        with ev.watch.stage("participation_ratio"):
            m["participation_ratio"] = participation_ratio(z_test)

    shape = model.capsules()
    if not m["collapsed"] and _roll_operator(model, order) is not None:
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
