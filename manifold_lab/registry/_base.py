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

    Parameters
    ----------
    name : str
        A name as a user typed it (``" Swiss-Roll "``).

    Returns
    -------
    str
        The key under which registries store and look up the name.

    Examples
    --------
    >>> normalise_name(" Swiss-Roll ")
    'swiss_roll'
    """
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def load_object(target: Any) -> Any:
    """Resolve a ``"package.module:attribute"`` string to the object; anything else as is.

    Parameters
    ----------
    target : str or object
        ``"package.module:attribute"`` (the attribute may be dotted: ``"mod:Class.method"``),
        or an object, which is returned unchanged.

    Returns
    -------
    object
        The attribute, after importing its module.

    Raises
    ------
    ValueError
        If a string does not read ``"package.module:attribute"``.

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

    Parameters
    ----------
    name : str
        Python name of the setting (a keyword argument of the library call).
    label : str
        Short label for a menu or slider.
    help : str
        One sentence for tooltips and ``--help``.
    kind : {"int", "float", "str", "bool", "choice", "choices"}
        Type of the value (``"choices"``: a list of names from ``choices``).
    default : object, default=None
        Default value.
    minimum, maximum : float or None, default=None
        Inclusive bounds for ``int`` and ``float`` settings (None: unbounded).
    step : float or None, default=None
        Step of a slider (None: 1 for ints, the interface's choice for floats).
    choices : tuple of str, default=()
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
        """The valid range in words, e.g. ``"an integer in [1, 256]"``.

        Returns
        -------
        str
            ``"one of a, b"`` for choices, ``"an integer in [lo, hi]"``, ``"a number >= lo"``,
            ``"true or false"`` and so on; used in error messages and ``--help``.
        """
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
        """Return ``value`` converted to the setting's type, or raise ``ValueError``.

        Parameters
        ----------
        value : object
            A Python value: a number for ``int``/``float`` (an integral float is accepted as
            an ``int``; booleans are not numbers here), a bool, a name, or a list of names
            for ``choices``.

        Returns
        -------
        object
            The value as an ``int``, ``float``, ``bool`` or ``str``, or a list of names for
            ``choices``.

        Raises
        ------
        ValueError
            If the value has the wrong type, is not finite, is out of range or is not one of
            the choices; the message names the setting and its valid range.
        """
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

        Parameters
        ----------
        text : str
            The value as text; ``"true"``/``"false"``/``"1"``/``"0"`` for booleans, a
            comma-separated list for ``choices``.

        Returns
        -------
        object
            The parsed value, checked as by :meth:`check`.

        Raises
        ------
        ValueError
            If the text cannot be read as the setting's type or the value is out of range.
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
        """A copy with some fields changed.

        Parameters
        ----------
        **changes
            New values of fields, by name (``default=30``).

        Returns
        -------
        Param
            A new setting; this one is unchanged.
        """
        from dataclasses import replace

        return replace(self, **changes)


@dataclass(frozen=True)
class Entry:
    """One registered choice.

    Parameters
    ----------
    name : str
        Canonical name (what results and URLs record).
    label : str
        Human-readable label for menus.
    description : str
        One or two sentences for tooltips, ``--help`` and the documentation.
    loader : str or object or None, default=None
        The implementation: ``"package.module:attribute"`` (imported on first
        :meth:`load`) or the object itself.
    aliases : tuple of str, default=()
        Other names that resolve to this entry.
    """

    name: str
    label: str
    description: str
    loader: Any = None
    aliases: tuple[str, ...] = ()

    def load(self) -> Any:
        """The implementation (imports its module on first use).

        Returns
        -------
        object
            What ``loader`` names (a function, class or constant).

        Raises
        ------
        ValueError
            If the entry has no loader.
        """
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

        Parameters
        ----------
        entry : Entry
            The entry; its name and aliases are normalised with :func:`normalise_name`.
        replace : bool, default=False
            Replace an entry of the same name instead of raising.

        Returns
        -------
        Entry
            ``entry`` itself, so a registration can be written as a decorator-like call.

        Raises
        ------
        ValueError
            If the name is empty, or already registered (as a name or an alias) and
            ``replace`` is False.
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
        """Remove the entry named ``name`` (or an alias of it) and return it.

        Parameters
        ----------
        name : str
            Name or alias of the entry.

        Returns
        -------
        Entry
            The removed entry (its aliases are removed too).
        """
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

        Parameters
        ----------
        name : str
            Name or alias of the entry.

        Returns
        -------
        Entry
            The registered entry.

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
        """The entry for ``name``, or ``default``.

        Parameters
        ----------
        name : str
            Name or alias of the entry.
        default : object, default=None
            What to return when no entry has that name.

        Returns
        -------
        Entry or object
            The entry, or ``default`` (never raises).
        """
        key = self._key(name) if isinstance(name, str) else None
        return self._items[key] if key is not None else default

    def names(self) -> tuple[str, ...]:
        """Canonical names, in registration order.

        Returns
        -------
        tuple of str
            One name per entry (aliases left out).
        """
        return tuple(entry.name for entry in self._items.values())

    def labels(self) -> dict[str, str]:
        """``{name: label}``, in registration order (for menus' ``format_func``).

        Returns
        -------
        dict of str to str
            Canonical name to human-readable label.
        """
        return {entry.name: entry.label for entry in self._items.values()}

    def choices_text(self, names: Sequence[str] | None = None) -> str:
        """The names as a comma-separated list (for messages and ``--help``).

        Parameters
        ----------
        names : sequence of str or None, default=None
            The names to list; None lists every registered name.

        Returns
        -------
        str
            ``"a, b, c"``.
        """
        return ", ".join(self.names() if names is None else names)

    def __iter__(self) -> Iterator[E]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)


class LoadedView(Mapping[str, Any]):
    """A read-only ``{name: implementation}`` view of a registry, always up to date.

    ``MANIFOLDS["spiral"]`` loads the entry's implementation; registering an entry adds it.

    Parameters
    ----------
    registry : Registry
        The registry to view; later registrations and removals show up in the view.

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
