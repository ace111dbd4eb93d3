"""Wall time of the records whose scoring has a speed target (issue 11), and whether a change of
the scoring code left their numbers alone.

Targets, on 2 CPU cores with nothing else running, as the record's ``timings_s``: any ``pixels``
record at most 10 s, ``random-mlp`` on digits-rot18 at most 5 s, the gcnn's encode stage at most
10 s. Timings on a shared machine are noisy: run the two versions back to back (``--baseline``
alternates them cell by cell) and read ``load`` beside each time.

    # records of the working tree, and of a baseline source tree run cell by cell in between
    .venv/bin/python benchmarks/scoring_speed.py run --out /tmp/after \\
        --baseline /tmp/base --baseline-out /tmp/before --cache-dir /tmp/speed-cache
    # times side by side, and every metric, curve, chance level and null reason compared
    .venv/bin/python benchmarks/scoring_speed.py compare /tmp/before /tmp/after --rtol 1e-9

A baseline tree is any checkout of equibench's sources importable as they are; a commit unpacked
with ``git archive <commit> | tar -x -C /tmp/base && ln -s plugins /tmp/base/equibench_plugins`` is
one (it runs with this checkout's virtual environment and the baseline's own code). ``compare``
exits 1 on a difference beyond ``--rtol`` (relative, per number; null must stay null).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

CELLS = ["pixels:digits-rot18", "pixels:digits-hue18", "pixels:digits-rothue18", "pixels:digits-rot4",
         "pixels:digits-shift7", "pixels:digits-scale18", "pixels:digits-so2-views-ood", "pixels:shapes3d-euler-views-ood",
         "random-mlp:digits-rot18",
         "gcnn:digits-rot18"]
COMPARED = ("metrics", "curves", "chance", "null_reasons", "warnings", "dataset_hash")
SLOW_STAGES = 4  # the slowest stages printed per record


def run_cell(cell: str, out: Path, cache_dir: Path, seed: int, source: Path | None, threads: int | None) -> None:
    """``equibench run`` of one ``model:dataset`` cell, from ``source`` (a source tree) if given, with
    ``threads`` threads for torch and BLAS if given."""
    model, dataset = cell.split(":")
    env = dict(os.environ)
    if threads is not None:
        env.update({name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    if source is not None:
        env["PYTHONPATH"] = str(source.resolve())
    subprocess.run([sys.executable, "-m", "equibench", "run", "--model", model, "--dataset", dataset, "--seed",
                    str(seed), "--out", str(out), "--cache-dir", str(cache_dir)],
                   check=True, capture_output=True, env=env, cwd=source or Path.cwd())
    print(f"{cell:32s} {'baseline' if source else 'working tree':12s} load {os.getloadavg()[0]:4.1f}", flush=True)


def stage_seconds(record: dict) -> tuple[float, float, dict[str, float]]:
    """The record's total, the sum of its stages, and the stages."""
    stages = {k: v for k, v in record["timings_s"].items() if k != "total"}
    return record["timings_s"]["total"], sum(stages.values()), stages


def differences(a: object, b: object, rtol: float, where: str) -> list[str]:
    """Where ``a`` and ``b`` differ: numbers beyond ``rtol`` relative, anything else at all."""
    if isinstance(a, dict) and isinstance(b, dict):
        alone = [f"{where}: only {side} has {', '.join(sorted(keys))}"
                 for side, keys in (("before", a.keys() - b.keys()), ("after", b.keys() - a.keys())) if keys]
        return alone + [d for key in sorted(a.keys() & b.keys())
                        for d in differences(a[key], b[key], rtol, f"{where}.{key}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, rtol, f"{where}[{i}]")]
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        if a == b or (math.isnan(a) and math.isnan(b)) or abs(a - b) <= rtol * max(abs(a), abs(b)):
            return []
        return [f"{where}: {a!r} -> {b!r} (relative {abs(a - b) / max(abs(a), abs(b)):.1e})"]
    return [] if a == b else [f"{where}: {a!r} -> {b!r}"]


def compare(before: Path, after: Path, rtol: float) -> int:
    """Print the times of the records both folders hold, side by side, and every difference of
    their numbers; 1 if any."""
    names = sorted({p.name for p in before.glob("*.json")} & {p.name for p in after.glob("*.json")})
    if not names:
        print(f"no record is in both {before} and {after}")
        return 1
    failed = 0
    for name in names:
        old, new = (json.loads((folder / name).read_text()) for folder in (before, after))
        (old_total, old_sum, old_stages), (new_total, new_sum, new_stages) = stage_seconds(old), stage_seconds(new)
        print(f"{name.split('__quick')[0]:32s} total {old_total:6.1f} -> {new_total:5.1f} s   "
              f"stages {old_sum:6.1f} -> {new_sum:5.1f} s")
        slowest = sorted(old_stages.keys() | new_stages.keys(),
                         key=lambda k: max(old_stages.get(k, 0), new_stages.get(k, 0)), reverse=True)
        print("    " + "   ".join(f"{k.removeprefix('metric.')} {old_stages.get(k, 0):.1f} -> "
                                  f"{new_stages.get(k, 0):.1f}" for k in slowest[:SLOW_STAGES]))
        found = [d for key in COMPARED for d in differences(old.get(key), new.get(key), rtol, key)]
        for d in found:
            print(f"    DIFFERS {d}")
        failed |= bool(found)
    print(f"{len(names)} records compared to {rtol:g} relative: " + ("DIFFERENCES" if failed else "all equal"))
    return int(failed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="write the cells' records (seed 0, quick profile)")
    run.add_argument("--out", type=Path, required=True, help="folder for the working tree's records")
    run.add_argument("--cache-dir", type=Path, required=True, help="datasets and checkpoints, shared by both trees")
    run.add_argument("--cells", nargs="+", default=CELLS, help="model:dataset cells")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--threads", type=int, help="torch and BLAS threads (default: theirs); 1 keeps a run on a "
                     "busy machine clear of threads waiting for each other")
    run.add_argument("--baseline", type=Path, help="a baseline source tree, run before each cell of this one")
    run.add_argument("--baseline-out", type=Path, help="folder for the baseline's records")
    check = commands.add_parser("compare", help="times side by side, and every number compared")
    check.add_argument("before", type=Path)
    check.add_argument("after", type=Path)
    check.add_argument("--rtol", type=float, default=1e-9)
    args = parser.parse_args()
    if args.command == "compare":
        sys.exit(compare(args.before, args.after, args.rtol))
    if (args.baseline is None) != (args.baseline_out is None):
        parser.error("--baseline and --baseline-out go together")
    for cell in args.cells:
        if args.baseline is not None:
            run_cell(cell, args.baseline_out.resolve(), args.cache_dir.resolve(), args.seed, args.baseline, args.threads)
        run_cell(cell, args.out.resolve(), args.cache_dir.resolve(), args.seed, None, args.threads)


if __name__ == "__main__":
    main()
