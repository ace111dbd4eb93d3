"""The ``equibench`` command line: ``run``, ``list``, ``sweep`` and ``leaderboard``.

Every user-facing failure is an :class:`~equibench.errors.EquibenchError` and is printed as one
line naming the fix, with exit status 2; nothing is written in that case. An exception raised by
plugin code is such a failure too (the line names the plugin and the method); ``--traceback``
prints the plugin's traceback above that line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from equibench import __version__
from equibench.errors import ConfigError, EquibenchError, exit_status

MAIN_HELP = """Measure how equivariant a learned representation is.

Typical use:
  equibench list                                   models, datasets and metrics
  equibench run --model tvae                       train + evaluate on digits-rot18
  equibench run --model pixels --dataset digits-rot4 --out results/
  equibench sweep --models pixels,pca --datasets digits-rot4 --seeds 0,1,2 --jobs 2
  equibench leaderboard --results results/ --out leaderboard/
"""


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="train (or load) a model, evaluate it, write one JSON result record",
        description="Train (or load a checkpoint of the same config), evaluate the metric suite on "
        "the test split, and write one JSON record (plus any figures) into --out.",
    )
    p.add_argument("--model", required=True,
                   help="model name (see 'equibench list'), or path/to/file.py:ClassName for a plugin class "
                   "from a file, nothing installed")
    p.add_argument("--dataset", default="digits-rot18",
                   help="dataset id or path to a card .toml (default: digits-rot18, needs no network)")
    p.add_argument("--seed", type=int, default=0, help="seed of model initialisation and training (default 0)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one model option (repeatable); see 'equibench list --model M'")
    p.add_argument("--out", type=Path, default=Path("results"), help="folder for the record (default results/)")
    p.add_argument("--download", action="store_true", help="download MNIST / Fashion-MNIST into --data-root")
    p.add_argument("--retrain", action="store_true", help="train even if a checkpoint of this config exists")
    _add_run_options(p)
    _add_traceback(p)
    p.set_defaults(handler=_cmd_run)


def _add_traceback(p: argparse.ArgumentParser) -> None:
    p.add_argument("--traceback", action="store_true",
                   help="when a plugin raises, print its traceback above the one-line error")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """The options that ``run`` and ``sweep`` share, with the same meaning."""
    p.add_argument("--profile", default="quick", help="quick (laptop CPU, minutes) or paper (default quick)")
    p.add_argument("--data-root", type=Path, default=None, help="folder holding MNIST / Fashion-MNIST")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="cache for datasets and checkpoints (default $EQUIBENCH_CACHE or ~/.cache/equibench)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")


def _cmd_run(args: argparse.Namespace) -> int:
    import json

    from equibench.runs.runner import RunRequest, default_cache_dir, run

    request = RunRequest(
        model=args.model, dataset=args.dataset, seed=args.seed, profile=args.profile,
        overrides=tuple(args.overrides), out_dir=args.out, cache_dir=args.cache_dir or default_cache_dir(),
        data_root=args.data_root, download=args.download, device=args.device, retrain=args.retrain,
    )
    path = run(request)
    record = json.loads(path.read_text())
    print(f"{record['model']} on {record['dataset']} (seed {record['seed']}, {record['profile']}): "
          f"{record['timings_s']['total']:.1f} s")
    print(_summary(record, _reference(request, record)))
    print(f"record: {path}")
    return 0


def _reference(request: object, record: dict) -> dict | None:
    """pixels' record on the same dataset, to read a score against: scored once (pixels trains
    nothing) into the cache's ``calibration/`` folder, then reused while its metric version is the
    record's (scored again after the metrics change)."""
    import dataclasses
    import json

    from equibench.progress import quiet  # no progress bars for the side run
    from equibench.runs.runner import plan, run

    if record["model"] == "pixels":
        return None
    reference = dataclasses.replace(request, model="pixels", seed=0, overrides=(), retrain=False,
                                    out_dir=request.cache_dir / "calibration")
    path = plan(reference, quiet).record_path
    if path.is_file():
        cached = json.loads(path.read_text())
        if cached.get("metric_version") == record["metric_version"]:
            return cached
    print("scoring pixels on the same dataset once, for reference (cached) ...", file=sys.stderr)
    return json.loads(run(reference, quiet).read_text())


def _summary(record: dict, reference: dict | None) -> str:
    """The headline metrics beside their chance level and pixels' value, then the warnings."""
    from tabulate import tabulate

    from equibench.metrics.suite import HEADLINE

    def show(value: object) -> str:
        return "–" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)

    metrics = record["metrics"]
    ood = any(metrics.get(f"{name}_ood") is not None for name in HEADLINE)  # a view dataset's test_ood
    rows = [[name, show(metrics.get(name)), *([show(metrics.get(f"{name}_ood"))] if ood else []),
             show(record["chance"].get(name)), show(reference and reference["metrics"].get(name))] for name in HEADLINE]
    headers = ["metric", "value", *(["test_ood"] if ood else []), "chance", "pixels"]
    lines = [tabulate(rows, headers, tablefmt="plain", disable_numparse=True)]
    if record["metrics"]["collapsed"]:
        lines.append("the code collapsed: no error or score is reported")
    lines += [f"warning: {w['message']}" for w in record["warnings"]]
    lines.append("every metric, curve and null reason is in the record; 'equibench list' says what each means")
    return "\n".join("  " + line for text in lines for line in text.splitlines())


def _add_list(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list models, datasets, metrics and profiles",
                       description="List what equibench can run; with --model, that model's options.")
    p.add_argument("--model", default=None, help="show this model's options for each profile")
    _add_traceback(p)
    p.set_defaults(handler=_cmd_list)


def _cmd_list(args: argparse.Namespace) -> int:
    from equibench.data.cards import builtin_card_ids, load_card
    from equibench.metrics.suite import METRICS
    from equibench.models.registry import available_models, load_model_class
    from equibench.runs.config import PROFILES

    if args.model:
        from equibench.models.encoder import DataSpec
        from equibench.models.guard import plugin_call

        cls = load_model_class(args.model)
        data = load_card("digits-rot18")
        spec = DataSpec(data.id, (1, 28, 28), 10, data.build_transformation())
        print(f"{args.model}: {cls.description}  (options shown for digits-rot18)")
        for profile in PROFILES:
            print(f"  profile {profile}:")
            with plugin_call(args.model, "default_config()"):
                config = cls.default_config(profile, spec)
            for key, value in config.items():
                print(f"    {key} = {value!r}")
        return 0
    models = sorted(available_models().items())
    _section("models", {name: f"{_model_summary(name)}  [{ep.value}]" for name, ep in models})
    cards = {ident: load_card(ident) for ident in builtin_card_ids()}
    _section("datasets", {i: f"{c.build_transformation().describe()} ({c.source})" for i, c in cards.items()})
    _section("metrics", {name: metric.description for name, metric in METRICS.items()})
    _section("profiles", PROFILES)
    return 0


def _model_summary(model: str) -> str:
    from equibench.models.registry import load_model_class

    try:
        return load_model_class(model).description
    except EquibenchError as exc:
        return f"(broken: {exc})"


def _section(title: str, rows: dict[str, str]) -> None:
    """A titled two-column listing, the first column as wide as its longest name."""
    print(f"{title}:")
    width = max(map(len, rows), default=0)
    for name, text in rows.items():
        print(f"  {name:{width}s}  {text}")


def _names(text: str, flag: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise ConfigError(f"{flag} expects a comma-separated list, got {text!r}")
    return names


def _seeds(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in _names(text, "--seeds"))
    except ValueError:
        raise ConfigError(f"--seeds expects comma-separated integers like 0,1,2, got {text!r}") from None


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="run models x datasets x seeds, skipping cells whose record exists",
        description="Run the cross product of --models, --datasets and --seeds, one record per cell in "
        "--out and one log per cell in --out/logs. A cell whose record (same config hash, dataset hash, "
        "seed and metric version) already exists is skipped, so rerunning an interrupted sweep finishes what is left. "
        "A failing cell does not stop the others; failures are listed at the end (exit status 1).",
    )
    p.add_argument("--models", required=True, help="comma-separated model names, e.g. pixels,pca")
    p.add_argument("--datasets", required=True, help="comma-separated dataset ids (or card .toml paths)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--jobs", type=int, default=1,
                   help="cells at once; each gets an equal share of the CPU threads (default 1)")
    p.add_argument("--out", type=Path, default=Path("results"), help="folder for the records (default results/)")
    p.add_argument("--executor", default="local",
                   help="local (worker processes on this machine, default) or ray (pip install 'equibench[ray]')")
    p.add_argument("--address", default=None,
                   help="with --executor ray: the cluster to join (default: start a local Ray instance)")
    _add_run_options(p)
    p.set_defaults(handler=_cmd_sweep)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from equibench.sweep import SweepRequest, run_sweep
    from equibench.sweep.execute import CellOptions

    request = SweepRequest(
        models=_names(args.models, "--models"), datasets=_names(args.datasets, "--datasets"),
        seeds=_seeds(args.seeds), profile=args.profile, jobs=args.jobs, out_dir=args.out,
        executor=args.executor, address=args.address,
        options=CellOptions(cache_dir=args.cache_dir, data_root=args.data_root, device=args.device),
    )
    report = run_sweep(request)
    ran = len(report.outcomes)
    print(f"sweep: {len(report.cells)} cells, {len(report.skipped)} already done, {ran} ran, "
          f"{len(report.failures)} failed, in {report.wall_s:.1f} s ({args.executor}, --jobs {args.jobs})")
    for outcome in report.failures:
        print(f"  FAILED {outcome.cell.label}: {outcome.reason}\n"
              f"         log: {request.log_dir / outcome.cell.log_name}")
    if report.interrupted:
        print("equibench: sweep interrupted; the finished cells' records are kept, rerun the same command "
              "to run the rest", file=sys.stderr)
        return 130
    return 1 if report.failures else 0


def _add_leaderboard(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "leaderboard",
        help="aggregate result records into the leaderboard (README.md, leaderboard.json, index.html)",
        description="Read every record in --results, group them by model, config and dataset, and write "
        "the mean and 95%% t-interval over seeds of each metric, with ranks, to --out: README.md, "
        "leaderboard.json, index.html and plots/. A malformed record, or one from another metric version "
        "or an unknown model, is skipped with a warning naming its file.",
    )
    p.add_argument("--results", type=Path, default=Path("results"),
                   help="folder of result records (default results/)")
    p.add_argument("--out", type=Path, default=Path("leaderboard"), help="folder to write into (default leaderboard/)")
    p.set_defaults(handler=_cmd_leaderboard)


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    from equibench.atomic import check_writable
    from equibench.leaderboard import build_leaderboard
    from equibench.leaderboard.aggregate import label_clashes

    check_writable(args.out, "--out")
    built = build_leaderboard(args.results, args.out)
    for skip in built.skipped:
        print(f"equibench: warning: skipped {skip.path}: {skip.reason}", file=sys.stderr)
    for clash in label_clashes(built.rows):
        print(f"equibench: warning: {clash}", file=sys.stderr)
    print(f"leaderboard: {len(built.rows)} rows from {built.records} records "
          f"({len(built.skipped)} skipped) -> {', '.join(str(p) for p in built.written)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="equibench", description=MAIN_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"equibench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(sub)
    _add_list(sub)
    _add_sweep(sub)
    _add_leaderboard(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return exit_status(lambda: args.handler(args), traceback=getattr(args, "traceback", False))


if __name__ == "__main__":
    sys.exit(main())
