"""How the suite uses the run's cores: BLAS on one thread, and independent parts side by side.

Scoring a code is three chains that share nothing but their inputs and the principal axes of the
``fit`` codes: the declared operators' scores (with invariance, the Lie derivatives and the
participation ratio), the fitted operators (whitening, maps, their scores) and the heads
(standardiser, R² heads, class probes). Most of their work is one-thread work: linear algebra held
at one BLAS thread (:func:`one_thread`), and Python loops of small products. One after the other
they left one of two cores idle for most of a record; side by side (:func:`side_by_side`) they
fill both (docs/metrics.md, "Scoring cost").

The numbers do not depend on which chain runs where or when:
- every chain draws its random numbers from its own seeded generators, never a global one;
- BLAS stays at one thread for the whole section: threadpoolctl's limits are process-wide on this
  OpenBLAS, so a limit that one chain lifted at the end of its fit would reach the other's calls;
- each chain sets torch's thread count in its own thread, half the run's, before any work; a run of
  one thread (a sweep's cell) runs the chains one after the other on it;
- what two chains both need is computed once, by the first to ask (:class:`Shared`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

import torch
from threadpoolctl import threadpool_limits

T = TypeVar("T")


def one_thread() -> threadpool_limits:
    """BLAS on one thread, for the linear algebra in front of the heads and the probe. Its rounding
    follows the BLAS thread count, and the MLP heads, trained for thousands of steps, amplify that
    rounding: the same pixels scored on 1 and on 2 threads gave ``transform_r2`` 0.938 and 0.921 on
    digits-shift7. On one thread every metric is the same whatever the machine's thread count (the
    board's cells run on one thread each), for a second or so more on raw pixels."""
    return threadpool_limits(limits=1)


class Shared(Generic[T]):
    """A value computed once, by the first chain that asks for it; a chain that asks meanwhile waits."""

    def __init__(self, compute: Callable[[], T]) -> None:
        self._compute, self._lock, self._values = compute, threading.Lock(), []

    def get(self) -> T:
        with self._lock:
            if not self._values:
                self._values.append(self._compute())
            return self._values[0]


def side_by_side(tasks: list[Callable[[], T]]) -> list[T]:
    """Each task's result, in order, computed with BLAS on one thread; tasks run two at a time, in
    the order given, where the run has two threads or more. An exception in a task is raised here
    once every task has ended."""
    threads = torch.get_num_threads()
    if threads < 2:
        with one_thread():
            return [task() for task in tasks]

    def on_half(task: Callable[[], T]) -> T:
        torch.set_num_threads(threads // 2)
        return task()

    try:
        with one_thread(), ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(on_half, task) for task in tasks]
        return [future.result() for future in futures]
    finally:
        torch.set_num_threads(threads)
