"""The leaderboard as data: rows, their ranks per dataset in each table, and where they came from.

README.md, index.html and leaderboard.json are three views of one :class:`Board`, so every
number in them comes from the same records.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from equibench import __version__
from equibench.leaderboard.aggregate import Row, aggregate, relative_link
from equibench.leaderboard.ranking import RULE, TABLES, Ranked, table_rows
from equibench.records import Record, Skipped
from equibench.leaderboard.stats import METHOD
from equibench.metrics.suite import METRIC_VERSION

SCHEMA = "equibench.leaderboard/1"


@dataclass(frozen=True)
class Board:
    """Rows, ``tables[metric][dataset]`` (ranked), provenance counts and the files skipped."""

    rows: list[Row]
    tables: dict[str, dict[str, list[Ranked]]]
    provenance: dict[str, dict[str, int]]
    records: int
    skipped: list[Skipped]
    command: str  # the command that regenerates it

    @property
    def datasets(self) -> list[str]:
        return sorted({r.dataset for r in self.rows})

    def to_json(self, base: Path) -> dict[str, Any]:
        """leaderboard.json: everything in the tables, with ranks, links relative to ``base``."""
        ranks: dict[int, dict[str, Any]] = {}
        for metric, by_dataset in self.tables.items():
            for ranked in by_dataset.values():
                for x in ranked:
                    ranks.setdefault(id(x.row), {})[metric] = {"rank": x.rank, "tied": x.tied}
        return {
            "schema": SCHEMA, "equibench": __version__, "metric_version": METRIC_VERSION,
            "command": self.command, "interval": METHOD, "ranking": RULE,
            "tables": {name: {"title": t.title, "higher_is_better": t.higher_is_better, "columns": list(t.columns)}
                       for name, t in TABLES.items()},
            "provenance": self.provenance, "records": self.records,
            "rows": [{**r.to_json(base), "ranks": ranks.get(id(r), {})} for r in self.rows],
            "skipped": [{"file": relative_link(s.path, base), "reason": s.reason} for s in self.skipped],
        }


def _hardware(h: dict[str, Any]) -> str:
    gpu = f" ({h['gpu']})" if h.get("gpu") else ""
    return (f"{h.get('platform')}, {h.get('cpu_count')} CPUs, {h.get('torch_threads')} torch thread(s), "
            f"device {h.get('device')}{gpu}")


def provenance(records: list[Record]) -> dict[str, dict[str, int]]:
    """How many records came from each equibench version (and commit), profile and hardware."""
    def count(values: list[str]) -> dict[str, int]:
        return dict(sorted(Counter(values).items()))

    return {
        "equibench": count([f"{r.data['versions']['equibench']} (commit {r.data['versions'].get('git_commit')})"
                            for r in records]),
        "profile": count([r.data["profile"] for r in records]),
        "hardware": count([_hardware(r.data["hardware"]) for r in records]),
    }


def make_board(records: list[Record], skipped: list[Skipped], command: str) -> Board:
    rows = aggregate(records)
    by_dataset = {d: [r for r in rows if r.dataset == d] for d in sorted({r.dataset for r in rows})}
    tables = {metric: {d: table_rows(held, table) for d, held in by_dataset.items() if table.applies(held)}
              for metric, table in TABLES.items()}
    return Board(rows, tables, provenance(records), len(records), skipped, command)
