"""One wrapper around every call into plugin code, so that a crashing plugin is one line, not a traceback.

A plugin is someone else's code: an exception it raises (in ``__init__``, ``fit``, ``encode``, its
declared operator, ``log_likelihood``, ``figures``, ...) is a fault of that plugin, not of
equibench, and the user needs to know which plugin and which method, with the traceback only when
asked for (``--traceback``). Where the user ``--set`` options, the crash is most likely caused by
those values, so the line names them too. :class:`~equibench.models.encoder.NotMeasurable` is
not a crash (the suite reports the metric null with its reason) and passes through unchanged.

The harness never calls a plugin directly: it builds the model with :func:`construct` and uses the
:class:`GuardedModel` it returns, whose every method call (and every call of the operator that
``operator()`` returns) runs inside :func:`plugin_call`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from equibench.errors import EquibenchError, PluginCrash, PluginError
from equibench.models.encoder import DataSpec, Encoder, NotMeasurable


@contextmanager
def plugin_call(plugin: str, method: str, overrides: Sequence[str] = ()) -> Iterator[None]:
    """Run a block of plugin code; any exception but ours and :class:`NotMeasurable` becomes a
    :class:`PluginCrash` naming ``plugin``, ``method`` (as written, e.g. ``"fit()"``) and any
    ``--set`` ``overrides`` the crash is likely due to."""
    try:
        yield
    except (EquibenchError, NotMeasurable):
        raise
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        given = f" with {' '.join(f'--set {o}' for o in overrides)}" if overrides else ""
        fix = f"; check the values against 'equibench list --model {plugin}'" if overrides else ""
        raise PluginCrash(f"plugin {plugin!r} raised {type(exc).__name__} in {method}{given}: "
                          f"{lines[0] if lines else '(no message)'}{fix}") from exc


def construct(cls: type[Encoder], plugin: str, config: dict[str, Any], spec: DataSpec, device: Any,
              overrides: Sequence[str] = ()) -> GuardedModel:
    """``cls(config, spec, device)`` under the guard, wrapped so that every later call is guarded."""
    with plugin_call(plugin, "__init__()", overrides):
        model = cls(config, spec, device)
    return GuardedModel(model, plugin, overrides)


class GuardedModel:
    """An :class:`Encoder` whose methods, attributes and declared operators run under
    :func:`plugin_call`; use it exactly as the model itself."""

    def __init__(self, model: Encoder, plugin: str, overrides: Sequence[str] = ()) -> None:
        self._model, self._plugin, self._overrides = model, plugin, tuple(overrides)

    def __getattr__(self, name: str) -> Any:
        with plugin_call(self._plugin, name, self._overrides):  # a property is plugin code too
            value = getattr(self._model, name)
        if not inspect.ismethod(value):  # data, and callables that are data (a torch module)
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            with plugin_call(self._plugin, f"{name}()", self._overrides):
                result = value(*args, **kwargs)
            return self._guard_operator(result) if name == "operator" and result is not None else result

        return call

    def _guard_operator(self, op: Callable) -> Callable:
        if not callable(op):
            raise PluginError(f"plugin {self._plugin!r}: operator() returned {type(op).__name__}, "
                              "expected a function (z, k) -> z or None")

        def rho(z: Any, k: int) -> Any:
            with plugin_call(self._plugin, f"its declared operator (k={k})", self._overrides):
                return op(z, k)

        return rho
