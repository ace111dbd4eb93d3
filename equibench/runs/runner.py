"""One benchmark run: dataset -> model (trained or loaded) -> metric suite -> result record."""

from __future__ import annotations

import io
import json
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
from equibench.models.registry import load_model_class
from equibench.progress import progress as default_progress
from equibench.runs.config import apply_overrides, check_profile, config_hash
from equibench.runs.provenance import hardware, versions
from equibench.stopwatch import Stopwatch

RECORD_SCHEMA = "equibench.record/1"


def default_cache_dir() -> Path:
    """``$EQUIBENCH_CACHE``, else ``$XDG_CACHE_HOME/equibench``, else ``~/.cache/equibench``."""
    if "EQUIBENCH_CACHE" in os.environ:
        return Path(os.environ["EQUIBENCH_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "equibench"


@dataclass(frozen=True)
class RunRequest:
    """Everything ``equibench run`` was asked to do."""

    model: str
    dataset: str = "digits-rot18"
    seed: int = 0
    profile: str = "quick"
    overrides: tuple[str, ...] = ()
    out_dir: Path = Path("results")
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


def record_name(model: str, dataset: str, profile: str, seed: int, chash: str) -> str:
    return f"{model}__{dataset}__{profile}__seed{seed}__{chash[:8]}"


@dataclass(frozen=True)
class RunPlan:
    """What a run is before it trains: enough to name its record, so a sweep can skip done cells."""

    request: RunRequest
    profile: str
    cls: type[Encoder]
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
        r = self.request
        return record_name(r.model, self.card.id, self.profile, r.seed, self.config_hash)

    @property
    def record_path(self) -> Path:
        return self.request.out_dir / f"{self.name}.json"


def plan(req: RunRequest, progress: Progress = default_progress) -> RunPlan:
    """Resolve model, dataset (generated into the cache if absent), config and its hash; train nothing."""
    profile = check_profile(req.profile)
    cls = load_model_class(req.model)
    card = load_card(req.dataset)
    device = resolve_device(req.device)
    check_writable(req.out_dir, "--out")
    check_writable(req.cache_dir, "--cache-dir")
    watch = Stopwatch()

    with watch.stage("data"):
        data = load_dataset(card, req.cache_dir, progress, req.data_root, req.download)
    spec = DataSpec(card.id, data.image_shape, data.num_classes, data.transformation)
    with plugin_call(req.model, "default_config()"):
        defaults = cls.default_config(profile, spec)
    config = apply_overrides(req.model, defaults, req.overrides)
    chash = config_hash(req.model, config, data.content_hash, req.seed)
    return RunPlan(req, profile, cls, card, data, spec, config, chash, device, watch)


def run(req: RunRequest, progress: Progress = default_progress) -> Path:
    """Train or load, evaluate, and write the result record; returns the record's path."""
    started = time.perf_counter()
    p = plan(req, progress)
    card, data, config, chash, device, watch = p.card, p.data, p.config, p.config_hash, p.device, p.watch

    seed_everything(req.seed)
    model = construct(p.cls, req.model, config, p.spec, device, req.overrides)  # every call guarded
    checkpoint = req.cache_dir / "checkpoints" / f"{req.model}-{chash}.pt"
    loaded = checkpoint.is_file() and not req.retrain
    with watch.stage("fit"):
        if loaded:
            model.load_state_dict(torch.load(checkpoint, map_location=device, weights_only=True))
        else:
            model.fit(data.splits["train"], progress)
            state = model.state_dict()
            if state:
                with atomic_path(checkpoint) as tmp:
                    torch.save(state, tmp)

    check_deterministic(model, req.model, data.splits["test"])
    seed_everything(req.seed)
    ev = evaluate(model, req.model, data, progress, req.seed)

    name = p.name
    with watch.stage("figures"):
        figures, png = {}, {}
        for fig_name, fig in model.figures(data.splits["test"]).items():
            with plugin_call(req.model, "figures()", req.overrides):  # drawing runs the plugin's artists
                buffer = io.BytesIO()
                fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
            figures[fig_name] = f"{name}.{fig_name}.png"
            png[figures[fig_name]] = buffer.getvalue()
        for file_name, content in png.items():  # written only once every figure has rendered
            with atomic_path(req.out_dir / file_name) as tmp:
                tmp.write_bytes(content)

    record: dict[str, Any] = {
        "schema": RECORD_SCHEMA,
        "metric_version": METRIC_VERSION,
        "model": req.model,
        "model_description": p.cls.description,
        "supervision": model.supervision,
        "dataset": card.id,
        "dataset_card": {"source": card.source, "seed": card.seed, "transformation": card.transformation,
                         "splits": card.splits, "card_hash": card.hash},
        "dataset_hash": data.content_hash,
        "transformation": data.transformation.describe(),
        "seed": req.seed,
        "profile": p.profile,
        "overrides": list(req.overrides),
        "config": config,
        "config_hash": chash,
        "checkpoint": {"loaded": loaded, "file": checkpoint.name if checkpoint.is_file() else None},
        "versions": versions(),
        "hardware": hardware(device),
        "timings_s": {**watch.seconds, **{f"metric.{k}": v for k, v in ev.watch.seconds.items()},
                      "total": round(time.perf_counter() - started, 3)},
        "metrics": ev.metrics,
        "null_reasons": ev.null_reasons,
        "curves": ev.curves,
        "figures": figures,
    }
    path = p.record_path
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n")
    return path
