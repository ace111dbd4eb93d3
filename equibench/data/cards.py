"""Dataset cards: the TOML file that defines a transformation dataset, one per dataset id.

A card names the source, the transformation (kind, order N, step, interpolation), the number
of base images in each split and the seed. The built-in cards live in the repository's
``datasets/`` folder (shipped inside the package as ``equibench.cards``); a path to any other
card file works wherever a dataset id does. A card is checked against the transformation it
builds, so a card cannot state a step or an interpolation that the code does not perform.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from equibench.data.sources import SOURCES
from equibench.errors import ConfigError
from equibench.transforms import Transformation, build_transformation

SPLITS = ("train", "fit", "test")


@dataclass(frozen=True)
class DatasetCard:
    """What a transformation dataset is, as written in its card."""

    id: str
    description: str
    source: str
    seed: int
    transformation: dict[str, Any]
    splits: dict[str, int]

    @property
    def hash(self) -> str:
        """Hash of the card's content: the cache key of the generated dataset."""
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def build_transformation(self) -> Transformation:
        return build_transformation(self.transformation)


def _check(card: DatasetCard, where: str) -> DatasetCard:
    if card.source not in SOURCES:
        raise ConfigError(f"{where}: unknown source {card.source!r}; use one of {', '.join(SOURCES)}")
    if sorted(card.splits) != sorted(SPLITS) or min(card.splits.values()) < 1:
        raise ConfigError(f"{where}: [splits] needs positive counts for exactly {', '.join(SPLITS)}")
    t = card.build_transformation()
    stated = card.transformation.get("step_degrees")
    if stated is not None and abs(float(stated) - 360.0 / t.order) > 1e-9:
        raise ConfigError(f"{where}: step_degrees {stated} is not 360/{t.order}")
    if card.transformation.get("interpolation") != t.interpolation:
        raise ConfigError(f"{where}: this transformation's interpolation is {t.interpolation!r}")
    return card


def parse_card(text: str, where: str) -> DatasetCard:
    """Parse and check the TOML text of a card; ``where`` names it in error messages."""
    try:
        raw = tomllib.loads(text)
        card = DatasetCard(
            id=str(raw["id"]),
            description=str(raw.get("description", "")),
            source=str(raw["source"]),
            seed=int(raw["seed"]),
            transformation=dict(raw["transformation"]),
            splits={k: int(v) for k, v in raw["splits"].items()},
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: not a valid dataset card ({exc!r})") from None
    return _check(card, where)


def _builtin_dir():
    return resources.files("equibench.cards")


def builtin_card_ids() -> list[str]:
    return sorted(p.name[: -len(".toml")] for p in _builtin_dir().iterdir() if p.name.endswith(".toml"))


def load_card(name: str) -> DatasetCard:
    """Load a built-in card by dataset id, or any card by the path of its TOML file."""
    if name.endswith(".toml"):
        path = Path(name)
        if not path.is_file():
            raise ConfigError(f"dataset card {name} does not exist")
        return parse_card(path.read_text(), str(path))
    entry = _builtin_dir() / f"{name}.toml"
    if not entry.is_file():
        raise ConfigError(
            f"unknown dataset {name!r}; run 'equibench list' for the ids, or pass a card's .toml path"
        )
    return parse_card(entry.read_text(), f"datasets/{name}.toml")
