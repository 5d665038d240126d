"""The registry mechanism: named entries that describe a choice, and their parameters.

A :class:`Registry` holds :class:`Entry` objects (or subclasses) under a canonical name plus
aliases. An entry says what a user interface needs to present the choice (a label, a
description, parameters with their valid ranges) and where its implementation lives
(``loader``, a ``"module:attribute"`` string imported on first use, or the object itself).
This module imports only the standard library, so reading a registry is cheap: the CLI builds
its help from it without importing torch.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["Entry", "LoadedView", "Param", "Registry", "load_object", "normalise_name"]


def normalise_name(name: str) -> str:
    """The lookup key of a name: stripped, lower case, ``-`` and spaces read as ``_``.

    Examples
    --------
    >>> normalise_name(" Swiss-Roll ")
    'swiss_roll'
    """
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def load_object(target: Any) -> Any:
    """Resolve a ``"package.module:attribute"`` string to the object; anything else as is.

    Examples
    --------
    >>> load_object("math:pi") > 3
    True
    """
    if not isinstance(target, str):
        return target
    module, sep, attribute = target.partition(":")
    if not sep or not module or not attribute:
        raise ValueError(f"a loader must read 'package.module:attribute', got {target!r}")
    value: Any = importlib.import_module(module)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


_KINDS = ("int", "float", "str", "bool", "choice", "choices")


@dataclass(frozen=True)
class Param:
    """One setting with its type, default and valid range, read by the CLI and the app.

    Attributes
    ----------
    name : str
        Python name of the setting (a keyword argument of the library call).
    label : str
        Short label for a menu or slider.
    help : str
        One sentence for tooltips and ``--help``.
    kind : {"int", "float", "str", "bool", "choice", "choices"}
        Type of the value (``"choices"``: a list of names from ``choices``).
    default : object
        Default value.
    minimum, maximum : float or None
        Inclusive bounds for ``int`` and ``float`` settings (None: unbounded).
    step : float or None
        Step of a slider (None: 1 for ints, the interface's choice for floats).
    choices : tuple of str
        Allowed values of ``choice`` / ``choices`` settings (empty: read from a registry by
        the caller).

    Examples
    --------
    >>> width = Param("width", "Width n", "Width of the layer.", "int", 15, 1, 256)
    >>> width.parse("30")
    30
    >>> width.check(0)
    Traceback (most recent call last):
    ...
    ValueError: width must be an integer in [1, 256], got 0
    """

    name: str
    label: str
    help: str
    kind: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"Param.kind must be one of {_KINDS}, got {self.kind!r}")

    def range_text(self) -> str:
        """The valid range in words, e.g. ``"an integer in [1, 256]"``."""
        if self.kind in ("choice", "choices"):
            return f"one of {', '.join(self.choices)}" if self.choices else "a name"
        what = {"int": "an integer", "float": "a number", "bool": "true or false"}.get(
            self.kind, "text"
        )
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            return f"{what} in [{lo:g}, {hi:g}]"
        if lo is not None:
            return f"{what} >= {lo:g}"
        if hi is not None:
            return f"{what} <= {hi:g}"
        return what

    def check(self, value: Any) -> Any:
        """Return ``value`` converted to the setting's type, or raise ``ValueError``."""
        bad = ValueError(f"{self.name} must be {self.range_text()}, got {value!r}")
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise bad
            if isinstance(value, float) and not value.is_integer():
                raise bad
            value = int(value)
        elif self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise bad
            value = float(value)
            if not math.isfinite(value):
                raise bad
        elif self.kind == "bool":
            if not isinstance(value, bool):
                raise bad
            return value
        elif self.kind == "choice":
            if self.choices and value not in self.choices:
                raise bad
            return value
        elif self.kind == "choices":
            values = [value] if isinstance(value, str) else list(value)
            if not values or (self.choices and any(v not in self.choices for v in values)):
                raise bad
            return values
        else:
            return str(value)
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise bad
        return value

    def parse(self, text: str) -> Any:
        """Read the setting from text (a URL query value or a command-line value).

        Empty items of a list (``"a,,b"``) are refused, not skipped.
        """
        raw = text.strip()
        if self.kind == "int":
            try:
                return self.check(int(raw))
            except ValueError:
                raise ValueError(f"{self.name} must be {self.range_text()}, got {text!r}") from None
        if self.kind == "float":
            try:
                return self.check(float(raw))
            except ValueError:
                raise ValueError(f"{self.name} must be {self.range_text()}, got {text!r}") from None
        if self.kind == "bool":
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"{self.name} must be true or false, got {text!r}")
            return raw.lower() in ("true", "1")
        if self.kind == "choices":
            items = raw.split(",")
            if any(not item.strip() for item in items):
                raise ValueError(f"{self.name}: empty item in {text!r}")
            return self.check([item.strip() for item in items])
        return self.check(raw)

    def replace(self, **changes: Any) -> Param:
        """A copy with some fields changed."""
        from dataclasses import replace

        return replace(self, **changes)


@dataclass(frozen=True)
class Entry:
    """One registered choice.

    Attributes
    ----------
    name : str
        Canonical name (what results and URLs record).
    label : str
        Human-readable label for menus.
    description : str
        One or two sentences for tooltips, ``--help`` and the documentation.
    loader : str or object or None
        The implementation: ``"package.module:attribute"`` (imported on first
        :meth:`load`) or the object itself.
    aliases : tuple of str
        Other names that resolve to this entry.
    """

    name: str
    label: str
    description: str
    loader: Any = None
    aliases: tuple[str, ...] = ()

    def load(self) -> Any:
        """The implementation (imports its module on first use)."""
        if self.loader is None:
            raise ValueError(f"{self.name!r} has no implementation to load")
        return load_object(self.loader)


E = TypeVar("E", bound=Entry)


@dataclass
class Registry(Generic[E]):
    """Named entries of one kind, in registration order.

    Parameters
    ----------
    kind : str
        What the entries are, for messages (``"activation"``).
    entries : iterable of Entry
        Initial entries.

    Examples
    --------
    >>> reg = Registry("colour", [Entry("red", "Red", "A warm colour.", aliases=("r",))])
    >>> reg.resolve("R").label
    'Red'
    >>> reg.resolve("blue")
    Traceback (most recent call last):
    ...
    ValueError: unknown colour 'blue'; choose one of: red
    """

    kind: str
    entries: Iterable[E] = ()
    _items: dict[str, E] = field(default_factory=dict, init=False, repr=False)
    _aliases: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for entry in self.entries:
            self.register(entry)
        self.entries = ()

    def register(self, entry: E, *, replace: bool = False) -> E:
        """Add ``entry``; an existing name raises unless ``replace=True``.

        Returns the entry, so a registration can be written as a decorator-like call.
        """
        key = normalise_name(entry.name)
        if not key:
            raise ValueError(f"a {self.kind} needs a non-empty name")
        if not replace and (key in self._items or key in self._aliases):
            raise ValueError(f"a {self.kind} named {entry.name!r} is already registered")
        if key in self._items:
            self.unregister(key)
        self._items[key] = entry
        for alias in entry.aliases:
            self._aliases[normalise_name(alias)] = key
        return entry

    def unregister(self, name: str) -> E:
        """Remove the entry named ``name`` (or an alias of it) and return it."""
        entry = self.resolve(name)
        key = normalise_name(entry.name)
        del self._items[key]
        for alias in [a for a, target in self._aliases.items() if target == key]:
            del self._aliases[alias]
        return entry

    def _key(self, name: str) -> str | None:
        key = normalise_name(name)
        if key in self._items:
            return key
        return self._aliases.get(key)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._key(name) is not None

    def resolve(self, name: str) -> E:
        """The entry for ``name`` or an alias (case, ``-`` and spaces ignored).

        Raises
        ------
        ValueError
            Naming the unknown value and the registered choices.
        """
        key = self._key(name) if isinstance(name, str) else None
        if key is None:
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of: {self.choices_text()}")
        return self._items[key]

    def __getitem__(self, name: str) -> E:
        return self.resolve(name)

    def get(self, name: str, default: Any = None) -> E | Any:
        """The entry for ``name``, or ``default``."""
        key = self._key(name) if isinstance(name, str) else None
        return self._items[key] if key is not None else default

    def names(self) -> tuple[str, ...]:
        """Canonical names, in registration order."""
        return tuple(entry.name for entry in self._items.values())

    def labels(self) -> dict[str, str]:
        """``{name: label}``, in registration order (for menus' ``format_func``)."""
        return {entry.name: entry.label for entry in self._items.values()}

    def choices_text(self, names: Sequence[str] | None = None) -> str:
        """The names as a comma-separated list (for messages and ``--help``)."""
        return ", ".join(self.names() if names is None else names)

    def __iter__(self) -> Iterator[E]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)


class LoadedView(Mapping[str, Any]):
    """A read-only ``{name: implementation}`` view of a registry, always up to date.

    ``MANIFOLDS["spiral"]`` loads the entry's implementation; registering an entry adds it.

    Examples
    --------
    >>> reg = Registry("constant", [Entry("pi", "pi", "The circle constant.", "math:pi")])
    >>> view = LoadedView(reg)
    >>> list(view), round(view["pi"], 2)
    (['pi'], 3.14)
    """

    def __init__(self, registry: Registry[Any]) -> None:
        self._registry = registry

    def __getitem__(self, name: str) -> Any:
        entry = self._registry.get(name)
        if entry is None:
            raise KeyError(name)
        return entry.load()

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry.names())

    def __len__(self) -> int:
        return len(self._registry)

    def __repr__(self) -> str:
        return f"<{self._registry.kind}s: {', '.join(self._registry.names())}>"
