"""Run configuration: profiles and ``--set key=value`` overrides.

A model's config is its ``default_config(profile, spec)`` with the user's overrides applied.
Overrides may only name keys that exist and must keep their type, so a typo fails loudly
instead of silently training the default model.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from typing import Any

from equibench.errors import ConfigError

PROFILES = {
    "quick": "small and fast: trains and evaluates on a laptop CPU in minutes",
    "paper": "the published configuration of each model (hours on a GPU)",
}


def _parse_value(text: str) -> Any:
    """A TOML value (``3``, ``1e-4``, ``true``, ``[1, 2]``, ``"x"``); bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _coerce(key: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool) or default is None:
        ok = isinstance(value, bool) or default is None
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, type(default)) and not isinstance(value, bool)
    if not ok:
        raise ConfigError(f"--set {key}: expected a {type(default).__name__} like {default!r}, got {value!r}")
    return value


def apply_overrides(model: str, config: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``key=value`` strings to ``config``; unknown keys and wrong types are errors."""
    config = dict(config)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        if key not in config:
            known = ", ".join(sorted(config)) or "none"
            raise ConfigError(f"--set {key}: model {model!r} has no such option; its options: {known}")
        config[key] = _coerce(key, _parse_value(text), config[key])
    return config


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; use one of: {', '.join(PROFILES)}")
    return profile

