"""The result record: its fields, its config hash, its file name, writing it and reading it back.

One module owns the format so that runs, sweeps, the leaderboard and the Python API cannot drift
apart. A record is a JSON object whose keys come in the order of :data:`FIELDS`; adding a field is
one line there (``measured`` fields are copied from the metric suite's evaluation by name).

A record that is not valid JSON, lacks a required field or has one of the wrong type, comes from
another schema or metric version, names a model not installed here, or whose config hash does not
match its content is skipped by :func:`read_records` with the reason, so the leaderboard is never
built from half a record.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from equibench.atomic import atomic_path
from equibench.errors import ConfigError
from equibench.metrics.suite import METRIC_VERSION, METRICS
from equibench.models.registry import available_models

RECORD_SCHEMA = "equibench.record/1"


@dataclass(frozen=True)
class Field:
    """One key of a record: its JSON type, whether a reader needs it, and whether the metric suite
    measures it (then it is the evaluation's attribute of the same name)."""

    kind: type
    required: bool = False
    measured: bool = False


FIELDS: dict[str, Field] = {
    "schema": Field(str),
    "metric_version": Field(int),
    "model": Field(str, required=True),
    "model_description": Field(str),
    "source": Field(dict),  # where the model's code came from: entry point, file (sha256) or the API
    "supervision": Field(str, required=True),
    "calibration": Field(bool),  # a reference encoder (pixels, pca, random-mlp): never ranked
    "dataset": Field(str, required=True),
    "dataset_card": Field(dict),
    "dataset_hash": Field(str, required=True),
    "transformation": Field(str, required=True),
    "seed": Field(int, required=True),
    "profile": Field(str, required=True),
    "overrides": Field(list, required=True),
    "config": Field(dict, required=True),
    "config_hash": Field(str, required=True),
    "checkpoint": Field(dict),
    "versions": Field(dict, required=True),
    "hardware": Field(dict, required=True),
    "timings_s": Field(dict),
    "metrics": Field(dict, required=True, measured=True),
    "null_reasons": Field(dict, measured=True),
    "chance": Field(dict, measured=True),
    "warnings": Field(list, measured=True),
    "curves": Field(dict, required=True, measured=True),
    "figures": Field(dict),
}
"""Every field of a record, in the order it is written."""

MEASURED = tuple(name for name, f in FIELDS.items() if f.measured)


def config_hash(model: str, config: dict[str, Any], dataset_hash: str, seed: int) -> str:
    """What identifies a trained model: the checkpoint key and the sweep's skip key."""
    blob = json.dumps({"model": model, "config": config, "data": dataset_hash, "seed": seed}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def record_name(model: str, dataset: str, profile: str, seed: int, chash: str) -> str:
    """The file stem of a record, its figures and (in a sweep) its log."""
    return f"{model}__{dataset}__{profile}__seed{seed}__{chash[:8]}"


def make_record(evaluation: Any, **values: Any) -> dict[str, Any]:
    """The record of ``values`` and the measured fields of ``evaluation``, keys in :data:`FIELDS`
    order. A key missing or unknown is a bug in the caller, so it raises."""
    values |= {name: getattr(evaluation, name) for name in MEASURED}
    if set(values) != set(FIELDS):
        raise TypeError(f"record fields missing {sorted(set(FIELDS) - set(values))}, "
                        f"unknown {sorted(set(values) - set(FIELDS))}")
    return {name: values[name] for name in FIELDS}


def write_record(path: Path, record: dict[str, Any]) -> Path:
    """Write ``record`` to ``path`` atomically: a reader sees the whole record or none."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n")
    return path


@dataclass(frozen=True)
class Record:
    """A checked record and the file it came from."""

    path: Path
    data: dict[str, Any]

    @property
    def group(self) -> tuple[str, ...]:
        """What its seeds are aggregated over: model, config, dataset (and its content), profile."""
        d = self.data
        return (d["model"], d["dataset"], d["dataset_hash"], d["profile"], json.dumps(d["config"], sort_keys=True))


@dataclass(frozen=True)
class Skipped:
    """A file that was not used, and why."""

    path: Path
    reason: str


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _not_a_record(raw: Any) -> str | None:
    """Why ``raw`` is not a record of this schema with every required field, or None; its metric
    version may be any."""
    if not isinstance(raw, dict):
        return "not a JSON object"
    if raw.get("schema") != RECORD_SCHEMA:
        return f"schema {raw.get('schema')!r}, not {RECORD_SCHEMA!r}"
    for key, f in FIELDS.items():
        value = raw.get(key)
        if f.required and (not isinstance(value, f.kind) or (f.kind is int and isinstance(value, bool))):
            return f"field {key!r} is missing or not a {f.kind.__name__}"
    return None


def check_record(raw: Any, models: Collection[str]) -> str | None:
    """Why ``raw`` cannot be used, or None when it is a whole record of this metric version."""
    if isinstance(raw, dict) and raw.get("schema") == RECORD_SCHEMA and raw.get("metric_version") != METRIC_VERSION:
        return f"metric version {raw.get('metric_version')!r}; this equibench reads version {METRIC_VERSION}"
    if (reason := _not_a_record(raw)) is not None:
        return reason
    if raw["model"] not in models:
        return f"unknown model {raw['model']!r} (not installed here)"
    for name in METRICS:
        value = raw["metrics"].get(name, "missing")
        if not (isinstance(value, bool) if name == "collapsed" else value is None or _finite(value)):
            return f"metric {name!r} is missing or not a finite number"
    for name, curve in raw["curves"].items():
        if not (isinstance(curve, list) and all(_finite(v) for v in curve)):
            return f"curve {name!r} is not a list of finite numbers"
    if not isinstance(raw["versions"].get("equibench"), str):
        return "versions.equibench is missing"
    if config_hash(raw["model"], raw["config"], raw["dataset_hash"], raw["seed"]) != raw["config_hash"]:
        return "config_hash does not match the record's model, config, dataset hash and seed"
    return None


def _read(folder: Path, problem: Callable[[Any], str | None]) -> tuple[list[Record], list[Skipped]]:
    """Every ``*.json`` directly in ``folder`` (in name order) for which ``problem`` says None, and
    the files skipped with why."""
    records: list[Record] = []
    skipped: list[Skipped] = []
    for path in sorted(folder.glob("*.json")):
        try:
            raw = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            skipped.append(Skipped(path, f"not readable JSON ({exc})"))
            continue
        reason = problem(raw)
        if reason is None:
            records.append(Record(path, raw))
        else:
            skipped.append(Skipped(path, reason))
    return records, skipped


def read_records(results: Path) -> tuple[list[Record], list[Skipped]]:
    """Every usable ``*.json`` record directly in ``results``, and the files skipped with why: a
    record is used when :func:`check_record` passes it and no earlier file has its seed and group."""
    if not results.is_dir():
        raise ConfigError(f"--results {results} is not a folder; point it at the --out of 'equibench sweep'")
    models = set(available_models())
    checked, skipped = _read(results, lambda raw: check_record(raw, models))
    records: list[Record] = []
    seen: dict[tuple, Path] = {}
    for record in checked:
        key = (*record.group, record.data["seed"])
        if key in seen:
            skipped.append(Skipped(record.path, f"same model, config, dataset and seed as {seen[key].name}"))
        else:
            seen[key] = record.path
            records.append(record)
    skipped.sort(key=lambda s: s.path)
    return records, skipped


IDENTITY = ("model", "dataset", "seed", "profile", "metric_version", "config_hash")


def load(folder: str | Path, *, current_only: bool = False) -> Any:
    """The records directly in ``folder`` as a pandas DataFrame: one row per record (in file-name
    order), the columns :data:`IDENTITY`, ``path`` and one per metric (the union over the records,
    empty where a record lacks it).

    Any record of this schema is read, whatever its metric version (the ``metric_version`` column
    tells them apart): analysing an old sweep is what this is for. ``current_only=True`` reads only
    what the leaderboard would use (:func:`read_records`). Files that are not records are left out
    and listed, with why, in ``frame.attrs["skipped"]``.
    """
    try:
        import pandas as pd
    except ImportError:
        raise ConfigError("equibench.records.load needs pandas: pip install 'equibench[pandas]'") from None
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder of records; give the --out of 'equibench run' or 'sweep'")
    records, skipped = read_records(folder) if current_only else _read(folder, _not_a_record)
    metrics = list(dict.fromkeys(name for r in records for name in r.data["metrics"]))
    rows = [{**{key: r.data.get(key) for key in IDENTITY}, "path": str(r.path),
             **{name: r.data["metrics"].get(name) for name in metrics}} for r in records]
    frame = pd.DataFrame(rows, columns=[*IDENTITY, "path", *metrics])
    frame.attrs["skipped"] = [(str(s.path), s.reason) for s in skipped]
    return frame
