"""One benchmark run: dataset -> model (trained or loaded) -> metric suite -> result record.

``equibench run`` and the Python API (:mod:`equibench.api`) share this path: :func:`plan_for`
before training, :func:`measure` after it; only how the fitted model comes to be differs.
"""

from __future__ import annotations

import io
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from equibench.atomic import atomic_path, check_writable
from equibench.data.cards import DatasetCard, load_card
from equibench.data.orbits import OrbitDataset, load_dataset
from equibench.errors import ConfigError
from equibench.metrics.suite import METRIC_VERSION, evaluate
from equibench.models.checks import check_deterministic
from equibench.models.encoder import DataSpec, Encoder, Progress
from equibench.models.guard import construct, plugin_call
from equibench.models.registry import ModelRef, resolve_model
from equibench.progress import progress as default_progress
from equibench.records import RECORD_SCHEMA, config_hash, make_record, record_name, write_record
from equibench.runs.config import apply_overrides, check_profile
from equibench.runs.provenance import hardware, versions
from equibench.stopwatch import Stopwatch


def default_cache_dir() -> Path:
    """``$EQUIBENCH_CACHE``, else ``$XDG_CACHE_HOME/equibench``, else ``~/.cache/equibench``."""
    if "EQUIBENCH_CACHE" in os.environ:
        return Path(os.environ["EQUIBENCH_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "equibench"


@dataclass(frozen=True)
class RunRequest:
    """Everything a run was asked to do, by ``equibench run``, a sweep's cell or the Python API."""

    model: str
    dataset: str = "digits-rot18"
    seed: int = 0
    profile: str = "quick"
    overrides: tuple[str, ...] = ()
    out_dir: Path | None = Path("results")  # None: no record is written (the API's default)
    cache_dir: Path = field(default_factory=default_cache_dir)
    data_root: Path | None = None
    download: bool = False
    device: str = "auto"
    retrain: bool = False


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown --device {name!r}; use auto, cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but torch sees no CUDA device; use --device cpu")
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds CUDA too




@dataclass(frozen=True)
class RunPlan:
    """What a run is before it trains: enough to name its record, so a sweep can skip done cells."""

    request: RunRequest
    profile: str
    model: ModelRef
    card: DatasetCard
    data: OrbitDataset
    spec: DataSpec
    config: dict[str, Any]
    config_hash: str
    device: torch.device
    watch: Stopwatch

    @property
    def name(self) -> str:
        """The file stem of the record, its figures and (in a sweep) its log."""
        return record_name(self.model.name, self.card.id, self.profile, self.request.seed, self.config_hash)

    @property
    def checkpoint(self) -> Path:
        """Where the trained model is cached: under the config hash and, from version 1 on, the
        plugin's version (``Encoder.version``), so that a plugin that now trains otherwise retrains."""
        version = self.model.cls.version
        tag = f"-v{version}" if version else ""
        return self.request.cache_dir / "checkpoints" / f"{self.model.name}-{self.config_hash}{tag}.pt"

    @property
    def record_path(self) -> Path:
        if self.request.out_dir is None:
            raise ValueError("a run without out_dir writes no record")
        return self.request.out_dir / f"{self.name}.json"


def plan(req: RunRequest, progress: Progress = default_progress) -> RunPlan:
    """Resolve model, dataset (generated into the cache if absent), config and its hash; train nothing."""
    check_profile(req.profile)
    return plan_for(req, resolve_model(req.model), progress)


def plan_for(req: RunRequest, model: ModelRef, progress: Progress, config: dict[str, Any] | None = None) -> RunPlan:
    """The plan of ``req`` for a resolved ``model``; ``config`` (else its default for the profile,
    with the request's overrides) is what it is built with."""
    profile = check_profile(req.profile)
    card = load_card(req.dataset)
    device = resolve_device(req.device)
    if req.out_dir is not None:
        check_writable(req.out_dir, "--out")
    check_writable(req.cache_dir, "--cache-dir")
    watch = Stopwatch()

    with watch.stage("data"):
        data = load_dataset(card, req.cache_dir, progress, req.data_root, req.download)
    spec = DataSpec(card.id, data.image_shape, data.num_classes, data.transformation)
    if config is None:
        with plugin_call(model.name, "default_config()"):
            defaults = model.cls.default_config(profile, spec)
        config = apply_overrides(model.name, defaults, req.overrides)
    chash = config_hash(model.name, config, data.content_hash, req.seed)
    return RunPlan(req, profile, model, card, data, spec, config, chash, device, watch)


def run(req: RunRequest, progress: Progress = default_progress) -> Path:
    """Train or load, evaluate, and write the result record; returns the record's path."""
    started = time.perf_counter()
    p = plan(req, progress)
    model, saved = fitted_model(p, progress)
    return write_record(p.record_path, measure(p, model, saved, started, progress))


def fitted_model(p: RunPlan, progress: Progress) -> tuple[Encoder, dict[str, Any]]:
    """The planned model, seeded, loaded from its checkpoint or fitted on ``train`` (its weights
    then saved as the checkpoint), and what the record says of the checkpoint."""
    seed_everything(p.request.seed)
    model = construct(p.model.cls, p.model.name, p.config, p.spec, p.device, p.request.overrides)  # every call guarded
    checkpoint = p.checkpoint
    loaded = checkpoint.is_file() and not p.request.retrain
    with p.watch.stage("fit"):
        if loaded:
            model.load_state_dict(torch.load(checkpoint, map_location=p.device, weights_only=True))
        else:
            model.fit(p.data.splits["train"], progress)
            state = model.state_dict()
            if state:
                with atomic_path(checkpoint) as tmp:
                    torch.save(state, tmp)
    return model, {"loaded": loaded, "file": checkpoint.name if checkpoint.is_file() else None}


def measure(p: RunPlan, model: Encoder, checkpoint: dict[str, Any], started: float, progress: Progress) -> dict:
    """The behaviour checks, the metric suite and the figures of a fitted ``model``: its record.
    Figures are saved beside the record only where the run writes one."""
    req, card, data = p.request, p.card, p.data
    check_deterministic(model, p.model.name, data.splits["test"])
    seed_everything(req.seed)
    ev = evaluate(model, p.model.name, data, progress, req.seed)

    figures = {}
    if req.out_dir is not None:
        with p.watch.stage("figures"):
            png = {}
            for fig_name, fig in model.figures(data.splits["test"]).items():
                with plugin_call(p.model.name, "figures()", req.overrides):  # drawing runs the plugin's artists
                    buffer = io.BytesIO()
                    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
                figures[fig_name] = f"{p.name}.{fig_name}.png"
                png[figures[fig_name]] = buffer.getvalue()
            for file_name, content in png.items():  # written only once every figure has rendered
                with atomic_path(req.out_dir / file_name) as tmp:
                    tmp.write_bytes(content)

    return make_record(
        ev,
        schema=RECORD_SCHEMA,
        metric_version=METRIC_VERSION,
        model=p.model.name,
        model_description=p.model.description,
        source=p.model.source,
        supervision=model.supervision,
        calibration=p.model.cls.calibration,
        dataset=card.id,
        dataset_card={"source": card.source, "seed": card.seed, "transformation": card.transformation,
                      "splits": card.splits, "card_hash": card.hash,
                      **{k: v for k, v in (("views", card.views), ("image_size", card.image_size)) if v is not None}},
        dataset_hash=data.content_hash,
        transformation=data.transformation.describe(),
        seed=req.seed,
        profile=p.profile,
        overrides=list(req.overrides),
        config=p.config,
        config_hash=p.config_hash,
        checkpoint=checkpoint,
        versions={**versions(), "plugin": str(p.model.cls.version)},
        hardware=hardware(p.device),
        timings_s={**p.watch.seconds, **{f"metric.{k}": v for k, v in ev.watch.seconds.items()},
                   "total": round(time.perf_counter() - started, 3)},
        figures=figures,
    )
