"""The leaderboard's text, once, as blocks: README.md and index.html render the same blocks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from equibench.leaderboard.board import Board
from equibench.leaderboard.ranking import RULE, TABLES
from equibench.leaderboard.stats import METHOD
from equibench.leaderboard.tables import (
    WARNED, Markup, common_datasets, dataset_table, has_ood, ood_table, summary_table,
)

SCATTER_PNG = "plots/scatter.png"


def curves_png(dataset: str) -> str:
    return f"plots/curves-{dataset}.png"


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Items:
    lines: list[str]


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Table:
    rendered: str  # already in the output's markup


@dataclass(frozen=True)
class Image:
    src: str
    alt: str


Block = Heading | Para | Items | Code | Table | Image


def _about(board: Board) -> list[Block]:
    where = [f"{kind} {value}: {n} records" for kind, counts in board.provenance.items()
             for value, n in counts.items()]
    notes = [
        f"Intervals: {METHOD}.",
        f"Ranks: {RULE}.",
        "Ranked by h1_orbit: the operator's prediction rho(k) f(x) retrieves f(g^k x) among the N views of "
        "the same image (H@1; chance 1/N). A code that is nearly invariant, or confuses g with g h, can have a "
        "tiny commutativity error and still fail here; h1_all retrieves among every test view.",
        "commutativity, commutativity_fitted and invariance are normalised errors (lower is more "
        "equivariant, resp. invariant); transform_accuracy and transform_r2 read the transformation off a "
        "pair of codes; probe_accuracy (higher keeps more of the label) and log_likelihood (nats per frame, "
        "where the model has one) show what the code keeps.",
        "A model that declares no operator is not in the declared table, unless the harness imposes one on "
        "it (the VAE under Roll, as the TVAE paper scores it): then it appears there as its own row, marked "
        "imposed. The fitted-operator table holds every model.",
        "pixels, pca and random-mlp are calibration rows: shown under each table to read the learned rows "
        "against, never ranked.",
        f"{WARNED}n/m: n of the row's m seeds carry warnings derived from their metrics, listed under the "
        "dataset's tables.",
    ]
    if board.skipped:
        notes.append(f"{len(board.skipped)} file(s) in the results folder were skipped; "
                     "leaderboard.json lists them with the reason.")
    return [
        Para(f"Built by equibench from {board.records} result records, each row linking the records it "
             "comes from. Generated: do not edit by hand; regenerate with"),
        Code(board.command),
        Para("The numbers come from:"), Items(where),
        Items(notes),
    ]


def document(board: Board, markup: Markup, base: Path) -> list[Block]:
    """Every block of the leaderboard, tables rendered in ``markup``, links relative to ``base``."""
    blocks: list[Block] = [Heading(1, "equibench leaderboard"), *_about(board), Heading(2, "Summary across datasets")]
    for metric, table in TABLES.items():
        if any(board.tables[metric].values()):
            common = common_datasets(board.tables[metric])
            blocks += [Heading(3, f"{metric} ({table.title})"),
                       Para("mean over seeds (rank in that dataset); last column: mean rank over the "
                            f"{len(common)} datasets on which every ranked model has a rank "
                            f"({', '.join(common) or 'none'})"),
                       Table(summary_table(board.tables[metric], metric, markup))]
    for dataset in board.datasets:
        rows = [r for r in board.rows if r.dataset == dataset]
        blocks += [Heading(2, dataset), Para(f"{rows[0].transformation}; profile {rows[0].profile}")]
        for metric, table in TABLES.items():
            if dataset not in board.tables[metric]:  # a table for some datasets only (the 3DIEBench protocol)
                continue
            ranked = board.tables[metric][dataset]
            blocks += [Heading(3, f"Ranked by {metric} ({table.title})")]
            blocks += [Table(dataset_table(ranked, table, markup, base))] if ranked else [Para("No row has this metric.")]
        if has_ood(rows):
            blocks += [Heading(3, f"In distribution against out of distribution on {dataset}"),
                       Para("each score on test (views whose elements lie in the training range) / the same "
                            "score on test_ood (views beyond it: the card's [views.ood] table), mean over seeds"),
                       Table(ood_table(rows, markup))]
        warned = [f"{r.label}, {w}" for r in rows for w in r.warnings]
        if warned:
            blocks += [Heading(3, f"Warnings on {dataset}"), Items(warned)]
        if any(r.curves for r in rows):  # a view dataset has no per-k curves
            blocks.append(Image(curves_png(dataset), f"per-k curves on {dataset}"))
    blocks += [
        Heading(2, "Commutativity against probe accuracy"),
        Para("Each point is one row (colour: model, marker: dataset; bars: 95% intervals). An encoder "
             "low on both axes is equivariant only because it keeps little of the image."),
        Image(SCATTER_PNG, "commutativity against probe accuracy"),
    ]
    return blocks
