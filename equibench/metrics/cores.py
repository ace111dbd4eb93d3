"""How the suite uses the run's cores: BLAS on one thread, and independent parts side by side.

Scoring a code is a set of chains that share nothing but their inputs and a few fitted things
(:class:`Shared`: the principal axes of the ``fit`` codes, the whitened codes, each fitted
operator): what calls plugin code (the declared operators' scores, the Lie derivatives), the heads
(standardiser, R² heads, class probes), each fitted operator on each test split, the invariance and
the participation ratio (``suite._scored``). Most of their work is one-thread work: linear algebra
held at one BLAS thread (:func:`one_thread`), and Python loops of small products. One after the
other they left one of two cores idle for most of a record; side by side (:func:`side_by_side`)
they fill both (docs/metrics.md, "Side by side (metric version 6)").

The numbers do not depend on which chain runs where or when:
- every chain draws its random numbers from its own seeded generators, never a global one;
- BLAS stays at one thread for the whole section: threadpoolctl's limits are process-wide on this
  OpenBLAS, so a limit that one chain lifted at the end of its fit would reach the other's calls;
- each chain sets torch's thread count in its own thread, half the run's, before any work; a run of
  one thread (a ``--jobs 2`` sweep's cell on 2 cores) runs the chains one after the other on it;
- what two chains both need is computed once, by the first to ask (:class:`Shared`).
They do depend on the run's thread count where torch's own products do (a run of 4 threads gives
each chain 2): tested here for 2 threads against 1, which give the same bits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
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
    """A value computed by the first chain that asks for it; a chain that asks meanwhile waits, and
    every later one gets the same value (a computation that raised is tried again by the next)."""

    def __init__(self, compute: Callable[[], T]) -> None:
        self._compute, self._lock, self._values = compute, threading.Lock(), []

    def get(self) -> T:
        with self._lock:
            if not self._values:
                self._values.append(self._compute())
            return self._values[0]


def side_by_side(tasks: list[Callable[[], T]]) -> list[T]:
    """Each task's result, in order, computed with BLAS on one thread; tasks run two at a time, in
    the order given, where the run has two threads or more, else one after the other. The first
    task to raise, in the order given, raises here: one after the other, before any later task
    runs; side by side, once the tasks running have ended, those still queued cancelled (an
    interrupt, too, waits only for the running ones). Every task before it ran, so which one
    raises does not depend on the timing."""
    threads = torch.get_num_threads()
    if threads < 2:
        with one_thread():
            return [task() for task in tasks]

    def on_half(task: Callable[[], T]) -> T:
        torch.set_num_threads(threads // 2)
        return task()

    pool = ThreadPoolExecutor(2)
    try:
        with one_thread():
            futures = [pool.submit(on_half, task) for task in tasks]
            wait(futures, return_when=FIRST_EXCEPTION)
            pool.shutdown(wait=True, cancel_futures=True)  # a failure: the queued tasks never start
        return [future.result() for future in futures]  # the first failure in order (those before it ran)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(threads)
