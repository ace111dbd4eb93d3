"""Model discovery through the ``equibench.models`` entry-point group.

Built-in plugins register exactly as a third-party package does, in its ``pyproject.toml``::

    [project.entry-points."equibench.models"]
    my-model = "my_package.module:MyEncoder"
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from equibench.errors import ConfigError, PluginError
from equibench.models.encoder import Encoder

GROUP = "equibench.models"


def available_models() -> dict[str, EntryPoint]:
    """Every registered model, by name."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load_model_class(name: str) -> type[Encoder]:
    """The :class:`Encoder` subclass registered as ``name``."""
    models = available_models()
    if name not in models:
        known = ", ".join(sorted(models)) or "none installed"
        raise ConfigError(f"unknown model {name!r}; installed models: {known} (see 'equibench list')")
    try:
        cls = models[name].load()
    except Exception as exc:  # a broken third-party package must not crash the harness
        raise PluginError(f"plugin {name!r} ({models[name].value}) failed to import: {exc!r}") from None
    if not (isinstance(cls, type) and issubclass(cls, Encoder)):
        raise PluginError(f"plugin {name!r} ({models[name].value}) is not an equibench Encoder subclass")
    if cls.__abstractmethods__:
        missing = ", ".join(sorted(cls.__abstractmethods__))
        raise PluginError(f"plugin {name!r} does not implement the required method(s): {missing}")
    return cls
