"""The cells of a sweep, each planned without training, and the check that skips finished ones.

A cell is one ``equibench run``. Planning resolves its config hash (which needs the dataset's
content hash, so the dataset is generated into the cache here, once, before any worker starts);
a cell whose plan fails (a plugin that does not import, a config it rejects) fails on its own
and does not stop the sweep.
"""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass
from pathlib import Path

from equibench.errors import EquibenchError
from equibench.metrics.suite import METRIC_VERSION
from equibench.runs.runner import RunRequest, plan


@dataclass(frozen=True)
class Cell:
    """One (model, dataset, seed, profile) of the cross product."""

    model: str
    dataset: str  # a dataset id or a card's .toml path, as given
    seed: int
    profile: str

    @property
    def dataset_id(self) -> str:
        return Path(self.dataset).name.removesuffix(".toml")

    @property
    def label(self) -> str:
        return f"{self.model} on {self.dataset_id} seed {self.seed}"

    @property
    def log_name(self) -> str:
        """One log per cell, rewritten by each attempt, so a failure's log is the latest one."""
        return f"{self.model}__{self.dataset_id}__{self.profile}__seed{self.seed}.log"


@dataclass(frozen=True)
class Planned:
    """A cell and what its record must be, or why it could not be planned (with the details, for
    its log). Only names and hashes are kept: the datasets loaded while planning are let go."""

    cell: Cell
    record: Path | None  # where its record goes; None when planning failed
    key: tuple[str, str, int, str] | None = None  # (config hash, dataset hash, seed, plugin version) the record must name
    error: str = ""
    details: str = ""


def plan_cell(cell: Cell, request: RunRequest) -> Planned:
    """Plan ``cell`` from its ``request``; a bad plugin is that cell's failure, never an exception."""
    try:
        p = plan(request)
    except EquibenchError as exc:
        return Planned(cell, None, error=str(exc), details=str(exc))
    except Exception as exc:  # a plugin's default_config() crashing is that cell's failure only
        return Planned(cell, None, error=f"{type(exc).__name__}: {exc}", details=traceback.format_exc())
    return Planned(cell, p.record_path, (p.config_hash, p.data.content_hash, request.seed, str(p.model.cls.version)))


def is_done(p: Planned) -> bool:
    """True when the cell's record exists, parses, names the same config, dataset, seed and plugin
    version (``versions.plugin``, "0" where a record predates it) and was scored by this metric
    version (an older record is scored again, its file replaced)."""
    if p.record is None:
        return False
    try:
        record = json.loads(p.record.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict):
        return False
    versions = record.get("versions")
    plugin = versions.get("plugin", "0") if isinstance(versions, dict) else None
    return (record.get("config_hash"), record.get("dataset_hash"), record.get("seed"), plugin,
            record.get("metric_version")) == (*p.key, METRIC_VERSION)
