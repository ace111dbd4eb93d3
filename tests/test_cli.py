"""The command line: bad input gets one line naming the fix; records are complete, atomic and
reproducible; a second identical run loads its checkpoint."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from equibench.atomic import atomic_path
from equibench.cli import main
from equibench.runs import runner
from equibench.stopwatch import Stopwatch

RECORD_FIELDS = {"schema", "metric_version", "model", "dataset", "dataset_card", "dataset_hash", "seed",
                 "profile", "config", "config_hash", "supervision", "versions", "hardware", "timings_s",
                 "metrics", "curves", "checkpoint", "overrides"}


def _run(tmp_path: Path, *args: str) -> int:
    return main(["run", "--out", str(tmp_path), *args])


@pytest.mark.parametrize("args, fix", [
    (["--model", "nope"], "unknown model 'nope'; installed models: "),
    (["--model", "pixels", "--dataset", "digits-rot5"], "unknown dataset 'digits-rot5'; run 'equibench list'"),
    (["--model", "pixels", "--profile", "fast"], "unknown profile 'fast'; use one of: quick, paper"),
    (["--model", "pca", "--set", "width=3"], "--set width: model 'pca' has no such option; its options: components"),
    (["--model", "pca", "--set", "components=many"], "--set components: expected a int like 64"),
    (["--model", "pca", "--set", "components"], "--set expects key=value"),
    (["--model", "pixels", "--dataset", "mnist-rot4"], "--data-root"),
    (["--model", "pixels", "--device", "tpu"], "unknown --device 'tpu'"),
    (["--model", "pca", "--dataset", "digits-rot4", "--set", "components=0"],
     "plugin 'pca': encode() returned shape [64, 0], expected [64, D]"),
    (["--model", "gcnn", "--dataset", "digits-rot4", "--set", "epochs=-1"],
     "plugin 'gcnn' raised ValueError in fit() with --set epochs=-1: "),
])
def test_bad_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str],
                                         fix: str) -> None:
    assert _run(tmp_path, *args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and fix in err and "Traceback" not in err
    assert not list(tmp_path.glob("*.json"))


def test_an_unwritable_out_is_refused_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["run", "--model", "pixels", "--out", str(blocker / "results")]) == 2
    assert "cannot write into --out" in capsys.readouterr().err


def test_pixels_record_has_every_field_and_exact_commutativity(tmp_path: Path) -> None:
    assert _run(tmp_path, "--model", "pixels", "--dataset", "digits-rot4") == 0
    record = json.loads(next(tmp_path.glob("pixels__digits-rot4__quick__seed0__*.json")).read_text())
    assert RECORD_FIELDS <= set(record)
    assert record["metrics"]["commutativity"] < 1e-6
    assert {"python", "torch", "escnn", "equibench", "git_commit"} <= set(record["versions"])
    assert {"data", "fit", "metric.encode", "metric.commutativity", "metric.fit_operators",
            "metric.commutativity_fitted", "total"} <= set(record["timings_s"])
    assert len(record["dataset_hash"]) == 64 and len(record["curves"]["commutativity"]) == 3


def test_a_stage_timed_twice_adds_up() -> None:
    watch = Stopwatch()
    for _ in range(2):
        with watch.stage("twice"):
            time.sleep(0.02)
    assert watch.seconds["twice"] >= 0.04


def test_same_command_and_seed_give_the_same_metrics(tmp_path: Path) -> None:
    for out in ("a", "b"):
        assert _run(tmp_path / out, "--model", "random-mlp", "--dataset", "digits-rot4", "--seed", "3",
                    "--retrain") == 0
    a, b = (json.loads(next((tmp_path / o).glob("*.json")).read_text()) for o in ("a", "b"))
    assert a["metrics"] == b["metrics"] and a["config_hash"] == b["config_hash"]
    assert _run(tmp_path / "c", "--model", "random-mlp", "--dataset", "digits-rot4", "--seed", "4") == 0
    c = json.loads(next((tmp_path / "c").glob("*.json")).read_text())
    assert c["metrics"]["commutativity_fitted"] != a["metrics"]["commutativity_fitted"]


def test_a_second_identical_run_loads_the_checkpoint(tmp_path: Path) -> None:
    args = ("--model", "pca", "--dataset", "digits-rot4", "--set", "components=16")
    assert _run(tmp_path / "a", *args, "--retrain") == 0
    assert _run(tmp_path / "b", *args) == 0
    a, b = (json.loads(next((tmp_path / o).glob("*.json")).read_text()) for o in ("a", "b"))
    assert not a["checkpoint"]["loaded"] and b["checkpoint"]["loaded"]
    assert a["metrics"] == b["metrics"]


def test_a_new_plugin_version_retrains_and_a_sweep_scores_its_records_again(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint is kept per plugin version (Encoder.version), so a plugin whose training changed
    retrains instead of loading what its old code trained; its records say their version, and a
    sweep's finished-cell check wants the current one (a record from before versions counts as 0)."""
    from equibench_plugins.reference import PrincipalComponents

    from equibench.sweep.cells import Planned, is_done

    args = ("--model", "pca", "--dataset", "digits-rot4", "--set", "components=12")
    assert _run(tmp_path / "a", *args) == 0
    monkeypatch.setattr(PrincipalComponents, "version", 1)
    assert _run(tmp_path / "b", *args) == 0
    assert _run(tmp_path / "c", *args) == 0
    a, b, c = (json.loads(next((tmp_path / o).glob("*.json")).read_text()) for o in ("a", "b", "c"))
    assert (a["versions"]["plugin"], b["versions"]["plugin"]) == ("0", "1")
    assert not b["checkpoint"]["loaded"] and b["checkpoint"]["file"].endswith("-v1.pt") and c["checkpoint"]["loaded"]
    assert a["config_hash"] == b["config_hash"] and a["metrics"] == b["metrics"]  # same name, same (deterministic) fit
    record = next((tmp_path / "a").glob("*.json"))
    key = (a["config_hash"], a["dataset_hash"], a["seed"])
    assert is_done(Planned(None, record, (*key, "0"))) and not is_done(Planned(None, record, (*key, "1")))
    del a["versions"]["plugin"]
    record.write_text(json.dumps(a))
    assert is_done(Planned(None, record, (*key, "0")))


def test_an_interrupted_run_writes_no_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "evaluate", interrupted)
    assert _run(tmp_path, "--model", "pixels", "--dataset", "digits-rot4") == 130
    assert "no record was written" in capsys.readouterr().err
    assert not [p for p in tmp_path.iterdir() if p.suffix in (".json", ".tmp")]


def test_atomic_path_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "record.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half a rec")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"


def test_readme_test_command_is_what_ci_runs() -> None:
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    ci = (root / ".ci" / "run").read_text()
    command = next(line.strip() for line in readme.splitlines() if "pytest" in line and line.strip().startswith("bash"))
    assert command in ci


@pytest.mark.parametrize("command", [
    ["run", "--model", "pixels", "--dataset", "digits-rot4", "--out", "{bad}"],
    ["run", "--model", "pixels", "--dataset", "digits-rot4", "--out", "{ok}", "--cache-dir", "{bad}"],
    ["sweep", "--models", "pixels", "--datasets", "digits-rot4", "--seeds", "0", "--out", "{bad}"],
    ["sweep", "--models", "pixels", "--datasets", "digits-rot4", "--seeds", "0", "--out", "{ok}", "--cache-dir", "{bad}"],
    ["leaderboard", "--results", "{ok}", "--out", "{bad}"],
])
def test_every_unwritable_output_or_cache_path_is_refused_first_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture, command: list[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a folder below a file cannot be created, even by root
    bad, ok = blocker / "sub", tmp_path / "ok"
    flag = command[command.index("{bad}") - 1]
    assert main([a.format(bad=bad, ok=ok) for a in command]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"equibench: error: cannot write into {flag} {bad} (Not a directory); choose another {flag} or make it writable"
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p != blocker], "no work done, nothing written"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_written_files_get_the_users_umask(tmp_path: Path, umask: int, mode: int) -> None:
    previous = os.umask(umask)
    try:
        assert main(["run", "--model", "pca", "--dataset", "digits-rot4", "--set", "components=8", "--retrain",
                     "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]) == 0
        with atomic_path(tmp_path / "plain.txt") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(previous)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} == {".json", ".pt", ".txt"}  # record, dataset and checkpoint, plain file
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {oct(mode)}


def test_list_columns_are_as_wide_as_the_longest_name(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture) -> None:
    from importlib.metadata import EntryPoint

    from equibench.models import registry

    real = registry.available_models()
    long = "pixels-with-a-much-longer-name"
    monkeypatch.setattr(registry, "available_models", lambda: {
        **real, long: EntryPoint(long, "equibench_plugins.reference:Pixels", registry.GROUP)})
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    models = lines[1: lines.index("datasets:")]
    assert any(line.split()[0] == long for line in models)
    starts = {len(line) - len(line[2:].split(" ", 1)[1].lstrip()) for line in models}
    assert starts == {2 + len(long) + 2}, models


def test_the_summary_reads_pixels_scored_at_this_metric_version(tmp_path: Path, session_cache: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    """The run summary's pixels column comes from a calibration record cached once per dataset; one
    from an older metric version is scored again, not shown beside today's numbers."""
    assert _run(tmp_path, "--model", "pca", "--dataset", "digits-rot4", "--set", "components=8") == 0
    calibration = next((session_cache / "calibration").glob("pixels__digits-rot4__*.json"))
    stale = json.loads(calibration.read_text())
    current = stale["metrics"]["h1_orbit_fitted"]
    stale["metric_version"] -= 1
    stale["metrics"]["h1_orbit_fitted"] = 0.123456
    calibration.write_text(json.dumps(stale))
    capsys.readouterr()
    assert _run(tmp_path, "--model", "pca", "--dataset", "digits-rot4", "--set", "components=8") == 0
    out = capsys.readouterr().out
    assert "0.1235" not in out and json.loads(calibration.read_text())["metrics"]["h1_orbit_fitted"] == current
