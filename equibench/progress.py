"""The one progress bar of equibench (tqdm), hidden when output is not a terminal."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T], desc: str | None = None, total: int | None = None,
             leave: bool = True) -> Iterable[T]:
    """Wrap a loop in a progress bar on stderr (none when stderr is not a terminal)."""
    return tqdm(iterable, desc=desc, total=total, leave=leave, disable=None, dynamic_ncols=True)


def counter(desc: str, total: int, unit: str = "it") -> tqdm:
    """A bar advanced by hand (``bar.update(1)``), for work that finishes outside this loop."""
    return tqdm(desc=desc, total=total, unit=unit, disable=None, dynamic_ncols=True)


def quiet(iterable: Iterable[T], **_: object) -> Iterable[T]:
    """The loop as it is, no bar: the progress argument for work that reports nothing."""
    return iterable
