"""Wall times of reference-encoder records (the speed targets of issue 11) and how far their
metrics are from the committed records of the same name.

Runs ``equibench run`` for each (model, dataset) into a scratch folder, with the cache you give,
and prints the record's total and its slowest stages, beside the committed record's metrics:
the largest relative difference over the metrics both have. Targets on 2 CPU cores: any
``pixels`` record <= 10 s, ``random-mlp`` on digits-rot18 <= 5 s, the gcnn's encode stage <= 10 s.
Timings on a shared machine are noisy; compare runs made back to back.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/reference_scoring.py [--runs pixels:digits-hue18 ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

RECORDS = Path(__file__).resolve().parent.parent / "leaderboard" / "records"
DEFAULT = ["pixels:digits-hue18", "pixels:digits-rothue18", "pixels:digits-rot18", "random-mlp:digits-rot18",
           "gcnn:digits-rot18"]


def largest_difference(fresh: dict, committed: dict) -> float:
    """Largest relative difference over the float metrics both records have (0 where equal)."""
    worst = 0.0
    for key in fresh["metrics"].keys() & committed["metrics"].keys():
        a, b = fresh["metrics"][key], committed["metrics"][key]
        if isinstance(a, float) and isinstance(b, float):
            worst = max(worst, abs(a - b) / abs(b) if b else abs(a))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=DEFAULT, help="model:dataset pairs (seed 0, quick)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        for run in args.runs:
            model, dataset = run.split(":")
            subprocess.run([sys.executable, "-m", "equibench", "run", "--model", model, "--dataset", dataset,
                            "--out", out], check=True, capture_output=True)
            path = next(Path(out).glob(f"{model}__{dataset}__quick__seed0__*.json"))
            record = json.loads(path.read_text())
            times = record["timings_s"]
            slowest = sorted((k for k in times if k.startswith("metric.")), key=times.get, reverse=True)[:3]
            line = f"{run:26s} total {times['total']:6.1f} s  " + "  ".join(f"{k[7:]} {times[k]:.1f}" for k in slowest)
            committed = RECORDS / path.name
            if committed.is_file():
                line += f"  | vs committed: max rel diff {largest_difference(record, json.loads(committed.read_text())):.1e}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
