"""One cell in motion: the run of ``equibench run`` in a process of its own whose output is the cell's log.

A process per cell, rather than a pool of long-lived workers, because then a crash, an
out-of-memory kill or a hung plugin costs that cell only, its log is on disk while it runs
(``tail -f`` it), and stopping the sweep stops exactly the processes it started. The process
is forked from a server that has already imported torch, equibench and the sweep's plugins
(multiprocessing's forkserver), so a cell starts in milliseconds, not in an interpreter start.
"""

from __future__ import annotations

import multiprocessing
import os
import shlex
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path

from equibench.errors import exit_status
from equibench.runs.runner import RunRequest, default_cache_dir, run
from equibench.sweep.cells import Cell, Planned

CORE_MODULES = ["equibench.runs.runner"]
STOP_S = 10.0


@dataclass(frozen=True)
class CellOptions:
    """What every cell of a sweep shares, handed on to ``equibench run``."""

    cache_dir: Path | None = None  # None: the cell's default ($EQUIBENCH_CACHE, ...), right on any node
    data_root: Path | None = None
    device: str = "auto"


@dataclass(frozen=True)
class Outcome:
    """How a cell ended: ``reason`` is the one line that says why it failed ('' when it did not)."""

    cell: Cell
    ok: bool
    reason: str
    seconds: float


def available_cpus() -> int:
    """CPUs this process may use (its affinity mask where the OS has one, as containers set it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cell_request(cell: Cell, out_dir: Path, options: CellOptions) -> RunRequest:
    """The run of ``cell``, as ``equibench run`` with :func:`run_args` would ask for it. Called where
    the cell runs, so that an unset cache is that node's default."""
    return RunRequest(model=cell.model, dataset=cell.dataset, seed=cell.seed, profile=cell.profile,
                      out_dir=out_dir, cache_dir=options.cache_dir or default_cache_dir(),
                      data_root=options.data_root, device=options.device)


def run_args(cell: Cell, out_dir: Path, options: CellOptions) -> list[str]:
    """The ``equibench run`` arguments of ``cell``; its log shows them, to rerun it by hand."""
    args = ["run", "--model", cell.model, "--dataset", cell.dataset, "--seed", str(cell.seed),
            "--profile", cell.profile, "--out", str(out_dir), "--device", options.device]
    if options.cache_dir is not None:
        args += ["--cache-dir", str(options.cache_dir)]
    if options.data_root is not None:
        args += ["--data-root", str(options.data_root)]
    return args


def failure_reason(output: str, exitcode: int) -> str:
    """The CLI's one-line error if it printed one, else the last line (a traceback's exception)."""
    if exitcode < 0:
        return f"killed by signal {signal.Signals(-exitcode).name}"
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line.removeprefix("equibench: error: ") for line in lines if line.startswith("equibench: error: ")]
    return (errors or lines or [f"exit status {exitcode}"])[-1]


def raise_interrupt(signum: int, frame: object) -> None:
    """A SIGTERM handler: stop as Ctrl-C does, through every ``finally`` (temporary files removed)."""
    raise KeyboardInterrupt


def _cell_main(cell: Cell, out_dir: Path, options: CellOptions, log: Path, threads: int) -> None:
    """The cell's process: output to its log, its share of the threads, then the run, its errors
    reported as ``equibench run`` reports them."""
    import torch
    from threadpoolctl import threadpool_limits

    signal.signal(signal.SIGTERM, raise_interrupt)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout.reconfigure(line_buffering=True)  # the log reads in order, and live
    # BLAS and OpenMP were loaded by the forkserver with whatever thread counts its environment
    # gave (Ray sets its own), so limit them here: the same share, hence the same floating-point
    # reductions and the same numbers, whichever executor started the cell.
    torch.set_num_threads(threads)
    with threadpool_limits(limits=threads):
        raise SystemExit(exit_status(lambda: _run_cell(cell_request(cell, out_dir, options))))


def _run_cell(request: RunRequest) -> int:
    print(f"record: {run(request)}")
    return 0


def context(plugin_modules: Iterable[str] = ()) -> BaseContext:
    """The forkserver (where the OS has one; spawn elsewhere), preloading core and plugin modules.

    Only modules that imported in this process belong in ``plugin_modules``: the server skips
    a module that fails with ImportError but would die on any other error.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(CORE_MODULES + sorted(set(plugin_modules)))
    return ctx


@dataclass
class Running:
    """A started cell: its process and the log it writes."""

    cell: Cell
    proc: BaseProcess
    log: Path
    started: float

    def outcome(self) -> Outcome | None:
        """The outcome once the process has exited, else None (does not block)."""
        if self.proc.exitcode is None:
            return None
        seconds = round(time.perf_counter() - self.started, 1)
        if self.proc.exitcode == 0:
            return Outcome(self.cell, True, "", seconds)
        output = self.log.read_text(errors="replace").split("\n", 1)[-1]  # below the "$ command" line
        return Outcome(self.cell, False, failure_reason(output, self.proc.exitcode), seconds)

    def stop(self) -> None:
        """Stop the cell (SIGTERM, then SIGKILL after ``STOP_S``); a record is written atomically,
        so it is there whole or not at all."""
        if self.proc.exitcode is None:
            self.proc.terminate()
            self.proc.join(STOP_S)
        if self.proc.exitcode is None:
            self.proc.kill()
        self.proc.join()


def start(ctx: BaseContext, cell: Cell, out_dir: Path, log: Path, options: CellOptions, threads: int) -> Running:
    """Start ``cell`` with ``threads`` CPU threads, its output going to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"$ {shlex.join(['equibench', *run_args(cell, out_dir, options)])}  # with {threads} thread(s)\n")
    proc = ctx.Process(target=_cell_main, args=(cell, out_dir, options, log, threads),
                       name=f"equibench {cell.label}")
    proc.start()
    return Running(cell, proc, log, time.perf_counter())


def unplanned(p: Planned, log: Path) -> Outcome:
    """The outcome of a cell that failed while being planned; the log gets the details."""
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"planning {p.cell.label} failed:\n{p.details}\n")
    return Outcome(p.cell, False, p.error, 0.0)
