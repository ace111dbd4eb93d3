"""Per-stage wall times, as recorded in every result."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class Stopwatch:
    """Collects ``{stage: seconds}``; ``with watch.stage("fit"): ...`` times one stage. A stage timed
    twice adds up, so that the stages account for every second they timed."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def add(self, name: str, seconds: float) -> None:
        """Count ``seconds`` more to the stage ``name`` (rounded to the millisecond, as recorded)."""
        self.seconds[name] = round(self.seconds.get(name, 0.0) + seconds, 3)

    def timed(self, name: str, compute: Callable[[], T]) -> Callable[[], T]:
        """``compute``, timed as the stage ``name`` whenever it is called."""
        def run() -> T:
            with self.stage(name):
                return compute()
        return run
