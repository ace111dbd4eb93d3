"""Dataset cards: the TOML file that defines a transformation dataset, one per dataset id.

A card names the source, the transformation (kind, order N, step, interpolation), the number
of base images in each split and the seed; a card of a rendered source (3D objects) also the
``image_size`` its views are rendered at. A *view* card (a ``[views]`` table) names a continuous
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

from equibench.data.sources import RENDERED, SOURCES
from equibench.errors import ConfigError
from equibench.groups import Family, build_family
from equibench.transforms import Transformation, build_transformation

SPLITS = ("train", "fit", "test")
OOD = "test_ood"  # the out-of-distribution test split of a view dataset with a [views.ood] table


def split_names(views: Any) -> tuple[str, ...]:
    """The splits of a card with this ``[views]`` table: ``test_ood`` too where it has ``[views.ood]``."""
    return (*SPLITS, OOD) if isinstance(views, dict) and "ood" in views else SPLITS


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
    image_size: int | None = None  # rendered sources only: the side of the square images, in pixels

    @property
    def hash(self) -> str:
        """Hash of the card's content: the cache key of the generated dataset (a card without
        views or image size hashes as it did before those fields existed)."""
        content = asdict(self)
        for optional in ("views", "image_size"):
            if content[optional] is None:
                del content[optional]
        blob = json.dumps(content, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @property
    def split_names(self) -> tuple[str, ...]:
        return split_names(self.views)

    def build_transformation(self) -> Transformation | Family:
        """The cyclic transformation of an orbit card, the family of a view card."""
        if self.views is not None:
            return build_family(str(self.transformation.get("kind", "")))
        return build_transformation(self.transformation)


def _check(card: DatasetCard, where: str) -> DatasetCard:
    if card.source not in SOURCES:
        raise ConfigError(f"{where}: unknown source {card.source!r}; use one of {', '.join(SOURCES)}")
    t = card.build_transformation()
    if card.views is not None:
        _check_views(card.views, t, where)
    _check_rendering(card, t, where)
    stated = card.transformation.get("step_degrees")
    if stated is not None and (t.order is None or abs(float(stated) - 360.0 / t.order) > 1e-9):
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
    "views": (dict, "a table [views]"),
    "image_size": (int, "an integer (pixels)"),
}
OPTIONAL = {"description", "views", "image_size"}
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
    if isinstance(raw.get("transformation"), dict):  # a view card's family has no order
        fields = {"kind": TRANSFORMATION_FIELDS["kind"]} if "views" in raw else TRANSFORMATION_FIELDS
        found += _problems(raw["transformation"], fields, "transformation.")
    if isinstance(raw.get("splits"), dict):
        splits = raw["splits"]
        names = split_names(raw.get("views"))
        found += [f"field 'splits.{key}' is missing (a positive integer)" for key in names if key not in splits]
        found += [f"field 'splits.{key}' must be a positive integer, got {value!r}" for key, value in splits.items()
                  if key in names and (not isinstance(value, int) or isinstance(value, bool) or value < 1)]
        found += [f"unknown split 'splits.{key}' (the splits are {', '.join(names)})"
                  for key in splits if key not in names]
    return found


def _check_rendering(card: DatasetCard, t: Transformation | Family, where: str) -> None:
    """A rendered source (3D objects) goes with a family that turns objects and an image size; an
    image source with neither."""
    rendered = card.source in RENDERED
    turns_objects = isinstance(t, Family) and not t.acts_on_images
    if rendered and not turns_objects:
        raise ConfigError(f"{where}: source {card.source!r} renders 3D objects: give a [views] table and "
                          "transformation kind 'so3'")
    if turns_objects and not rendered:
        raise ConfigError(f"{where}: kind {t.kind!r} turns 3D objects, not images: use a rendered source "
                          f"({', '.join(RENDERED)})")
    if rendered and (card.image_size is None or card.image_size < 8):
        raise ConfigError(f"{where}: source {card.source!r} renders its views: give image_size = 28 or 64 "
                          "(pixels, at least 8)")
    if card.image_size is not None and not rendered:
        raise ConfigError(f"{where}: image_size is for a rendered source ({', '.join(RENDERED)}); "
                          f"{card.source!r} images are 28x28")


def _check_views(views: dict[str, Any], family: Family, where: str) -> None:
    """A view count of at least 2, and every sampled parameter one the family has, as intervals."""
    if not isinstance(views.get("count"), int) or views["count"] < 2:
        raise ConfigError(f"{where}: [views] count must be an integer of at least 2")
    names = [p.name for p in family.sampled]
    for table in ("train", "ood"):
        ranges = views.get(table, {})
        if table == "train" and not ranges:
            raise ConfigError(f"{where}: [views.train] must give the interval(s) of at least one of {', '.join(names)}")
        for name, intervals in ranges.items():
            pairs = [intervals] if intervals and not isinstance(intervals[0], list) else intervals
            if name in names and (not pairs or any(len(i) != 2 or not float(i[0]) < float(i[1]) for i in pairs)):
                raise ConfigError(f"{where}: [views.{table}] {name} must be [lo, hi] or [[lo, hi], ...] with lo < hi")
        problem = family.sampling_problem(ranges)
        if problem:
            raise ConfigError(f"{where}: [views.{table}] {problem}")


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
                       seed=raw["seed"], transformation=dict(raw["transformation"]), splits=dict(raw["splits"]),
                       views=dict(raw["views"]) if "views" in raw else None, image_size=raw.get("image_size"))
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
