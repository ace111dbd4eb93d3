"""Ranks that do not claim more than the seeds show: rows whose intervals overlap may share a rank.

A row's rank is 1 + the number of rows whose whole 95% interval lies below its own (lower is
better), so two rows get different ranks only where one is better beyond doubt; a rank shared
by several rows is a tie and is marked ``=``. A single-seed row's interval is its mean. The
errors are normalised (of order 1), so intervals closer than ``RESOLUTION`` count as overlapping:
a deterministic encoder has an interval of width zero, and 5e-13 against 6e-13 is no ranking.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from equibench.leaderboard.aggregate import Row

RESOLUTION = 1e-6
RULE = ("rank = 1 + the number of rows whose whole 95% interval lies below this row's, by more than "
        f"{RESOLUTION:g} (lower error is better); rows sharing a rank are tied, marked '='")

TABLES = {  # ranking metric -> which operator, and which rows it ranks
    "commutativity": "declared operator",
    "commutativity_fitted": "fitted operator, every model",
}


@dataclass(frozen=True)
class Ranked:
    """A row's place in one table: ``rank`` None where the row lacks the metric (a collapsed code)."""

    row: Row
    rank: int | None
    tied: bool

    @property
    def text(self) -> str:
        return "–" if self.rank is None else f"{self.rank}{'=' if self.tied else ''}"


def rank(rows: list[Row], metric: str) -> list[Ranked]:
    """Rank ``rows`` (of one dataset) by ``metric``; the rows without it follow, unranked."""
    scored = [r for r in rows if r.metrics[metric] is not None]
    ranks = [1 + sum(o.metrics[metric].bounds[1] + RESOLUTION < r.metrics[metric].bounds[0] for o in scored)
             for r in scored]
    counts = Counter(ranks)
    ranked = sorted((Ranked(r, k, counts[k] > 1) for r, k in zip(scored, ranks)),
                    key=lambda x: (x.rank, x.row.metrics[metric].mean, x.row.label))
    return ranked + [Ranked(r, None, False) for r in rows if r.metrics[metric] is None]


def table_rows(rows: list[Row], metric: str) -> list[Ranked]:
    """The ranked rows of ``metric``'s table: every row for the fitted operator; for the declared
    one, the rows that have it (a model that declares nothing, or collapsed in every seed, has not)."""
    if metric == "commutativity":
        rows = [r for r in rows if r.metrics[metric] is not None]
    return rank(rows, metric)
