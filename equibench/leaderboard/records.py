"""Reading result records for the leaderboard: whole, current records only.

A record that is not valid JSON, lacks a field or has one of the wrong type, comes from another
schema or metric version, names a model not installed here, or whose config hash does not match
its content is skipped with the reason, so the leaderboard is never built from half a record.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from equibench.errors import ConfigError
from equibench.metrics.suite import METRIC_VERSION, METRICS
from equibench.models.registry import available_models
from equibench.runs.config import config_hash
from equibench.runs.runner import RECORD_SCHEMA

FIELDS: dict[str, type] = {
    "model": str, "dataset": str, "dataset_hash": str, "transformation": str, "seed": int, "profile": str,
    "overrides": list, "config": dict, "config_hash": str, "supervision": str, "versions": dict,
    "hardware": dict, "metrics": dict, "curves": dict, "calibration": bool, "null_reasons": dict, "chance": dict,
    "warnings": list,
}


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


def check_record(raw: Any, models: Collection[str]) -> str | None:
    """Why ``raw`` cannot be used, or None when it is a whole record of this metric version."""
    if not isinstance(raw, dict):
        return "not a JSON object"
    if raw.get("schema") != RECORD_SCHEMA:
        return f"schema {raw.get('schema')!r}, not {RECORD_SCHEMA!r}"
    if raw.get("metric_version") != METRIC_VERSION:
        return f"metric version {raw.get('metric_version')!r}; this equibench reads version {METRIC_VERSION}"
    for key, kind in FIELDS.items():
        value = raw.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f"field {key!r} is missing or not a {kind.__name__}"
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


def read_records(results: Path) -> tuple[list[Record], list[Skipped]]:
    """Every usable ``*.json`` record directly in ``results``, and the files skipped with why."""
    if not results.is_dir():
        raise ConfigError(f"--results {results} is not a folder; point it at the --out of 'equibench sweep'")
    models = set(available_models())
    records: list[Record] = []
    skipped: list[Skipped] = []
    seen: dict[tuple, Path] = {}
    for path in sorted(results.glob("*.json")):
        try:
            raw = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            skipped.append(Skipped(path, f"not readable JSON ({exc})"))
            continue
        reason = check_record(raw, models)
        record = Record(path, raw)
        key = (*record.group, raw["seed"]) if reason is None else ()
        if reason is None and key in seen:
            reason = f"same model, config, dataset and seed as {seen[key].name}"
        if reason is not None:
            skipped.append(Skipped(path, reason))
            continue
        seen[key] = path
        records.append(record)
    return records, skipped
