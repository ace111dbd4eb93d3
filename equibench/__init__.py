"""equibench: measure how equivariant a learned representation is.

The data flow is the package layout: ``data`` (orbits under a group action) -> ``models``
(plugins that encode) -> ``metrics`` (commutativity and the measures beside it) -> ``runs``
(one JSON record per result) -> leaderboard.

From Python, ``equibench.evaluate(model)`` scores a model as ``equibench run`` does and
``equibench.records.load(folder)`` reads records into a DataFrame (docs/python-api.md). They are
imported on first use, so that ``import equibench`` (and the command line's start) stays light.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"
__all__ = ["Result", "dataset", "evaluate", "records"]


def __getattr__(name: str) -> Any:
    if name in ("Result", "dataset", "evaluate"):
        return getattr(import_module("equibench.api"), name)
    if name == "records":
        return import_module("equibench.records")
    raise AttributeError(f"module 'equibench' has no attribute {name!r}")
