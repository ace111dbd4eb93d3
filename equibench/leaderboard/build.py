"""``equibench leaderboard``: records in, README.md + leaderboard.json + index.html + plots/ out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from equibench.atomic import atomic_path
from equibench.errors import ConfigError
from equibench.leaderboard.aggregate import Row
from equibench.leaderboard.board import make_board
from equibench.leaderboard.document import SCATTER_PNG, curves_png, document
from equibench.leaderboard.plots import colours, curves_figure, scatter_figure
from equibench.records import Skipped, read_records
from equibench.leaderboard.render import to_html, to_markdown
from equibench.leaderboard.tables import HTML, MARKDOWN


@dataclass(frozen=True)
class Built:
    """What was built: rows, how many records fed them, the files skipped and the files written."""

    rows: list[Row]
    records: int
    skipped: list[Skipped]
    written: list[Path]


def _write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def _write_png(path: Path, fig: Figure) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})  # the same bytes each time
    return path


def build_leaderboard(results: Path, out: Path) -> Built:
    """Build the leaderboard of the records in ``results`` into ``out``; stale plots are removed."""
    records, skipped = read_records(results)
    if not records:
        raise ConfigError(f"no usable records in {results} ({len(skipped)} file(s) skipped); "
                          f"run 'equibench sweep --out {results}' first")
    board = make_board(records, skipped, f"equibench leaderboard --results {results} --out {out}")
    colour = colours(board.rows)
    per_dataset = {d: [r for r in board.rows if r.dataset == d] for d in board.datasets}
    written = [_write_png(out / curves_png(d), curves_figure(d, rows, colour))
               for d, rows in per_dataset.items() if any(r.curves for r in rows)]  # view datasets have none
    written.append(_write_png(out / SCATTER_PNG, scatter_figure(board.rows, colour)))
    for stale in set((out / "plots").glob("*.png")) - set(written):
        stale.unlink()
    written += [
        _write_text(out / "README.md", to_markdown(document(board, MARKDOWN, out))),
        _write_text(out / "index.html", to_html(document(board, HTML, out), "equibench leaderboard")),
        _write_text(out / "leaderboard.json", json.dumps(board.to_json(out), indent=2) + "\n"),
    ]
    return Built(board.rows, len(records), skipped, written)
