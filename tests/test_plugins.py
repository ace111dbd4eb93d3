"""Plugin discovery through real entry points, and clear errors for broken plugins."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from broken_plugins import RAISES_IN
from equibench.cli import main
from equibench.errors import PluginCrash
from equibench.models import NotMeasurable, registry
from equibench.models.guard import plugin_call

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "equibench-example-plugin"


def test_a_third_party_package_is_found_through_its_entry_point_and_run(tmp_path: Path) -> None:
    """Install the example package (a real distribution with a real entry point) into a
    temporary directory and run it through the equibench command line."""
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), str(EXAMPLE)], check=True)
    env = {**os.environ, "PYTHONPATH": str(site)}
    listing = subprocess.run([sys.executable, "-m", "equibench", "list"], env=env, capture_output=True,
                             text=True, check=True).stdout
    assert "pooled-pixels" in listing and "equibench_example:PooledPixels" in listing
    out = tmp_path / "results"
    subprocess.run([sys.executable, "-m", "equibench", "run", "--model", "pooled-pixels", "--dataset",
                    "digits-rot4", "--out", str(out)], env=env, check=True, capture_output=True)
    record = json.loads(next(out.glob("pooled-pixels__digits-rot4__*.json")).read_text())
    assert record["metrics"]["commutativity"] < 1e-6  # pooling over 4x4 blocks commutes with rot90
    assert record["metrics"]["latent_dim"] == 49


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch):
    """Register the plugins of broken_plugins.py as entry points of this process."""
    real = registry.available_models()
    fake = {name: EntryPoint(name, f"broken_plugins:{attr}", registry.GROUP) for name, attr in [
        ("no-encode", "NoEncode"), ("not-an-encoder", "NotAnEncoder"), ("wrong-shape", "WrongShape"),
        ("nan", "ReturnsNaN"), ("noisy", "Noisy"), ("bad-operator", "BadOperator"), ("batch-mean", "BatchMean"),
        ("float64", "Float64"), ("integers", "Integers"),
        *[(f"raises-in-{m.strip('_')}", f"RaisesIn_{m.strip('_')}") for m in RAISES_IN]]}
    fake["missing-module"] = EntryPoint("missing-module", "no_such_module_xyz:Model", registry.GROUP)
    monkeypatch.setattr(registry, "available_models", lambda: {**real, **fake})


@pytest.mark.parametrize("name, message", [
    ("no-encode", r"does not implement the required method\(s\): encode"),
    ("not-an-encoder", "is not an equibench Encoder subclass"),
    ("wrong-shape", r"encode\(\) returned shape \[64, 1, 28, 28\], expected \[64, D\]"),
    ("nan", "non-finite values"),
    ("noisy", "not deterministic"),
    ("bad-operator", r"declared operator \(k=1\) returned shape \[\d+, 10\], expected \[\d+, 784\]"),
    ("missing-module", "failed to import"),
    ("batch-mean", r"encode\(\) depends on the rest of the batch \(the same images, permuted and in a batch of 38"),
    ("float64", r"encode\(\) returned float64 latents; latents must be float32"),
    ("integers", r"encode\(\) returned int64 latents; latents must be float32"),
])
def test_broken_plugins_get_one_line_errors_naming_them(broken, name: str, message: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    code = main(["run", "--model", name, "--dataset", "digits-rot4", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and f"plugin {name!r}" in err
    assert re.search(message, err), err
    assert not list(tmp_path.glob("*.json")), "no record for a failed run"


@pytest.mark.parametrize("method", RAISES_IN)
def test_a_plugin_that_raises_anywhere_exits_2_with_one_line_and_writes_nothing(
        broken, method: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    name = f"raises-in-{method.strip('_')}"
    shown = {"rho": r"its declared operator \(k=1\)"}.get(method, re.escape(f"{method}()"))
    out = tmp_path / "out"
    code = main(["run", "--model", name, "--dataset", "digits-rot4", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert re.fullmatch(f"equibench: error: plugin '{name}' raised ValueError in {shown}: boom in {method} "
                        r"\(rerun with --traceback to see where\)", err), err
    assert not out.exists() or list(out.iterdir()) == [], "no record, no figure, no temporary file"


def test_traceback_shows_the_plugins_frames_above_the_one_line(broken, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    code = main(["run", "--model", "raises-in-fit", "--dataset", "digits-rot4", "--out", str(tmp_path),
                 "--traceback"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[0] == "Traceback (most recent call last):"
    assert any("broken_plugins.py" in line for line in err) and "ValueError: boom in fit" in err
    assert err[-1] == "equibench: error: plugin 'raises-in-fit' raised ValueError in fit(): boom in fit"


def test_not_measurable_passes_the_guard_and_any_other_exception_is_a_crash() -> None:
    with pytest.raises(NotMeasurable, match="no likelihood"), plugin_call("m", "log_likelihood()"):
        raise NotMeasurable("no likelihood for this objective")
    with pytest.raises(PluginCrash, match=r"^plugin 'm' raised KeyError in fit\(\) with --set a=1: 'x'; check"):
        with plugin_call("m", "fit()", ["a=1"]):
            raise KeyError("x")
