"""The ``equibench`` command line: ``run``, ``list``, ``sweep`` and ``leaderboard``.

Every user-facing failure is an :class:`~equibench.errors.EquibenchError` and is printed as one
line naming the fix, with exit status 2; nothing is written in that case.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from equibench import __version__
from equibench.errors import ConfigError, EquibenchError

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
    p.add_argument("--model", required=True, help="model name (see 'equibench list')")
    p.add_argument("--dataset", default="digits-rot18",
                   help="dataset id or path to a card .toml (default: digits-rot18, needs no network)")
    p.add_argument("--seed", type=int, default=0, help="seed of model initialisation and training (default 0)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one model option (repeatable); see 'equibench list --model M'")
    p.add_argument("--out", type=Path, default=Path("results"), help="folder for the record (default results/)")
    p.add_argument("--download", action="store_true", help="download MNIST / Fashion-MNIST into --data-root")
    p.add_argument("--retrain", action="store_true", help="train even if a checkpoint of this config exists")
    _add_run_options(p)
    p.set_defaults(handler=_cmd_run)


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
    metrics = record["metrics"]

    def show(v: object) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    print(f"{record['model']} on {record['dataset']} (seed {record['seed']}, {record['profile']}): "
          f"{record['timings_s']['total']:.1f} s")
    for key in ("commutativity", "commutativity_roll", "commutativity_fitted", "invariance",
                "homomorphism", "transform_accuracy", "participation_ratio", "probe_accuracy",
                "log_likelihood", "eeq_tvae", "eeq_tvae_context_mean", "collapsed"):
        print(f"  {key:22s} {show(metrics.get(key))}")
    print(f"record: {path}")
    return 0


def _add_list(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list models, datasets, metrics and profiles",
                       description="List what equibench can run; with --model, that model's options.")
    p.add_argument("--model", default=None, help="show this model's options for each profile")
    p.set_defaults(handler=_cmd_list)


def _cmd_list(args: argparse.Namespace) -> int:
    from equibench.data.cards import builtin_card_ids, load_card
    from equibench.metrics.suite import METRICS
    from equibench.models.registry import available_models, load_model_class
    from equibench.runs.config import PROFILES

    if args.model:
        from equibench.models.encoder import DataSpec

        cls = load_model_class(args.model)
        data = load_card("digits-rot18")
        spec = DataSpec(data.id, (1, 28, 28), 10, data.build_transformation())
        print(f"{args.model}: {cls.description}  (options shown for digits-rot18)")
        for profile in PROFILES:
            print(f"  profile {profile}:")
            for key, value in cls.default_config(profile, spec).items():
                print(f"    {key} = {value!r}")
        return 0
    print("models:")
    for name, ep in sorted(available_models().items()):
        try:
            summary = load_model_class(name).description
        except EquibenchError as exc:
            summary = f"(broken: {exc})"
        print(f"  {name:12s} {summary}  [{ep.value}]")
    print("datasets:")
    for ident in builtin_card_ids():
        card = load_card(ident)
        print(f"  {ident:18s} {card.build_transformation().describe()} ({card.source})")
    print("metrics:")
    for name, text in METRICS.items():
        print(f"  {name:22s} {text}")
    print("profiles:")
    for name, text in PROFILES.items():
        print(f"  {name:8s} {text}")
    return 0


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
        "--out and one log per cell in --out/logs. A cell whose record (same config hash, dataset hash "
        "and seed) already exists is skipped, so rerunning an interrupted sweep finishes what is left. "
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
    from equibench.leaderboard import build_leaderboard

    built = build_leaderboard(args.results, args.out)
    for skip in built.skipped:
        print(f"equibench: warning: skipped {skip.path}: {skip.reason}", file=sys.stderr)
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
    try:
        return args.handler(args)
    except EquibenchError as exc:
        print(f"equibench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("equibench: interrupted; no record was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
