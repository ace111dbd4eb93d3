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
    t = card.build_transformation()
    stated = card.transformation.get("step_degrees")
    if stated is not None and abs(float(stated) - 360.0 / t.order) > 1e-9:
        raise ConfigError(f"{where}: step_degrees {stated} is not 360/{t.order}")
    if card.transformation.get("interpolation") != t.interpolation:
        raise ConfigError(f"{where}: this transformation's interpolation is {t.interpolation!r}")
    return card


FIELDS: dict[str, tuple[type, str]] = {  # field -> (TOML type, how the error names it)
    "id": (str, "a string"),
    "description": (str, "a string"),
    "source": (str, "a string"),
    "seed": (int, "an integer"),
    "transformation": (dict, "a table [transformation]"),
    "splits": (dict, "a table [splits]"),
}
OPTIONAL = {"description"}
TRANSFORMATION_FIELDS = {"kind": (str, "a string"), "order": (int, "an integer")}


def _problems(table: dict[str, Any], fields: dict[str, tuple[type, str]], prefix: str = "") -> list[str]:
    """Each missing or ill-typed field of ``table``, as ``field 'x' ...`` phrases."""
    found = []
    for key, (kind, what) in fields.items():
        if key not in table:
            if key not in OPTIONAL:
                found.append(f"field '{prefix}{key}' is missing ({what})")
        elif not isinstance(table[key], kind) or isinstance(table[key], bool):
            found.append(f"field '{prefix}{key}' must be {what}, got {table[key]!r}")
    return found


def _field_problems(raw: dict[str, Any]) -> list[str]:
    found = _problems(raw, FIELDS)
    found += [f"unknown field '{key}'" for key in raw if key not in FIELDS]
    if isinstance(raw.get("transformation"), dict):
        found += _problems(raw["transformation"], TRANSFORMATION_FIELDS, "transformation.")
    if isinstance(raw.get("splits"), dict):
        splits = raw["splits"]
        found += [f"field 'splits.{key}' is missing (a positive integer)" for key in SPLITS if key not in splits]
        found += [f"field 'splits.{key}' must be a positive integer, got {value!r}" for key, value in splits.items()
                  if key in SPLITS and (not isinstance(value, int) or isinstance(value, bool) or value < 1)]
        found += [f"unknown split 'splits.{key}' (the splits are {', '.join(SPLITS)})"
                  for key in splits if key not in SPLITS]
    return found


def parse_card(text: str, where: str) -> DatasetCard:
    """Parse and check the TOML text of a card; ``where`` names it in error messages. Every
    missing or ill-typed field is named, all in one line, so that one edit fixes the card."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from None
    found = _field_problems(raw)
    if found:
        raise ConfigError(f"{where}: not a valid dataset card: {'; '.join(found)}")
    card = DatasetCard(id=raw["id"], description=raw.get("description", ""), source=raw["source"],
                       seed=raw["seed"], transformation=dict(raw["transformation"]), splits=dict(raw["splits"]))
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
