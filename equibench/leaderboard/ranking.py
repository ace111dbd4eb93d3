"""Ranks that do not claim more than the seeds show: rows whose intervals overlap may share a rank.

A row's rank is 1 + the number of rows whose whole 95% interval lies beyond its own on the better
side, so two rows get different ranks only where one is better beyond doubt; a rank shared by
several rows is a tie and is marked ``=``. A single-seed row's interval is its mean. Scores are of
order 1, so intervals closer than ``RESOLUTION`` count as overlapping: a deterministic encoder has
an interval of width zero, and 5e-13 against 6e-13 is no ranking.

Each table ranks the learned models only; the reference encoders (``calibration`` rows) follow in
a block of their own, unranked, to read the learned rows against.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from equibench.leaderboard.aggregate import Row

RESOLUTION = 1e-6
RULE = ("rank = 1 + the number of rows whose whole 95% interval is better than this row's by more than "
        f"{RESOLUTION:g}; rows sharing a rank are tied, marked '='; calibration rows (reference encoders) "
        "are not ranked")
IMPOSED = {"_roll": "Roll"}  # operators the harness imposes on models with capsules that declare none


@dataclass(frozen=True)
class Ranking:
    """One table: the metric it ranks by, whether higher is better, and which rows it holds; a
    table with ``only_where`` exists only on the datasets where some row has that metric."""

    metric: str
    higher_is_better: bool
    title: str
    columns: tuple[str, ...]
    only_where: str | None = None

    def applies(self, rows: list[Row]) -> bool:
        return self.only_where is None or any(r.metrics.get(self.only_where) is not None for r in rows)


TABLES = {
    "h1_orbit": Ranking("h1_orbit", True, "declared operator (imposed where marked)",
                        ("h1_orbit", "mrr_orbit", "h1_all", "commutativity", "invariance", "transform_accuracy",
                         "transform_r2", "probe_accuracy", "log_likelihood")),
    "h1_orbit_fitted": Ranking("h1_orbit_fitted", True, "fitted linear operator, every model",
                               ("h1_orbit_fitted", "mrr_orbit_fitted", "h1_all_fitted", "commutativity_fitted",
                                "invariance", "transform_accuracy", "transform_r2", "probe_accuracy",
                                "log_likelihood")),
    # ranked by the per-dimension R²: SIE's pooled R² (one grand mean) credits a constant predictor of
    # the canonical quaternion (w >= 0 has a mean far from x, y, z's) with about 0.24 (docs/shapes3d.md)
    "transform_r2_dims": Ranking("transform_r2_dims", True,
                                 "the 3DIEBench protocol (SIE): rotation view datasets, every model, ranked by the "
                                 "per-dimension R² (0 for a constant prediction; the pooled R², SIE's, beside it)",
                                 ("transform_r2_dims", "transform_r2", "mrr_orbit", "h1_orbit", "h5_orbit",
                                  "pre_orbit", "probe_accuracy", "probe_accuracy_invariant", "invariance"),
                                 only_where="pre_orbit_fitted"),
}


@dataclass(frozen=True)
class Ranked:
    """A row's place in one table: ``rank`` None where the row lacks the metric (a collapsed code)
    or is a calibration row."""

    row: Row
    rank: int | None
    tied: bool

    @property
    def text(self) -> str:
        if self.row.calibration:
            return "cal."
        return "–" if self.rank is None else f"{self.rank}{'=' if self.tied else ''}"


def rank(rows: list[Row], metric: str, higher_is_better: bool = False) -> list[Ranked]:
    """Rank ``rows`` (of one dataset) by ``metric``; the rows without it follow, unranked."""
    scored = [r for r in rows if r.metrics[metric] is not None]

    def beats(o: Row, r: Row) -> bool:
        (o_lo, o_hi), (r_lo, r_hi) = o.metrics[metric].bounds, r.metrics[metric].bounds
        return o_lo > r_hi + RESOLUTION if higher_is_better else o_hi + RESOLUTION < r_lo

    ranks = [1 + sum(beats(o, r) for o in scored) for r in scored]
    counts = Counter(ranks)
    sign = -1 if higher_is_better else 1
    ranked = sorted((Ranked(r, k, counts[k] > 1) for r, k in zip(scored, ranks)),
                    key=lambda x: (x.rank, sign * x.row.metrics[metric].mean, x.row.label))
    return ranked + [Ranked(r, None, False) for r in rows if r.metrics[metric] is None]


def table_rows(rows: list[Row], table: Ranking) -> list[Ranked]:
    """The rows of ``table`` for one dataset: the learned models ranked, then the calibration rows.

    In the declared table a model that declares no operator but is scored under one the harness
    imposes (the VAE under Roll) appears as its own row, marked imposed; a model with neither is
    left out. The fitted table holds every model."""
    if table.metric == "h1_orbit":
        shown = []
        for r in rows:
            if r.metrics["h1_orbit"] is not None:
                shown.append(r)
            shown += [r.imposed_view(s, name) for s, name in IMPOSED.items()
                      if r.metrics["h1_orbit"] is None and r.metrics.get(f"h1_orbit{s}") is not None]
        rows = shown
    learned = rank([r for r in rows if not r.calibration], table.metric, table.higher_is_better)
    return learned + [Ranked(r, None, False) for r in rows if r.calibration]
