"""Errors that reach the user as one line naming the fix, never as a traceback.

The CLI catches :class:`EquibenchError` and prints its message; anything else is a bug in
equibench and keeps its traceback.
"""


class EquibenchError(Exception):
    """A problem with the user's input or environment, with a message that names the fix."""


class ConfigError(EquibenchError):
    """An unknown model, dataset, profile or option, or a value of the wrong kind."""


class DataError(EquibenchError):
    """Base images that cannot be found or read (a missing ``--data-root``, say)."""


class PluginError(EquibenchError):
    """A model plugin that breaks the interface: a missing method, a wrong shape, a NaN."""


class PluginCrash(PluginError):
    """Plugin code raised an exception (see :mod:`equibench.models.guard`); ``__cause__`` is the
    plugin's own exception, whose traceback ``--traceback`` prints."""
