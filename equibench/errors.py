"""Errors that reach the user as one line naming the fix, never as a traceback.

The CLI (and each cell of a sweep, in its own process) runs its work through :func:`exit_status`,
which prints an :class:`EquibenchError` as one line; anything else is a bug in equibench and keeps
its traceback.
"""

import sys
from collections.abc import Callable
from traceback import print_exception


class EquibenchError(Exception):
    """A problem with the user's input or environment, with a message that names the fix."""


class ConfigError(EquibenchError):
    """An unknown model, dataset, profile or option, or a value of the wrong kind."""


class DataError(EquibenchError):
    """Base images that cannot be found or read (a missing ``--data-root``, say)."""


class PluginError(EquibenchError):
    """A model plugin that breaks the interface: a missing method, a wrong shape, a NaN."""


def exit_status(command: Callable[[], int], traceback: bool = False) -> int:
    """Run ``command`` and return its exit status: 2 after one line for an :class:`EquibenchError`
    (a plugin's crash with its traceback above it when ``traceback``), 130 after an interrupt
    (every write is atomic, so an interrupted run leaves no record)."""
    try:
        return command()
    except EquibenchError as exc:
        crash = isinstance(exc, PluginCrash)
        if crash and traceback:
            print_exception(exc.__cause__, file=sys.stderr)
        hint = " (rerun with --traceback to see where)" if crash and not traceback else ""
        print(f"equibench: error: {exc}{hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("equibench: interrupted; no record was written", file=sys.stderr)
        return 130


class PluginCrash(PluginError):
    """Plugin code raised an exception (see :mod:`equibench.models.guard`); ``__cause__`` is the
    plugin's own exception, whose traceback ``--traceback`` prints."""
