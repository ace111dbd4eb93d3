"""The cyclic datasets' data are what the committed records were scored on, byte for byte."""

import json
from pathlib import Path

import pytest

from equibench.data.cards import load_card
from equibench.data.orbits import generate
from equibench.data.sources import load_source

RECORDS = Path(__file__).parent.parent / "leaderboard" / "records"


@pytest.mark.parametrize("dataset", ["digits-rot4", "digits-shift7", "digits-rot18", "digits-scale18",
                                     "digits-hue18", "digits-rothue18"])  # cheap to generate
def test_regenerated_data_has_the_committed_records_hash(dataset):
    record = json.loads(next(RECORDS.glob(f"*__{dataset}__quick__seed0__*.json")).read_text())
    card = load_card(dataset)
    assert record["dataset_card"]["card_hash"] == card.hash
    data = generate(card, load_source(card.source), lambda it, **kw: it)
    assert data.content_hash == record["dataset_hash"]
