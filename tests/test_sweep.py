"""Sweeps: every cell once, resumable after a kill, failing cells reported, Ray equal to local."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from equibench.cli import main
from equibench.sweep import SweepRequest, run_sweep
from equibench.sweep.execute import available_cpus, failure_reason

COMPARED = ("model", "dataset", "seed", "config", "config_hash", "dataset_hash", "metrics", "curves")


def _records(folder: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("sweep")
    request = SweepRequest(models=("pixels", "pca"), datasets=("digits-rot4",), seeds=(0, 1), jobs=2, out_dir=out)
    return request, run_sweep(request)


@pytest.fixture()
def broken_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two installed-looking plugins: one whose code is NaN, one whose module does not import."""
    dist = tmp_path / "equibench_broken-0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: equibench-broken\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text(
        "[equibench.models]\nnan-model = equibench_broken:NaNEncoder\nno-import = equibench_unimportable:X\n")
    (tmp_path / "equibench_broken.py").write_text(
        "import torch\nfrom equibench.models import Encoder\n\n"
        "class NaNEncoder(Encoder):\n"
        "    def encode(self, images):\n"
        "        return torch.full((images.shape[0], 4), float('nan'))\n")
    (tmp_path / "equibench_unimportable.py").write_text("raise RuntimeError('deliberately broken')\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_a_sweep_runs_each_cell_once_with_its_log_and_its_share_of_the_threads(small_sweep) -> None:
    request, report = small_sweep
    assert len(report.cells) == 4 and not report.skipped and not report.failures and not report.interrupted
    records = _records(request.out_dir)
    assert sorted((r["model"], r["seed"]) for r in records.values()) == [("pca", 0), ("pca", 1),
                                                                          ("pixels", 0), ("pixels", 1)]
    assert {r["hardware"]["torch_threads"] for r in records.values()} == {max(1, available_cpus() // 2)}
    for cell in report.cells:
        log = (request.log_dir / cell.log_name).read_text()
        assert log.startswith(f"$ equibench run --model {cell.model} ") and "record: " in log


def test_rerunning_a_finished_sweep_does_no_work_and_redoes_an_unreadable_or_outdated_record(
        small_sweep, tmp_path: Path) -> None:
    request, _ = small_sweep
    again = run_sweep(request)
    assert len(again.skipped) == 4 and again.outcomes == []

    out = tmp_path / "copy"
    shutil.copytree(request.out_dir, out)
    damaged = sorted(out.glob("pixels__*seed1*.json"))[0]
    damaged.write_text(damaged.read_text()[:100])  # as a non-atomic writer killed midway would leave it
    outdated = sorted(out.glob("pca__*seed0*.json"))[0]
    old = json.loads(outdated.read_text())
    outdated.write_text(json.dumps({**old, "metric_version": old["metric_version"] - 1}))
    redo = run_sweep(replace(request, out_dir=out))
    assert sorted((o.cell.model, o.cell.seed, o.ok) for o in redo.outcomes) == [("pca", 0, True), ("pixels", 1, True)]
    assert json.loads(damaged.read_text())["metrics"] == _records(request.out_dir)[damaged.name]["metrics"]
    assert json.loads(outdated.read_text())["metric_version"] == old["metric_version"]


def test_failing_cells_are_listed_at_the_end_and_the_others_still_run(
        broken_plugins: None, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    status = main(["sweep", "--models", "nan-model,no-import,pixels", "--datasets", "digits-rot4",
                   "--seeds", "0", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert status == 1
    assert len(list(tmp_path.glob("pixels__*.json"))) == 1 and not list(tmp_path.glob("nan-model__*"))
    summary = printed[printed.index("sweep: 3 cells"):]
    assert "2 failed" in summary
    assert "FAILED nan-model on digits-rot4 seed 0: plugin 'nan-model': encode() returned non-finite" in summary
    assert "FAILED no-import on digits-rot4 seed 0: plugin 'no-import'" in summary and "deliberately broken" in summary
    for name in ("nan-model", "no-import"):
        log = tmp_path / "logs" / f"{name}__digits-rot4__quick__seed0.log"
        assert f"log: {log}" in summary and log.is_file() and log.read_text().strip()


@pytest.mark.parametrize("argv, message", [
    (["--models", "pixels,nope", "--datasets", "digits-rot4"], "unknown model 'nope'"),
    (["--models", "pixels", "--datasets", "digits-rot4", "--seeds", "0,x"], "--seeds expects comma-separated"),
    (["--models", "pixels", "--datasets", "no-such-data"], "unknown dataset 'no-such-data'"),
    (["--models", "pixels", "--datasets", "digits-rot4", "--jobs", "0"], "--jobs must be at least 1"),
    (["--models", "pixels", "--datasets", "digits-rot4", "--address", "x:1"], "use it with --executor ray"),
])
def test_bad_sweep_input_is_one_line_without_a_traceback(argv, message, tmp_path: Path, capsys) -> None:
    assert main(["sweep", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and not list(tmp_path.glob("*.json"))


def test_the_failure_reason_is_the_one_line_error_or_the_exception() -> None:
    assert failure_reason("progress\nequibench: error: plugin 'x' broke\n", 2) == "plugin 'x' broke"
    assert failure_reason("Traceback (most recent call last):\n  ...\nValueError: bad\n", 1) == "ValueError: bad"
    assert failure_reason("", -signal.SIGKILL) == "killed by signal SIGKILL"


def test_a_killed_sweep_leaves_whole_records_and_the_rerun_does_only_the_rest(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "equibench", "sweep", "--models", "pixels,pca,random-mlp",
            "--datasets", "digits-rot4", "--seeds", "0", "--jobs", "1", "--out", str(tmp_path)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ)
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob("*.json")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, output
    assert "sweep interrupted" in output
    kept = _records(tmp_path)  # every record parses: none is half-written
    assert 1 <= len(kept) < 3 and not list(tmp_path.glob(".*.tmp"))

    rerun = run_sweep(SweepRequest(models=("pixels", "pca", "random-mlp"), datasets=("digits-rot4",), seeds=(0,),
                                   out_dir=tmp_path))
    assert len(rerun.skipped) == len(kept) and len(rerun.outcomes) == 3 - len(kept)
    assert all(o.ok for o in rerun.outcomes) and len(_records(tmp_path)) == 3


def test_the_ray_executor_writes_the_records_the_local_one_does(small_sweep, tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'equibench[ray]'")
    request, _ = small_sweep
    report = run_sweep(replace(request, out_dir=tmp_path, executor="ray"))
    assert len(report.outcomes) == 4 and not report.failures
    local, ray = _records(request.out_dir), _records(tmp_path)
    assert sorted(ray) == sorted(local)
    for name in local:
        assert {k: ray[name][k] for k in COMPARED} == {k: local[name][k] for k in COMPARED}
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == sorted(p.name for p in request.log_dir.iterdir())


class _FakeRay:
    """Just enough of Ray to see what run_ray asks it for: submitting a task stops the sweep."""

    def __init__(self, gpus: int) -> None:
        self.gpus, self.asked = gpus, None

    def is_initialized(self) -> bool:
        return True

    def nodes(self) -> list[dict]:
        return [{"Alive": True, "Resources": {"CPU": 4.0, "GPU": float(self.gpus)}}]

    def cluster_resources(self) -> dict:
        return {"CPU": 4.0, "GPU": float(self.gpus)}

    def remote(self, fn):
        fake = self

        class Task:
            def options(self, **kwargs):
                fake.asked = kwargs
                return self

            def remote(self, *args):
                raise StopIteration

        return Task()


@pytest.mark.parametrize("device, gpus, asked", [("cuda", 1, 1), ("cuda:0", 2, 1), ("cpu", 1, 0), ("auto", 0, 0)])
def test_ray_cells_run_with_device_cuda_request_a_gpu(monkeypatch: pytest.MonkeyPatch, device: str, gpus: int,
                                                      asked: int) -> None:
    from equibench.sweep import ray_executor
    from equibench.sweep.cells import Cell
    from equibench.sweep.execute import CellOptions

    fake = _FakeRay(gpus)
    monkeypatch.setattr(ray_executor, "_ray", lambda: fake)
    cells = [Cell("pixels", "digits-rot4", 0, "quick")]
    with pytest.raises(RuntimeError):  # the StopIteration raised inside the generator
        next(ray_executor.run_ray(cells, Path("unused"), CellOptions(device=device), 2, lambda cell: None))
    assert fake.asked == {"num_cpus": 2, "num_gpus": asked, "max_retries": 0}


def test_ray_refuses_device_cuda_on_a_cluster_without_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    from equibench.errors import ConfigError
    from equibench.sweep import ray_executor
    from equibench.sweep.cells import Cell
    from equibench.sweep.execute import CellOptions

    monkeypatch.setattr(ray_executor, "_ray", lambda: _FakeRay(0))
    with pytest.raises(ConfigError, match="the Ray cluster has no GPU"):
        next(ray_executor.run_ray([Cell("pixels", "digits-rot4", 0, "quick")], Path("unused"),
                                  CellOptions(device="cuda"), 1, lambda cell: None))
