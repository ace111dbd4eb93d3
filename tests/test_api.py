"""The Python API and file plugins: a Module, a function and a plugin class all evaluate; the API
and ``equibench run`` give the same numbers; a file plugin's record holds the file's hash; the
committed records load into a DataFrame; docs/python-api.md runs."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import pytest
import torch

import equibench
from equibench.cli import main
from equibench.errors import ConfigError
from equibench.records import read_records
from equibench_plugins.reference import PrincipalComponents

ROOT = Path(__file__).resolve().parent.parent
HALF = '''import torch
from equibench.models import Encoder


class Half(Encoder):
    description = "every second pixel"

    def encode(self, images):
        return images.flatten(1)[:, ::2]


class NotAnEncoder:
    pass
'''


def _small_cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 5, stride=3), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(4 * 8 * 8, 12), torch.nn.Dropout(0.5))


def _pixels(images: torch.Tensor) -> torch.Tensor:
    return images.flatten(1)


def test_a_module_a_function_and_a_plugin_class_all_evaluate(digits_rot4, capsys) -> None:
    net = _small_cnn().train()
    by_module = equibench.evaluate(net, "digits-rot4")
    assert by_module.metrics["latent_dim"] == 12 and by_module.metrics["commutativity"] is None
    assert 0 < by_module.metrics["commutativity_fitted"] and net.training  # scored in eval mode, mode restored
    by_function = equibench.evaluate(_pixels, "digits-rot4")
    assert by_function.metrics["latent_dim"] == 784 and by_function.path is None
    by_class = equibench.evaluate(PrincipalComponents, "digits-rot4")
    assert by_class.metrics["latent_dim"] == 64 and by_class.record["config"] == {"components": 64}
    assert capsys.readouterr() == ("", "")  # no printing unless progress=True

    for result, kind in ((by_module, "module"), (by_function, "callable"), (by_class, "encoder-class")):
        assert result.record["source"]["kind"] == "api" and result.record["source"]["object"] == kind
        assert result.record["model"].startswith("api.")
    assert by_function.record["source"]["sha256"] is None and by_function.record["source"]["unhashed"]


def test_a_module_record_hashes_its_parameters(digits_rot4) -> None:
    net = _small_cnn()
    first = equibench.evaluate(net, "digits-rot4").record
    with torch.no_grad():
        net[0].bias[0] += 1e-3
    second = equibench.evaluate(net, "digits-rot4").record
    assert first["source"]["sha256"] != second["source"]["sha256"]
    assert first["model"] == "api.Sequential@" + first["source"]["sha256"][:8]
    assert first["config_hash"] != second["config_hash"]  # a record file per weights, never overwritten


def test_the_pixels_function_scores_as_run_model_pixels(digits_rot4, tmp_path: Path) -> None:
    shape = digits_rot4.image_shape

    def act(z: torch.Tensor, k: int) -> torch.Tensor:
        return digits_rot4.transformation.apply(z.unflatten(1, shape), k).flatten(1)

    result = equibench.evaluate(_pixels, "digits-rot4", operator=act, out=tmp_path / "api")
    assert main(["run", "--model", "pixels", "--dataset", "digits-rot4", "--out", str(tmp_path / "cli")]) == 0
    cli = json.loads(next((tmp_path / "cli").glob("*.json")).read_text())
    declared = [k for k in cli["metrics"] if k.startswith("lie_") and k.endswith("_declared")]
    # the pixels plugin also declares its generators; a function given only an operator declares none
    assert all(result.metrics[k] is None for k in declared) and cli["metrics"]["lie_rot_declared"] < 1e-8
    same = {k: v for k, v in result.metrics.items() if k not in declared}
    assert same == {k: v for k, v in cli["metrics"].items() if k not in declared} and result.curves == cli["curves"]
    assert result.metrics["commutativity"] < 1e-6
    assert json.loads(result.path.read_text()) == json.loads(result.to_json()) == result.record
    assert list(result.record) == list(cli)  # the same record, field for field


@pytest.mark.parametrize("encoder, kwargs, message", [
    (torch.nn.Linear, {}, "got the class Linear; pass an instance of it"),
    (3, {}, "evaluate() takes an Encoder (class or instance), a torch.nn.Module or a callable"),
    (PrincipalComponents, {"operator": lambda z, k: z}, "an Encoder declares its own in operator()"),
    (_pixels, {"profile": "fast"}, "unknown profile 'fast'"),
    (_pixels, {"dataset": "digits-rot5"}, "unknown dataset 'digits-rot5'"),
    (torch.nn.Flatten(), {"device": "meta"}, "move it with module.to('meta') or leave device='auto'"),
])
def test_bad_api_input_raises_one_clear_error(encoder, kwargs, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        equibench.evaluate(encoder, **{"dataset": "digits-rot4", **kwargs})
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_plugin_class_from_a_file_runs_from_the_cli_and_its_record_holds_the_file_hash(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    plugin = tmp_path / "my_encoders.py"
    plugin.write_text(HALF)
    sha = hashlib.sha256(plugin.read_bytes()).hexdigest()
    assert main(["run", "--model", f"{plugin}:Half", "--dataset", "digits-rot4", "--out", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("*.json")
    record = json.loads(path.read_text())
    assert record["source"] == {"kind": "file", "path": str(plugin.resolve()), "class": "Half", "sha256": sha}
    assert record["model"] == f"my_encoders.Half@{sha[:8]}" and path.name.startswith(record["model"] + "__")
    assert record["metrics"]["latent_dim"] == 392

    plugin.write_text(HALF.replace("[:, ::2]", "[:, ::4]"))  # a changed file is another model
    assert main(["run", "--model", f"{plugin}:Half", "--dataset", "digits-rot4", "--out", str(tmp_path)]) == 0
    changed = [json.loads(p.read_text()) for p in tmp_path.glob("*.json") if p != path]
    assert [r["metrics"]["latent_dim"] for r in changed] == [196]
    capsys.readouterr()


@pytest.mark.parametrize("model, message", [
    ("{dir}/missing.py:Half", "there is no file {dir}/missing.py; give path/to/file.py:ClassName"),
    ("{dir}/my_encoders.py:Nope", "defines no 'Nope'; its Encoder classes: Half"),
    ("{dir}/my_encoders.py:NotAnEncoder", "NotAnEncoder is not an equibench Encoder subclass"),
    ("{dir}/my_encoders.py", "names no class; give {dir}/my_encoders.py:ClassName"),
])
def test_a_bad_file_plugin_is_one_line_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture, model: str,
                                                   message: str) -> None:
    (tmp_path / "my_encoders.py").write_text(HALF)
    out = tmp_path / "out"
    assert main(["run", "--model", model.format(dir=tmp_path), "--dataset", "digits-rot4", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message.format(dir=tmp_path) in err and "Traceback" not in err
    assert not out.exists() or not list(out.iterdir())


def test_load_reads_the_committed_leaderboard_records() -> None:
    pytest.importorskip("pandas", reason="records.load needs the pandas extra")
    folder = ROOT / "leaderboard" / "records"
    files = sorted(folder.glob("*.json"))
    raw = [json.loads(p.read_text()) for p in files]
    metrics = list(dict.fromkeys(name for r in raw for name in r["metrics"]))
    frame = equibench.records.load(folder)
    assert frame.shape == (len(files), 7 + len(metrics)) and len(files) > 0
    assert list(frame.columns) == ["model", "dataset", "seed", "profile", "metric_version", "config_hash", "path",
                                   *metrics]
    assert {"commutativity_fitted", "probe_accuracy", "collapsed"} <= set(metrics)
    assert frame.attrs["skipped"] == []
    for i in (0, len(files) // 2, len(files) - 1):
        assert frame["path"][i] == str(files[i]) and frame["model"][i] == raw[i]["model"]
        assert frame["seed"][i] == raw[i]["seed"]
        assert frame["probe_accuracy"][i] == pytest.approx(raw[i]["metrics"]["probe_accuracy"])
    assert len(equibench.records.load(folder, current_only=True)) == len(read_records(folder)[0])


def test_load_skips_what_is_not_a_record_and_says_why(tmp_path: Path) -> None:
    pytest.importorskip("pandas", reason="records.load needs the pandas extra")
    good = json.loads(sorted((ROOT / "leaderboard" / "records").glob("*.json"))[0].read_text())
    (tmp_path / "a.json").write_text(json.dumps(good))
    (tmp_path / "b.json").write_text(json.dumps({**good, "metric_version": 0}))  # old versions still read
    (tmp_path / "c.json").write_text("{half a rec")
    (tmp_path / "d.json").write_text(json.dumps({k: v for k, v in good.items() if k != "seed"}))
    frame = equibench.records.load(tmp_path)
    assert list(frame["metric_version"]) == [good["metric_version"], 0]
    assert [(Path(p).name, r.split(" (")[0]) for p, r in frame.attrs["skipped"]] == [
        ("c.json", "not readable JSON"), ("d.json", "field 'seed' is missing or not a int")]


def test_load_without_pandas_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(ConfigError, match=re.escape("pip install 'equibench[pandas]'")):
        equibench.records.load(tmp_path)


def test_the_python_api_doc_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("pandas", reason="the doc's last example needs the pandas extra")
    doc = (ROOT / "docs" / "python-api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    assert len(blocks) == 3
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(blocks[0], "docs/python-api.md", "exec"), namespace)
    assert namespace["result"].metrics["probe_accuracy"] > 0.5  # chance is 0.1: the CNN did learn
    assert "commutativity_fitted" in capsys.readouterr().out
    exec(compile(blocks[1], "docs/python-api.md", "exec"), namespace)
    exec(compile(blocks[2], "docs/python-api.md", "exec"), namespace)
    assert "digits-rot4" in capsys.readouterr().out
