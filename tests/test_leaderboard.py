"""The leaderboard: intervals checked by hand, ranks with ties, whole records only, and a page
that renders in a real browser."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import matplotlib.image
import pytest

from equibench.cli import main
from equibench.leaderboard import build_leaderboard
from equibench.leaderboard.aggregate import aggregate
from equibench.leaderboard.ranking import TABLES, rank, table_rows
from equibench.records import RECORD_SCHEMA, Record, config_hash, read_records, record_name
from equibench.leaderboard.screenshot import chromium, find_browser, screenshot
from equibench.leaderboard.stats import t_interval
from equibench.metrics.suite import METRIC_VERSION, METRICS

FITTED = {  # model -> h1_orbit_fitted per seed, on each dataset
    "tvae": [0.10, 0.11, 0.12],
    "gcnn": [0.115, 0.125, 0.135],  # overlaps tvae: tied with it
    "vae": [0.50, 0.52, 0.54],
    "pixels": [0.98, 0.99, 1.0],  # a calibration row: never ranked
}


def _record(model: str, dataset: str, seed: int, fitted: float, declared: float | None = None,
            roll: float | None = None) -> dict:
    metrics = {name: None for name in METRICS} | {"collapsed": False, "h1_orbit": declared, "h1_orbit_roll": roll,
                                                  "h1_orbit_fitted": fitted, "invariance": 2 * fitted,
                                                  "probe_accuracy": 0.8 - fitted / 10}
    data_hash = f"{dataset}-hash"
    warnings = [{"kind": "near_chance", "metric": "h1_orbit", "message": "orbit H@1 near chance"}] if seed == 1 else []
    return {
        "schema": RECORD_SCHEMA, "metric_version": METRIC_VERSION, "model": model, "supervision": "none",
        "calibration": model == "pixels", "null_reasons": {}, "chance": {}, "warnings": warnings if declared else [],
        "dataset": dataset, "dataset_hash": data_hash, "transformation": f"the {dataset} action", "seed": seed,
        "profile": "quick", "overrides": [], "config": {}, "config_hash": config_hash(model, {}, data_hash, seed),
        "versions": {"equibench": "0.1.0", "git_commit": "abc"},
        "hardware": {"platform": "Linux", "cpu_count": 2, "torch_threads": 1, "device": "cpu"},
        "metrics": metrics, "curves": {"commutativity_fitted": [fitted, fitted / 2, fitted]},
    }


def _write(folder: Path, record: dict, name: str | None = None) -> Path:
    d = record
    path = folder / (name or record_name(d["model"], d["dataset"], d["profile"], d["seed"], d["config_hash"]) + ".json")
    path.write_text(json.dumps(d))
    return path


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    folder = tmp_path / "records"
    folder.mkdir()
    for dataset in ("digits-rot4", "digits-hue18"):
        for model, values in FITTED.items():
            for seed, v in enumerate(values):
                _write(folder, _record(model, dataset, seed, v, declared=v / 2 if model in ("tvae", "pixels") else None,
                                       roll=v / 3 if model in ("tvae", "vae") else None))
    return folder


def test_the_t_interval_is_the_hand_computed_one() -> None:
    # mean 2, s = 1, t(0.975, 2) = 4.302652729911275: half-width 4.3027 / sqrt(3) = 2.48414
    interval = t_interval([1.0, 2.0, 3.0])
    assert interval.mean == 2.0 and interval.n == 3
    assert interval.low == pytest.approx(2 - 2.4841377) and interval.high == pytest.approx(2 + 2.4841377)
    clipped = t_interval([1.0, 2.0, 3.0], low=0.0, high=3.0)  # a non-negative error, say
    assert (clipped.low, clipped.high) == (0.0, 3.0) and clipped.half_width == 1.5
    single = t_interval([0.5])
    assert (single.mean, single.low, single.high, single.bounds) == (0.5, None, None, (0.5, 0.5))


def test_rows_overlapping_in_their_intervals_share_a_rank(results: Path) -> None:
    records, skipped = read_records(results)
    rows = [r for r in aggregate(records) if r.dataset == "digits-rot4"]
    assert not skipped and len(rows) == 4
    fitted = table_rows(rows, TABLES["h1_orbit_fitted"])
    assert [(x.row.model, x.text) for x in fitted] == [("vae", "1"), ("gcnn", "2="), ("tvae", "2="),
                                                       ("pixels", "cal.")]
    assert [(x.row.model, x.rank) for x in rank(rows, "invariance")] == [
        ("tvae", 1), ("gcnn", 1), ("vae", 3), ("pixels", 4)], "errors rank lower-is-better"
    declared = table_rows(rows, TABLES["h1_orbit"])
    assert [(x.row.label, x.text) for x in declared] == [("vae (Roll, imposed)", "1"), ("tvae", "2"),
                                                         ("pixels", "cal.")]
    imposed = declared[0].row
    assert imposed.metrics["h1_orbit"].mean == pytest.approx(0.52 / 3), "the VAE's Roll scores, shown as declared"


def test_the_3diebench_table_ranks_by_the_per_dimension_r2_not_the_pooled_one(tmp_path: Path) -> None:
    # "mean" predicts each quaternion entry's mean: pooled R² credits it (about 0.24 on shapes3d), per
    # dimension it is 0; "reads" reads some of the rotation: lower pooled, higher per dimension
    scores = {"mean": (0.24, 0.0), "reads": (0.20, 0.15)}
    records = []
    for model, (pooled, dims) in scores.items():
        for seed in range(3):
            d = _record(model, "shapes3d-euler-views-ood", seed, 0.1)
            d["metrics"] |= {"transform_r2": pooled + seed / 1000, "transform_r2_dims": dims + seed / 1000,
                             "pre_orbit_fitted": 0.5}
            records.append(Record(path=tmp_path / f"{model}{seed}.json", data=d))
    rows = aggregate(records)
    table = TABLES["transform_r2_dims"]
    assert table.applies(rows) and not table.applies([r for r in aggregate(_plain(records))])
    assert [x.row.model for x in table_rows(rows, table)] == ["reads", "mean"]


def _plain(records: list[Record]) -> list[Record]:
    """The same records without the protocol's PRE: no 3DIEBench table."""
    out = []
    for r in records:
        d = json.loads(json.dumps(r.data))
        d["metrics"]["pre_orbit_fitted"] = None
        out.append(Record(path=r.path, data=d))
    return out


def test_unusable_records_are_skipped_with_a_warning_naming_the_file(
        results: Path, capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    good = _record("pixels", "digits-rot4", 7, 0.1)
    truncated = json.dumps(good)[:200]
    bad = {
        "half.json": None,
        "old-metrics.json": good | {"metric_version": METRIC_VERSION + 1},
        "unknown-model.json": good | {"model": "not-installed"},
        "no-seed.json": {k: v for k, v in good.items() if k != "seed"},
        "string-seed.json": good | {"seed": "7"},
        "tampered.json": good | {"config": {"epochs": 1}},
        "nan-metric.json": good | {"metrics": good["metrics"] | {"invariance": math.nan}},
        "no-metric.json": good | {"metrics": {k: v for k, v in good["metrics"].items() if k != "probe_accuracy"}},
    }
    for name, record in bad.items():
        if record is None:
            (results / name).write_text(truncated)
        else:
            _write(results, record, name)
    records, skipped = read_records(results)
    reasons = {s.path.name: s.reason for s in skipped}
    assert sorted(reasons) == sorted(bad) and len(records) == 24
    assert "not readable JSON" in reasons["half.json"]
    assert "metric version" in reasons["old-metrics.json"]
    assert "unknown model 'not-installed'" in reasons["unknown-model.json"]
    assert "'seed'" in reasons["no-seed.json"] and "'seed'" in reasons["string-seed.json"]
    assert "config_hash does not match" in reasons["tampered.json"]
    assert "'invariance'" in reasons["nan-metric.json"] and "'probe_accuracy'" in reasons["no-metric.json"]

    assert main(["leaderboard", "--results", str(results), "--out", str(tmp_path / "board")]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("equibench: warning:")]
    assert len(warnings) == len(bad) and all(any(name in w for w in warnings) for name in bad)


def test_a_missing_or_empty_results_folder_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["leaderboard", "--results", str(tmp_path / "none"), "--out", str(tmp_path / "board")]) == 2
    assert main(["leaderboard", "--results", str(tmp_path), "--out", str(tmp_path / "board")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "is not a folder" in err[0] and "no usable records" in err[1]
    assert not (tmp_path / "board").exists()


def test_every_number_comes_from_the_records_and_every_row_links_them(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "board"
    built = build_leaderboard(results, out)
    assert sorted(p.relative_to(out).as_posix() for p in built.written) == [
        "README.md", "index.html", "leaderboard.json", "plots/curves-digits-hue18.png",
        "plots/curves-digits-rot4.png", "plots/scatter.png"]
    board = json.loads((out / "leaderboard.json").read_text())
    assert board["metric_version"] == METRIC_VERSION and "t-interval" in board["interval"]
    assert board["provenance"]["profile"] == {"quick": 24} and len(board["rows"]) == 8
    for row in board["rows"]:
        files = [out / link for link in row["records"]]
        assert [Record(f, json.loads(f.read_text())).data["seed"] for f in files] == row["seeds"] == [0, 1, 2]
        expected = t_interval([json.loads(f.read_text())["metrics"]["h1_orbit_fitted"] for f in files], 0.0, 1.0)
        assert row["metrics"]["h1_orbit_fitted"] == expected.to_json()
    readme, page = (out / "README.md").read_text(), (out / "index.html").read_text()
    assert "0.11 ± 0.025" in readme and "0.11 ± 0.025" in page  # tvae: mean 0.11, half 4.303 * 0.01 / sqrt(3)
    assert "(records/tvae__digits-rot4__quick__seed0__" in readme.replace("../", "")
    assert readme.count("| 2=") == 4 and page.count("<table>") == readme.count("\n|--") == 6
    assert "vae (Roll, imposed)" in readme and readme.count("calibration (reference encoders") == 4
    assert "tvae ⚠1/3" in readme and "tvae, seed 1: orbit H@1 near chance" in readme
    assert "mean rank (2 datasets)" in readme and "sort" in page
    assert "equibench 0.1.0 (commit abc): 24 records" in readme and "device cpu" in readme


def test_rebuilding_from_the_same_records_gives_the_same_bytes(results: Path, tmp_path: Path) -> None:
    first = build_leaderboard(results, tmp_path)
    contents = {path: path.read_bytes() for path in first.written}
    second = build_leaderboard(results, tmp_path)
    assert {path: path.read_bytes() for path in second.written} == contents


NO_BROWSER = find_browser() is None and not os.environ.get("EQUIBENCH_REQUIRE_CHROMIUM")  # CI sets it


@pytest.mark.skipif(NO_BROWSER, reason="Chromium is not installed (Debian: apt-get install chromium)")
def test_the_page_renders_in_headless_chromium(results: Path, tmp_path: Path) -> None:
    build_leaderboard(results, tmp_path / "board")
    page = tmp_path / "board" / "index.html"
    dom = chromium(page, "--dump-dom")
    assert dom.count("<table>") == 6 and "plots/scatter.png" in dom
    png = matplotlib.image.imread(screenshot(page, tmp_path / "shot.png", 1200, 1600))
    assert png.shape[:2] == (1600, 1200)
    ink = (png[..., :3].mean(axis=-1) < 0.9).mean()
    assert 0.02 < ink < 0.9 and png[..., :3].std() > 0.05, "the screenshot is blank or a solid block"


def test_two_configs_no_override_tells_apart_are_one_warning_naming_what_differs(
        results: Path, capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    """A plugin's defaults changed between two sweeps into one folder: the superseded records would
    sit beside the new ones as a second row of the same name."""
    for seed in range(3):
        stale = _record("vae", "digits-rot4", seed, 0.6)
        stale["config"] = {"epochs": 60, "max_steps": 0}
        stale["config_hash"] = config_hash("vae", stale["config"], stale["dataset_hash"], seed)
        _write(results, stale)
    assert main(["leaderboard", "--results", str(results), "--out", str(tmp_path / "board")]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("equibench: warning:")]
    assert len(warnings) == 1
    assert "2 rows read 'vae' on digits-rot4" in warnings[0] and "differing in epochs, max_steps" in warnings[0]
    assert "vae__digits-rot4__quick__seed0__" in warnings[0]
