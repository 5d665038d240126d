"""Reading ``KEY=VALUE`` settings and comma-separated lists from the command line."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["parse_value", "split_key_value", "split_names"]


def parse_value(raw: str) -> Any:
    """A command-line value: JSON (numbers, lists, ``true``, ``null``), ``None``/``True``/
    ``False`` in any case, or else the text itself (also for JSON nested too deeply to read).

    Examples
    --------
    >>> parse_value("3"), parse_value("none"), parse_value("relu6")
    (3, None, 'relu6')
    """
    if raw.lower() in ("none", "null"):
        return None
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        return raw


def split_key_value(text: str, option: str) -> tuple[str, Any]:
    """``"KEY=VALUE"`` -> ``(key, parse_value(value))``; ``option`` names the flag in errors.

    Examples
    --------
    >>> split_key_value("dim=3", "--manifold-arg")
    ('dim', 3)
    """
    if "=" not in text:
        raise ValueError(f"{option} expects KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    if not key.strip():
        raise ValueError(f"{option} expects KEY=VALUE, got {text!r}")
    return key.strip(), parse_value(raw)


def split_names(text: str, option: str) -> list[str]:
    """Comma-separated names; an empty item (``"a,,b"``, a trailing comma) is an error.

    Examples
    --------
    >>> split_names("relu, relu6", "--activation")
    ['relu', 'relu6']
    >>> split_names("relu,,relu6", "--activation")
    Traceback (most recent call last):
    ...
    ValueError: --activation has an empty item in 'relu,,relu6'
    """
    items = [x.strip() for x in text.split(",")]
    if not text.strip() or any(not x for x in items):
        raise ValueError(f"{option} has an empty item in {text!r}")
    return items
