"""A sweep: the cross product models x datasets x seeds, resumable and tolerant of failing cells.

Every cell is planned first (config hash, record path); a cell whose record already exists is
skipped, so rerunning an interrupted sweep does only what is left. The rest run on an executor;
a failing cell is reported at the end and does not stop the others.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from equibench.data.cards import load_card
from equibench.errors import ConfigError, PluginError
from equibench.models.registry import load_model_class
from equibench.progress import progress
from equibench.runs.config import check_profile
from equibench.atomic import check_writable
from equibench.runs.runner import default_cache_dir, resolve_device
from equibench.sweep.cells import Cell, is_done, plan_cell
from equibench.sweep.display import SweepDisplay
from equibench.sweep.execute import CellOptions, Outcome, cell_request, raise_interrupt, unplanned
from equibench.sweep.local import run_local
from equibench.sweep.ray_executor import run_ray

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class SweepRequest:
    """Everything ``equibench sweep`` was asked to do."""

    models: tuple[str, ...]
    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    profile: str = "quick"
    jobs: int = 1
    out_dir: Path = Path("results")
    executor: str = "local"
    address: str | None = None
    options: CellOptions = field(default_factory=CellOptions)

    @property
    def log_dir(self) -> Path:
        return self.out_dir / "logs"


@dataclass
class SweepReport:
    """What a sweep did: cells skipped as already done, and the outcome of each cell it ran."""

    cells: list[Cell]
    skipped: list[Cell]
    outcomes: list[Outcome]
    wall_s: float
    interrupted: bool

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


def _check(req: SweepRequest) -> None:
    """One-line errors for bad input, before any work (a plugin that fails to import is not one:
    that fails its own cells only)."""
    if not (req.models and req.datasets and req.seeds):
        raise ConfigError("a sweep needs at least one model, one dataset and one seed")
    if req.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {req.jobs}")
    if req.executor not in EXECUTORS:
        raise ConfigError(f"unknown --executor {req.executor!r}; use one of: {', '.join(EXECUTORS)}")
    if req.address is not None and req.executor != "ray":
        raise ConfigError("--address names a Ray cluster; use it with --executor ray")
    check_profile(req.profile)
    for model in req.models:
        try:
            load_model_class(model)
        except PluginError:
            pass
    for dataset in req.datasets:
        load_card(dataset)
    if req.executor == "local":
        resolve_device(req.options.device)
    check_writable(req.out_dir, "--out")
    check_writable(req.options.cache_dir or default_cache_dir(), "--cache-dir")  # planning generates datasets


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Make ``kill PID`` stop the sweep as Ctrl-C does: running cells stopped, records intact."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_sweep(req: SweepRequest) -> SweepReport:
    """Plan every cell, skip those already done, run the rest; never raises for a failing cell."""
    started = time.perf_counter()
    _check(req)
    cells = [Cell(m, d, s, req.profile) for m in req.models for d in req.datasets for s in req.seeds]
    local = replace(req.options, cache_dir=req.options.cache_dir or default_cache_dir())
    # planned on the CPU: the device is no part of the config hash
    planned = [plan_cell(c, replace(cell_request(c, req.out_dir, local), device="cpu"))
               for c in progress(cells, desc="planning", leave=False)]
    failed_early = [unplanned(p, req.log_dir / p.cell.log_name) for p in planned if p.record is None]
    done = {p.cell for p in planned if is_done(p)}
    skipped = [p.cell for p in planned if p.cell in done]
    todo = [p.cell for p in planned if p.record is not None and p.cell not in done]

    if req.executor == "local":  # cells use the cache planned with; a Ray node keeps its own default
        execute, options = run_local, local
    else:
        execute, options = partial(run_ray, address=req.address), req.options
    display = SweepDisplay(len(todo) + len(failed_early))
    outcomes, interrupted = list(failed_early), False
    try:
        for outcome in failed_early:
            display.finished(outcome)
        with _sigterm_as_interrupt():
            for outcome in execute(todo, req.out_dir, options, req.jobs, display.started):
                outcomes.append(outcome)
                display.finished(outcome)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        display.close()
    return SweepReport(cells, skipped, outcomes, round(time.perf_counter() - started, 1), interrupted)
