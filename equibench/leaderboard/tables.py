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
from equibench.leaderboard.ranking import Ranked
from equibench.leaderboard.stats import Interval

METRIC_COLUMNS = ["commutativity", "commutativity_fitted", "invariance", "probe_accuracy", "log_likelihood"]
HEADERS = ["rank", "model", *METRIC_COLUMNS, "supervision", "seeds (records)"]


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
    return row.label + (f" (collapsed {row.collapsed}/{len(row.seeds)})" if row.collapsed else "")


def dataset_table(ranked: list[Ranked], markup: Markup, base: Path) -> str:
    """One dataset's table in one ranking; each row links the records it was built from."""
    body = [
        [x.text, markup.text(_model_cell(x.row)),
         *(fmt_interval(x.row.metrics[m], len(x.row.seeds)) for m in METRIC_COLUMNS),
         markup.text(x.row.supervision),
         " ".join(markup.link(str(s), relative_link(p, base)) for s, p in zip(x.row.seeds, x.row.records))]
        for x in ranked
    ]
    return tabulate(body, HEADERS, tablefmt=markup.tablefmt, disable_numparse=True)


def summary_table(by_dataset: dict[str, list[Ranked]], metric: str, markup: Markup) -> str:
    """Labels x datasets: ``mean (rank)`` of ``metric`` in each, and the mean rank over datasets
    (the rows sorted by it)."""
    labels = sorted({x.row.label for ranked in by_dataset.values() for x in ranked})
    lines = []
    for label in labels:
        cells, ranks = [], []
        for ranked in by_dataset.values():
            x = next((x for x in ranked if x.row.label == label), None)
            value = x and x.row.metrics[metric]
            cells.append("–" if value is None else f"{value.mean:.3g} ({x.text})")
            ranks += [x.rank] if x is not None and x.rank is not None else []
        mean_rank = sum(ranks) / len(ranks) if ranks else math.inf
        lines.append((mean_rank, label, cells))
    body = [[markup.text(label), *cells, "–" if math.isinf(r) else f"{r:.2f}"] for r, label, cells in sorted(lines)]
    return tabulate(body, ["model", *by_dataset, "mean rank"], tablefmt=markup.tablefmt, disable_numparse=True)
