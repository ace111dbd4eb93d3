"""The Ray executor: the same cells as Ray tasks, on an existing cluster or a local Ray instance.

Each task runs its cell exactly as the local executor does (``equibench run`` in a process of
its own, in a scratch folder on whichever node Ray picks) and sends back the record, its
figures and its log; the driver writes them into ``--out``. So ``--out`` needs no shared
storage, and the records are those the local executor writes. The nodes need equibench and its
plugins installed (the same versions), as for any Ray job.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from equibench.atomic import atomic_path
from equibench.errors import ConfigError
from equibench.sweep.cells import Cell
from equibench.sweep.execute import CellOptions, Outcome, available_cpus, context, start


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'equibench[ray]'") from None
    return ray


def _connect(ray: Any, address: str | None) -> None:
    """Join the cluster at ``address`` (else at ``$RAY_ADDRESS``, as Ray does), or start a local instance."""
    address = address or os.environ.get("RAY_ADDRESS")
    try:
        if address is None:
            ray.init(num_cpus=available_cpus(), include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
        else:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"cannot start or reach Ray at {address or 'a local instance'} ({exc}); "
                          "check --address") from None


def _threads(ray: Any, jobs: int) -> int:
    """The cluster's CPUs shared by ``jobs`` cells, but no more than the largest node has."""
    largest = max(node["Resources"].get("CPU", 1) for node in ray.nodes() if node["Alive"])
    return max(1, min(int(largest), int(ray.cluster_resources().get("CPU", 1)) // jobs))


def task_resources(device: str, threads: int, cluster_gpus: float) -> dict[str, int]:
    """What one cell asks Ray for: its CPU threads, and one GPU when it runs with ``--device cuda``
    (so that Ray places it on a GPU node and no two cells share a GPU). ``--device auto`` asks
    for none: Ray would place it anywhere, and it uses a GPU only where its node happens to have one."""
    gpus = 1 if device.split(":")[0] == "cuda" else 0
    if gpus > cluster_gpus:
        raise ConfigError("--device cuda, but the Ray cluster has no GPU (a cell would wait forever); "
                          "use --device cpu or a cluster with GPU nodes")
    return {"num_cpus": threads, "num_gpus": gpus}


def run_cell_remote(cell: Cell, options: CellOptions, threads: int) -> tuple[Outcome, dict[str, bytes], str]:
    """A Ray task: run ``cell`` in a scratch folder and return its outcome, files and log."""
    with tempfile.TemporaryDirectory(prefix="equibench-cell-") as tmp:
        out, log = Path(tmp) / "out", Path(tmp) / "cell.log"
        running = start(context(), cell, out, log, options, threads)
        try:
            running.proc.join()
        finally:  # a cancelled task stops its child too
            running.stop()
        outcome = running.outcome()
        files = {p.name: p.read_bytes() for p in out.glob("*") if p.is_file() and not p.name.startswith(".")}
        return outcome, files, log.read_text(errors="replace")


def _save(out_dir: Path, cell: Cell, files: dict[str, bytes], log: str) -> None:
    """Write what a task sent back, the record last: a record on disk always has its figures."""
    for name in sorted(files, key=lambda n: n.endswith(".json")):
        with atomic_path(out_dir / name) as tmp:
            tmp.write_bytes(files[name])
    (out_dir / "logs").mkdir(parents=True, exist_ok=True)
    (out_dir / "logs" / cell.log_name).write_text(log)


def run_ray(cells: list[Cell], out_dir: Path, options: CellOptions, jobs: int,
            on_start: Callable[[Cell], None], address: str | None = None) -> Iterator[Outcome]:
    """Yield each cell's outcome as its task ends, at most ``jobs`` tasks in flight."""
    ray = _ray()
    owned = not ray.is_initialized()
    if owned:
        _connect(ray, address)
    pending: dict[Any, Cell] = {}
    try:
        threads = _threads(ray, jobs)
        resources = task_resources(options.device, threads, ray.cluster_resources().get("GPU", 0))
        task = ray.remote(run_cell_remote).options(**resources, max_retries=0)
        waiting = list(reversed(cells))
        while waiting or pending:
            while waiting and len(pending) < jobs:
                cell = waiting.pop()
                pending[task.remote(cell, options, threads)] = cell
                on_start(cell)
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            cell = pending.pop(ref)
            try:
                outcome, files, log = ray.get(ref)
            except ray.exceptions.RayError as exc:  # the worker died (out of memory, node lost)
                outcome, files, log = Outcome(cell, False, f"Ray task failed: {type(exc).__name__}", 0.0), {}, str(exc)
            _save(out_dir, cell, files, log)
            yield outcome
    finally:
        for ref in pending:
            ray.cancel(ref)
        if owned:
            ray.shutdown()
