"""Errors that reach the user as one line naming the fix, never as a traceback.

The CLI (and each cell of a sweep, in its own process) runs its work through :func:`exit_status`,
which prints an :class:`EquibenchError` as one line; anything else is a bug in equibench and keeps
its traceback.
"""

import sys
from collections.abc import Callable


class EquibenchError(Exception):
    """A problem with the user's input or environment, with a message that names the fix."""


class ConfigError(EquibenchError):
    """An unknown model, dataset, profile or option, or a value of the wrong kind."""


class DataError(EquibenchError):
    """Base images that cannot be found or read (a missing ``--data-root``, say)."""


class PluginError(EquibenchError):
    """A model plugin that breaks the interface: a missing method, a wrong shape, a NaN."""


def exit_status(command: Callable[[], int]) -> int:
    """Run ``command`` and return its exit status: 2 after one line for an :class:`EquibenchError`,
    130 after an interrupt (every write is atomic, so an interrupted run leaves no record)."""
    try:
        return command()
    except EquibenchError as exc:
        print(f"equibench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("equibench: interrupted; no record was written", file=sys.stderr)
        return 130
