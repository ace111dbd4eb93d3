"""Dataset cards: the TOML file that defines a transformation dataset, one per dataset id.

A card names the source, the transformation (kind, order N, step, interpolation), the number
of base images in each split and the seed. A *view* card (a ``[views]`` table) names a continuous
family instead (:func:`equibench.groups.build_family`), the number of views of each base image and
the distribution of their elements; its ``[views.ood]`` table, if any, is the distribution of a
fourth split ``test_ood`` (see :mod:`equibench.data.views`). The built-in cards live in the repository's
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
from equibench.groups import Family, build_family
from equibench.transforms import Transformation, build_transformation

SPLITS = ("train", "fit", "test")
OOD = "test_ood"  # the out-of-distribution test split of a view dataset with a [views.ood] table


@dataclass(frozen=True)
class DatasetCard:
    """What a transformation dataset is, as written in its card."""

    id: str
    description: str
    source: str
    seed: int
    transformation: dict[str, Any]
    splits: dict[str, int]
    views: dict[str, Any] | None = None  # view datasets only: count, train and ood distributions

    @property
    def hash(self) -> str:
        """Hash of the card's content: the cache key of the generated dataset (an orbit card's
        hash is what it was before view cards existed)."""
        content = asdict(self)
        if self.views is None:
            del content["views"]
        blob = json.dumps(content, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @property
    def split_names(self) -> tuple[str, ...]:
        return (*SPLITS, OOD) if self.views is not None and "ood" in self.views else SPLITS

    def build_transformation(self) -> Transformation | Family:
        """The cyclic transformation of an orbit card, the family of a view card."""
        if self.views is not None:
            return build_family(str(self.transformation.get("kind", "")))
        return build_transformation(self.transformation)


def _check(card: DatasetCard, where: str) -> DatasetCard:
    if card.source not in SOURCES:
        raise ConfigError(f"{where}: unknown source {card.source!r}; use one of {', '.join(SOURCES)}")
    if sorted(card.splits) != sorted(card.split_names) or min(card.splits.values()) < 1:
        raise ConfigError(f"{where}: [splits] needs positive counts for exactly {', '.join(card.split_names)}")
    t = card.build_transformation()
    if card.views is not None:
        _check_views(card.views, t, where)
    stated = card.transformation.get("step_degrees")
    if stated is not None and (t.order is None or abs(float(stated) - 360.0 / t.order) > 1e-9):
        raise ConfigError(f"{where}: step_degrees {stated} is not 360/{t.order}")
    if card.transformation.get("interpolation") != t.interpolation:
        raise ConfigError(f"{where}: this transformation's interpolation is {t.interpolation!r}")
    return card


def _check_views(views: dict[str, Any], family: Family, where: str) -> None:
    """A view count of at least 2, and every sampled parameter one the family has, as intervals."""
    if not isinstance(views.get("count"), int) or views["count"] < 2:
        raise ConfigError(f"{where}: [views] count must be an integer of at least 2")
    names = {p.name for p in family.parameters}
    for table in ("train", "ood"):
        ranges = views.get(table, {})
        if table == "train" and not ranges:
            raise ConfigError(f"{where}: [views.train] must give the interval(s) of at least one of {', '.join(names)}")
        for name, intervals in ranges.items():
            if name not in names:
                raise ConfigError(f"{where}: [views.{table}] {name!r} is not a parameter of {family.kind} "
                                  f"({', '.join(names)})")
            pairs = [intervals] if intervals and not isinstance(intervals[0], list) else intervals
            if not pairs or any(len(i) != 2 or not float(i[0]) < float(i[1]) for i in pairs):
                raise ConfigError(f"{where}: [views.{table}] {name} must be [lo, hi] or [[lo, hi], ...] with lo < hi")


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
            views=dict(raw["views"]) if "views" in raw else None,
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
