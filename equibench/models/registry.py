"""Model discovery through the ``equibench.models`` entry-point group, or from a file.

Built-in plugins register exactly as a third-party package does, in its ``pyproject.toml``::

    [project.entry-points."equibench.models"]
    my-model = "my_package.module:MyEncoder"

Entry points stay the way to publish a model; ``path/to/file.py:ClassName`` runs a class from a
file with nothing installed, for trying a model before packaging it. Its record names the file's
sha256, and so does its model name, so that a changed file never loads a stale checkpoint.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

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
    return check_encoder_class(cls, f"plugin {name!r} ({models[name].value})")


def check_encoder_class(cls: object, what: str) -> type[Encoder]:
    """``cls`` if it is a complete Encoder subclass, else a :class:`PluginError` naming ``what``."""
    if not (isinstance(cls, type) and issubclass(cls, Encoder)):
        raise PluginError(f"{what} is not an equibench Encoder subclass (from equibench.models import Encoder)")
    if cls.__abstractmethods__:
        missing = ", ".join(sorted(cls.__abstractmethods__))
        raise PluginError(f"{what} does not implement the required method(s): {missing}")
    return cls


@dataclass(frozen=True)
class ModelRef:
    """A model as a run knows it: the name its record and checkpoints go by, its class, what it
    says it is, and where its code came from (the record's ``source``)."""

    name: str
    cls: type[Encoder]
    description: str
    source: dict[str, Any]


def resolve_model(spec: str) -> ModelRef:
    """An installed model by name, or ``path/to/file.py:ClassName``."""
    if spec.endswith(".py") or ".py:" in spec:
        return _from_file(spec)
    cls = load_model_class(spec)
    return ModelRef(spec, cls, cls.description, {"kind": "entry-point", "value": available_models()[spec].value})


def _from_file(spec: str) -> ModelRef:
    """The Encoder subclass ``ClassName`` defined in ``path/to/file.py``, imported without installing."""
    stem, sep, name = spec.partition(".py:")
    path = Path(stem + ".py" if sep else spec)
    if not name:
        raise ConfigError(f"--model {spec} names no class; give {spec}:ClassName")
    if not path.is_file():
        raise ConfigError(f"--model {spec}: there is no file {path}; give path/to/file.py:ClassName")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    module_name = f"equibench_file_{path.stem}_{sha[:12]}"  # one module per content: reloads when it changes
    if module_name not in sys.modules:
        loader = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(loader)
        sys.modules[module_name] = module  # so its classes pickle and its dataclasses resolve
        try:
            loader.loader.exec_module(module)
        except Exception as exc:  # the plugin's own bug, reported as the entry points' are
            del sys.modules[module_name]
            raise PluginError(f"--model {spec}: {path} failed to import: {exc!r}") from None
    module = sys.modules[module_name]
    if not hasattr(module, name):
        found = [k for k, v in vars(module).items()
                 if isinstance(v, type) and issubclass(v, Encoder) and v is not Encoder]
        raise ConfigError(f"--model {spec}: {path} defines no {name!r}; its Encoder classes: "
                          f"{', '.join(found) or 'none'}")
    cls = check_encoder_class(getattr(module, name), f"--model {spec}: {name}")
    source = {"kind": "file", "path": str(path.resolve()), "class": name, "sha256": sha}
    return ModelRef(f"{path.stem}.{name}@{sha[:8]}", cls, cls.description, source)
