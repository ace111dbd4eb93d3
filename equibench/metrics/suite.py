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
from equibench.metrics.capsules import EEQ_SAMPLES, eeq_tvae
from equibench.metrics.commutativity import commutativity, identity, is_collapsed
from equibench.metrics.fitted import (
    Whitener,
    fit_operators,
    fitted_commutativity,
    homomorphism_error,
    transform_accuracy,
)
from equibench.metrics.representation import participation_ratio, probe_accuracy
from equibench.errors import PluginError
from equibench.models.checks import check_latents, checked_operator, encode_split
from equibench.models.encoder import Encoder, NotMeasurable, Progress
from equibench.models.operators import capsule_roll
from equibench.stopwatch import Stopwatch

METRIC_VERSION = 1

METRICS = {
    "commutativity": "primary: E||rho(k) f(x) - f(g^k x)||^2 / total variance, declared rho (null if none)",
    "commutativity_roll": "the same under Roll-by-k inside capsules, for models with capsules of size N",
    "commutativity_fitted": "the same with ridge-fitted linear M_k on whitened f (fit split), on test",
    "invariance": "the same with rho = identity: how much f changes along the orbit",
    "homomorphism": "mean ||M_a M_b - M_(a+b)|| / ||M_(a+b)|| of the fitted maps",
    "transform_accuracy": "k recovered from (f(x), f(g^k x)) by the best-fitting M_k; chance 1/N",
    "eeq_tvae": f"the TVAE paper's E_eq (L1, unit capsules, all pairs) on a posterior sample of the codes "
                f"with their temporal context; mean of {EEQ_SAMPLES} samples drawn from the run's seed",
    "eeq_tvae_context_mean": "E_eq on the posterior-mean codes with the trained temporal window",
    "participation_ratio": "effective dimension of f on test: (sum eig)^2 / sum eig^2",
    "probe_accuracy": "logistic-regression probe for the base label, fit split -> test split",
    "log_likelihood": "importance-sampled log p(x) per frame, nats (where the model has one)",
    "collapsed": "true when f has (numerically) no spread; then no error is reported",
}


@dataclass
class Evaluation:
    """Everything the suite measured, with the wall time of each metric."""

    metrics: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    null_reasons: dict[str, str] = field(default_factory=dict)  # metric -> why it is null
    watch: Stopwatch = field(default_factory=Stopwatch)


def _roll_operator(model: Encoder, order: int) -> Callable | None:
    shape = model.capsules()
    return capsule_roll(*shape) if shape is not None and shape[1] == order else None


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

    declared = model.operator(data.transformation)
    roll = _roll_operator(model, data.transformation.order)
    scored = {"commutativity": declared, "commutativity_roll": roll, "invariance": identity}
    for name, op in scored.items():
        m[name] = None
        if op is not None and not m["collapsed"]:
            with ev.watch.stage(name):
                result = commutativity(z_test, op if op is identity else checked_operator(plugin, op))
            m[name], ev.curves[name] = result.mean, result.per_k

    for name in ("commutativity_fitted", "homomorphism", "transform_accuracy", "probe_accuracy"):
        m[name] = None
    if not m["collapsed"]:
        with ev.watch.stage("commutativity_fitted"):
            whiten = Whitener.fit(z_fit)
            w_fit, w_test = whiten(z_fit), whiten(z_test)
            maps = fit_operators(w_fit)
            result = fitted_commutativity(w_test, maps)
        m["commutativity_fitted"], ev.curves["commutativity_fitted"] = result.mean, result.per_k
        m["whitened_dim"] = w_test.shape[-1]
        with ev.watch.stage("homomorphism"):
            m["homomorphism"] = homomorphism_error(maps)
        with ev.watch.stage("transform_accuracy"):
            m["transform_accuracy"] = transform_accuracy(w_test, maps)
        with ev.watch.stage("probe_accuracy"):
            m["probe_accuracy"] = probe_accuracy(w_fit, fit.labels, w_test, test.labels, seed)
    with ev.watch.stage("participation_ratio"):
        m["participation_ratio"] = None if m["collapsed"] else participation_ratio(z_test)

    shape = model.capsules()
    m["eeq_tvae"] = m["eeq_tvae_context_mean"] = None
    if roll is not None:
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
    return ev


def _measurable(ev: Evaluation, metric: str, *args: Any, **kwargs: Any) -> torch.Tensor | None:
    """:func:`_sequence_codes` for ``metric``; None, with the plugin's reason recorded, where the
    plugin raises NotMeasurable."""
    try:
        return _sequence_codes(*args, **kwargs)
    except NotMeasurable as reason:
        ev.null_reasons[metric] = str(reason)
        return None


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
