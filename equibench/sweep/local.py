"""The local executor: at most ``jobs`` cells at once on this machine, each with its share of the CPUs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from equibench.models.registry import available_models
from equibench.sweep.cells import Cell
from equibench.sweep.execute import CellOptions, Outcome, available_cpus, context, start

POLL_S = 0.2


def run_local(cells: list[Cell], out_dir: Path, options: CellOptions, jobs: int,
              on_start: Callable[[Cell], None]) -> Iterator[Outcome]:
    """Yield each cell's outcome as it ends; leaving early (an interrupt) stops the running cells.

    Each cell gets ``cpus // jobs`` threads, so ``jobs`` cells together use the machine once.
    Records go into ``out_dir`` and logs into ``out_dir/logs``.
    """
    threads = max(1, available_cpus() // jobs)
    ctx = context(available_models()[c.model].module for c in cells)  # they imported while planning
    waiting, running = list(reversed(cells)), []
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                cell = waiting.pop()
                running.append(start(ctx, cell, out_dir, out_dir / "logs" / cell.log_name, options, threads))
                on_start(cell)
            time.sleep(POLL_S)
            for r in list(running):
                if (outcome := r.outcome()) is not None:
                    running.remove(r)
                    yield outcome
    finally:
        for r in running:
            r.stop()
