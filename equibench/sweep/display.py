"""The sweep's one progress display: cells done, running and failed, with the ETA."""

from __future__ import annotations

from equibench.progress import counter
from equibench.sweep.cells import Cell
from equibench.sweep.execute import Outcome


class SweepDisplay:
    """One bar for the whole sweep (on a terminal), and one line per finished cell (always)."""

    def __init__(self, total: int) -> None:
        self.bar = counter("sweep", total, unit="cell")
        self.running: set[Cell] = set()
        self.failed = 0
        self._refresh()

    def started(self, cell: Cell) -> None:
        self.running.add(cell)
        self._refresh()

    def finished(self, outcome: Outcome) -> None:
        self.running.discard(outcome.cell)
        self.failed += not outcome.ok
        tail = f" ({outcome.seconds:.1f} s)" + ("" if outcome.ok else f": {outcome.reason}")
        self.bar.write(f"{'ok' if outcome.ok else 'FAILED':6s} {outcome.cell.label}{tail}")
        self.bar.update(1)
        self._refresh()

    def close(self) -> None:
        self.bar.close()

    def _refresh(self) -> None:
        self.bar.set_postfix_str(f"running {len(self.running)}, failed {self.failed}")
