"""The published leaderboard (``leaderboard/``) is what its committed records build, byte for byte,
and its records folder holds nothing a record does not account for."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from equibench.cli import main

PUBLISHED = Path(__file__).parent.parent / "leaderboard"
RECORDS = PUBLISHED / "records"
GENERATED = ("README.md", "leaderboard.json", "index.html")  # the plots' bytes follow matplotlib's version


def test_the_published_board_is_rebuilt_byte_for_byte_from_its_records(tmp_path: Path, monkeypatch) -> None:
    """Nobody edited the board by hand, and no table lags behind a record committed since."""
    board = tmp_path / "leaderboard"
    (board / "records").mkdir(parents=True)
    for record in RECORDS.glob("*.json"):
        shutil.copy(record, board / "records" / record.name)
    monkeypatch.chdir(tmp_path)  # the board names the command that built it, paths as given
    assert main(["leaderboard", "--results", "leaderboard/records", "--out", "leaderboard"]) == 0
    for name in GENERATED:
        assert (board / name).read_bytes() == (PUBLISHED / name).read_bytes(), (
            f"leaderboard/{name} is not what its records build: run scripts/publish_leaderboard.sh")


def test_every_file_beside_the_records_belongs_to_one() -> None:
    """Each record's cell log, and where a run drew them its figures (not published: .gitignore),
    nothing else: replacing a record (a retrained cell has another config hash, so another file
    name) must remove its files too."""
    records = {path.stem: json.loads(path.read_text()) for path in RECORDS.glob("*.json")}
    logs = {"logs/" + stem.rsplit("__", 1)[0] + ".log" for stem in records}
    figures = {name for r in records.values() for name in (r.get("figures") or {}).values()}
    present = {p.relative_to(RECORDS).as_posix() for p in RECORDS.rglob("*") if p.is_file()}
    strays = present - logs - figures - {f"{stem}.json" for stem in records}
    assert sorted(strays) == [], "files in leaderboard/records that no record names"
    assert sorted(logs - present) == [], "records whose cell log leaderboard/records/logs lacks"
