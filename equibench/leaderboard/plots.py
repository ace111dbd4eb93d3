"""The leaderboard's plots (matplotlib, no pyplot state): per-k error curves and a scatter.

The scatter puts each row's commutativity against its probe accuracy, so an encoder that wins
on commutativity by keeping nothing of the image (low probe accuracy) stands out at once.
"""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from equibench.leaderboard.aggregate import Row

CURVES = {  # curve -> (title, y label)
    "h1_orbit": ("orbit H@1, declared operator", "H@1 (higher is better)"),
    "h1_orbit_fitted": ("orbit H@1, fitted operator", "H@1 (higher is better)"),
    "commutativity": ("declared operator", "normalised error"),
    "commutativity_fitted": ("fitted operator", "normalised error"),
    "invariance": ("invariance (identity)", "normalised error"),
}
MARKERS = "osD^vP*Xph"


def colours(rows: list[Row]) -> dict[str, str]:
    """One colour per label, the same in every plot."""
    labels = sorted({r.label for r in rows})
    return {label: f"C{i % 10}" for i, label in enumerate(labels)}


def curves_figure(dataset: str, rows: list[Row], colour: dict[str, str]) -> Figure:
    """Each measure against the step k of the group element, one panel per measure, one line per row."""
    names = [n for n in CURVES if any(n in r.curves for r in rows)]
    fig = Figure(figsize=(4.2 * len(names), 3.4), layout="constrained")
    for ax, name in zip(fig.subplots(1, len(names), squeeze=False)[0], names):
        for row in rows:
            per_k = row.curves.get(name)
            if not per_k:
                continue
            k = range(1, len(per_k) + 1)
            ax.plot(k, [v.mean for v in per_k], marker=".", color=colour[row.label], label=row.label)
            if all(v.low is not None for v in per_k):
                ax.fill_between(k, [v.low for v in per_k], [v.high for v in per_k], color=colour[row.label],
                                alpha=0.2, linewidth=0)
        title, ylabel = CURVES[name]
        ax.set(title=f"{dataset}: {title}", xlabel="k (steps of the group element)", ylabel=ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    handles = {line.get_label(): line for ax in fig.axes for line in ax.get_lines()}
    fig.legend(list(handles.values()), list(handles), loc="outside right upper", fontsize="small")
    return fig


def scatter_figure(rows: list[Row], colour: dict[str, str]) -> Figure:
    """Commutativity (declared, fitted) against probe accuracy: colour = model, marker = dataset."""
    datasets = sorted({r.dataset for r in rows})
    fig = Figure(figsize=(11, 4.6), layout="constrained")
    axes = fig.subplots(1, 2, sharex=True)
    for ax, metric in zip(axes, ("commutativity", "commutativity_fitted")):
        for row in rows:
            x, y = row.metrics["probe_accuracy"], row.metrics[metric]
            if x is None or y is None:
                continue
            ax.errorbar(x.mean, y.mean, xerr=x.half_width or 0.0, yerr=y.half_width or 0.0, color=colour[row.label],
                        marker=MARKERS[datasets.index(row.dataset) % len(MARKERS)], markersize=6, capsize=2)
        ax.set(title=f"{metric} ({CURVES[metric][0]})", xlabel="probe accuracy (higher keeps more of the label)",
               ylabel="normalised error (lower is more equivariant)")
        ax.grid(alpha=0.3)
    handles = [axes[0].plot([], [], color=c, marker="o", linestyle="")[0] for c in colour.values()]
    handles += [axes[0].plot([], [], color="grey", marker=MARKERS[i % len(MARKERS)], linestyle="")[0]
                for i in range(len(datasets))]
    fig.legend(handles, [*colour, *datasets], loc="outside right upper", fontsize="small")
    return fig
