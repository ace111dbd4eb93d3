"""The leaderboard's tables, rendered by tabulate as Markdown (README.md) or HTML (index.html).

Both renderings come from the same rows of strings, so the page and the README cannot disagree;
only the escaping and the links differ, and a :class:`Markup` carries that difference.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from equibench.leaderboard.aggregate import Row, relative_link
from equibench.leaderboard.ranking import Ranked, Ranking
from equibench.leaderboard.stats import Interval

WARNED = "⚠"  # marks a row some of whose records carry warnings (listed under the dataset's tables)


@dataclass(frozen=True)
class Markup:
    """How one output format writes plain text and links, and its tabulate table format."""

    text: Callable[[str], str]
    link: Callable[[str, str], str]
    tablefmt: str


MARKDOWN = Markup(text=lambda s: s.replace("|", "\\|"), link=lambda s, href: f"[{s}]({href})", tablefmt="github")
HTML = Markup(text=html.escape, link=lambda s, href: f'<a href="{html.escape(href)}">{html.escape(s)}</a>',
              tablefmt="unsafehtml")


def fmt_interval(value: Interval | None, seeds: int) -> str:
    """``mean ± half-width`` to 3 significant digits; ``(n=k)`` where fewer seeds than the row has."""
    if value is None:
        return "–"
    text = f"{value.mean:.3g}"
    if value.half_width is not None:
        text += f" ± {value.half_width:.2g}"
    return text + (f" (n={value.n})" if value.n < seeds else "")


def _model_cell(row: Row) -> str:
    warned = len({w.split(":", 1)[0] for w in row.warnings})
    return (row.label + (f" (collapsed {row.collapsed}/{len(row.seeds)})" if row.collapsed else "")
            + (f" {WARNED}{warned}/{len(row.seeds)}" if warned else ""))


def dataset_table(ranked: list[Ranked], table: Ranking, markup: Markup, base: Path) -> str:
    """One dataset's table in one ranking; each row links the records it was built from. The
    calibration rows come last, after a row that says so."""
    body, calibration = [], False
    for x in ranked:
        if x.row.calibration and not calibration:
            calibration = True
            body.append(["", markup.text("calibration (reference encoders, not ranked):"),
                         *([""] * (len(table.columns) + 2))])
        body.append([x.text, markup.text(_model_cell(x.row)),
                     *(fmt_interval(x.row.metrics[m], len(x.row.seeds)) for m in table.columns),
                     markup.text(x.row.supervision),
                     " ".join(markup.link(str(s), relative_link(p, base)) for s, p in zip(x.row.seeds, x.row.records))])
    headers = ["rank", "model", *table.columns, "supervision", "seeds (records)"]
    return tabulate(body, headers, tablefmt=markup.tablefmt, disable_numparse=True)


OOD_COLUMNS = ("h1_orbit", "h1_orbit_fitted", "commutativity", "commutativity_fitted", "invariance", "transform_r2",
               "probe_accuracy")


def has_ood(rows: list[Row]) -> bool:
    """Whether any row was scored on an out-of-distribution split (a view dataset's ``test_ood``)."""
    return any(r.metrics.get(f"{m}_ood") is not None for r in rows for m in OOD_COLUMNS)


def ood_table(rows: list[Row], markup: Markup) -> str:
    """Each row's scores on ``test`` beside the same scores on ``test_ood`` (elements outside the
    training range): ``in / ood`` per metric, unranked, learned rows first."""
    body = []
    for row in sorted(rows, key=lambda r: (r.calibration, r.label)):
        cells = [f"{fmt_interval(row.metrics[m], len(row.seeds))} / {fmt_interval(row.metrics[m + '_ood'], len(row.seeds))}"
                 for m in OOD_COLUMNS]
        body.append([markup.text(_model_cell(row) + (" (cal.)" if row.calibration else "")), *cells])
    return tabulate(body, ["model", *(f"{m} (test / test_ood)" for m in OOD_COLUMNS)], tablefmt=markup.tablefmt,
                    disable_numparse=True)


def common_datasets(by_dataset: dict[str, list[Ranked]]) -> list[str]:
    """The datasets on which every ranked (learned) label of the table has a rank: a mean rank is
    taken over these only, so that no two labels' means come from different sets of datasets."""
    ranked = {d: {x.row.label for x in rows if x.rank is not None} for d, rows in by_dataset.items()}
    labels = set().union(*ranked.values())
    return [d for d, have in ranked.items() if have == labels]


def summary_table(by_dataset: dict[str, list[Ranked]], metric: str, markup: Markup) -> str:
    """Labels x datasets: ``mean (rank)`` of ``metric`` in each, and the mean rank over
    :func:`common_datasets` (learned rows sorted by it, calibration rows last, unranked)."""
    common = common_datasets(by_dataset)
    entries = {(x.row.label, x.row.calibration) for ranked in by_dataset.values() for x in ranked}
    lines = []
    for label, calibration in entries:
        cells, ranks = [], []
        for dataset, ranked in by_dataset.items():
            x = next((x for x in ranked if x.row.label == label), None)
            value = x and x.row.metrics[metric]
            cells.append("–" if value is None else f"{value.mean:.3g} ({x.text})")
            ranks += [x.rank] if dataset in common and x is not None and x.rank is not None else []
        mean_rank = sum(ranks) / len(ranks) if ranks and len(ranks) == len(common) else math.inf
        lines.append((calibration, mean_rank, label, cells))
    body = [[markup.text(label), *cells, "–" if math.isinf(r) else f"{r:.2f}"] for _, r, label, cells in sorted(lines)]
    return tabulate(body, ["model", *by_dataset, f"mean rank ({len(common)} datasets)"], tablefmt=markup.tablefmt,
                    disable_numparse=True)
