"""Rows of the leaderboard: the records of one (model, config, dataset), aggregated over seeds."""

from __future__ import annotations

import dataclasses
import json
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from equibench.records import Record
from equibench.leaderboard.stats import Interval, t_interval
from equibench.metrics.suite import METRICS

NUMERIC = [name for name in METRICS if name != "collapsed"]


@dataclass(frozen=True)
class Row:
    """One (model, config, dataset, profile) over its seeds."""

    label: str  # the model, with its --set overrides (and profile, where profiles are mixed)
    model: str
    dataset: str
    transformation: str
    profile: str
    config: dict[str, Any]
    supervision: str
    seeds: tuple[int, ...]
    records: tuple[Path, ...]
    metrics: dict[str, Interval | None]  # None: no seed has the metric (no operator declared, say)
    curves: dict[str, list[Interval]]  # per k = 1 .. N-1
    collapsed: int  # seeds in which the representation collapsed
    calibration: bool  # a reference encoder: shown for calibration, never ranked against learned models
    warnings: tuple[str, ...]  # "seed S: message", one per warning of each seed's record
    imposed: str | None = None  # the operator the row is scored under instead of a declared one

    def imposed_view(self, suffix: str, name: str) -> Row:
        """This row scored under an operator it does not declare (the VAE under Roll): the metrics
        ``m + suffix`` shown as ``m``, labelled as imposed, so it sits in the declared table."""
        metrics = {m: self.metrics.get(m + suffix, v) for m, v in self.metrics.items()}
        curves = {c: self.curves.get(c + suffix, v) for c, v in self.curves.items()}
        return dataclasses.replace(self, label=f"{self.label} ({name}, imposed)", metrics=metrics, curves=curves,
                                   imposed=name)

    def to_json(self, base: Path) -> dict[str, Any]:
        """The row for leaderboard.json, record paths relative to ``base``."""
        return {
            "label": self.label, "model": self.model, "dataset": self.dataset, "profile": self.profile,
            "config": self.config, "supervision": self.supervision, "seeds": list(self.seeds),
            "records": [relative_link(p, base) for p in self.records], "collapsed_seeds": self.collapsed,
            "calibration": self.calibration, "imposed": self.imposed, "warnings": list(self.warnings),
            "metrics": {k: v and v.to_json() for k, v in self.metrics.items()},
            "curves": {k: [v.to_json() for v in per_k] for k, per_k in self.curves.items()},
        }


def relative_link(path: Path, base: Path) -> str:
    """``path`` as a link from a page in the folder ``base``."""
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def _over_seeds(name: str, values: list[Any]) -> Interval | None:
    present = [v for v in values if v is not None]
    return t_interval(present, METRICS[name].low, METRICS[name].high) if present else None


def _curves(records: list[Record]) -> dict[str, list[Interval]]:
    names = sorted({name for r in records for name in r.data["curves"]})
    out = {}
    for name in names:
        curves = [r.data["curves"][name] for r in records if name in r.data["curves"]]
        out[name] = [t_interval(values) for values in zip(*curves)]
    return out


def _row(label: str, records: list[Record]) -> Row:
    records = sorted(records, key=lambda r: r.data["seed"])
    first = records[0].data
    return Row(
        label=label, model=first["model"], dataset=first["dataset"], transformation=first["transformation"],
        profile=first["profile"], config=first["config"],
        supervision="/".join(sorted({r.data["supervision"] for r in records})),
        seeds=tuple(r.data["seed"] for r in records), records=tuple(r.path for r in records),
        metrics={name: _over_seeds(name, [r.data["metrics"][name] for r in records]) for name in NUMERIC},
        curves=_curves(records), collapsed=sum(bool(r.data["metrics"]["collapsed"]) for r in records),
        calibration=any(r.data["calibration"] for r in records),
        warnings=tuple(f"seed {r.data['seed']}: {w['message']}" for r in records for w in r.data["warnings"]),
    )


def aggregate(records: list[Record]) -> list[Row]:
    """One row per (model, config, dataset, profile), sorted by dataset then label."""
    groups: dict[tuple, list[Record]] = defaultdict(list)
    for record in records:
        groups[record.group].append(record)
    mixed_profiles = len({r.data["profile"] for r in records}) > 1
    rows = []
    for group in groups.values():
        d = group[0].data
        label = " ".join([d["model"], *(f"--set {o}" for o in d["overrides"])])
        rows.append(_row(f"{label} [{d['profile']}]" if mixed_profiles else label, group))
    return sorted(rows, key=lambda r: (r.dataset, r.label))


def label_clashes(rows: list[Row]) -> list[str]:
    """One line for each label that names several rows of one dataset: records of one model under
    configs that no ``--set`` tells apart (a plugin's defaults changed between two runs, say), which
    the board would show as two rows of the same name."""
    by_label: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        by_label[row.dataset, row.label].append(row)
    lines = []
    for (dataset, label), clash in sorted(by_label.items()):
        if len(clash) > 1:
            keys = sorted(k for k in {k for r in clash for k in r.config}
                          if len({json.dumps(r.config.get(k), sort_keys=True) for r in clash}) > 1)
            lines.append(f"{len(clash)} rows read {label!r} on {dataset}, their configs differing in "
                         f"{', '.join(keys) or 'the dataset content'}: remove the superseded records and their "
                         f"figures (first seeds: {', '.join(r.records[0].name for r in clash)})")
    return lines
