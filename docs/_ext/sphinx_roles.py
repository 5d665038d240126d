"""Griffe extension of the documentation site: Sphinx cross-reference roles become links.

The docstrings are numpydoc, written for Sphinx as well as for ``help()``, so they cross-reference
with roles such as ``:func:`~manifold_lab.sweep```, ``:class:`ProbeResult``` or
``:meth:`load```. mkdocstrings does not read roles: they would show as raw text. When griffe has
loaded the package, this extension rewrites every docstring before it is parsed:

- a role whose target griffe finds in the package becomes an *optional* autorefs reference to
  the object's canonical path (where the API pages document it): a link when a page renders that
  object, inline code when none does, never a broken reference, so ``mkdocs build --strict``
  stays green;
- any other role (``:class:`OSError```, ``:func:`torch.save```) becomes inline code.

Targets are resolved as Sphinx does: relative to the docstring's object (its class, its module
and what the module imports), then as a full path, then in the flat ``manifold_lab`` namespace.
``~`` shows only the last component; ``:role:`title <target>``` shows ``title``.

Registered in ``mkdocs.yml`` under the python handler's ``extensions``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import griffe

__all__ = ["ROLE_RE", "Index", "SphinxRoles", "resolver", "rewrite_roles"]

ROLE_RE = re.compile(
    r":(?:py:)?(?P<role>func|meth|class|mod|data|attr|obj|exc|const):`(?P<content>[^`]+)`"
)
"""A Sphinx role of the Python domain, e.g. ``:func:`~manifold_lab.sweep```."""

_TITLED = re.compile(r"^(?P<title>.+?)\s*<(?P<target>[^<>]+)>$", flags=re.DOTALL)

PACKAGE = "manifold_lab"


def _parse(content: str) -> tuple[str, str]:
    """``(target, text shown)`` of a role's content, Sphinx's ``~`` and ``title <target>``."""
    content = " ".join(content.split())
    titled = _TITLED.match(content)
    if titled:
        return "".join(titled["target"].split()).lstrip("~."), titled["title"]
    content = "".join(content.split())  # a target wrapped over two lines
    short = content.startswith("~")
    target = content.lstrip("~.")
    return target, target.rsplit(".", 1)[-1] if short else target


def rewrite_roles(text: str, resolve: Callable[[str], str | None]) -> str:
    """Replace every Sphinx role in ``text`` by an autorefs reference or inline code.

    Parameters
    ----------
    text : str
        Docstring text (Markdown once rewritten).
    resolve : callable
        ``resolve(target) -> path or None``: the identifier under which the site documents
        the role's target, or None when it is not an object of the package.

    Returns
    -------
    str
        The text with ``<autoref identifier="PATH" optional><code>SHOWN</code></autoref>``
        for resolved targets and ```SHOWN``` otherwise.

    Examples
    --------
    >>> paths = {"manifold_lab.sweep": "manifold_lab.sweeps.sweep"}
    >>> print(rewrite_roles(":func:`~manifold_lab.sweep`, :class:`OSError`", paths.get))
    <autoref identifier="manifold_lab.sweeps.sweep" optional><code>sweep</code></autoref>, `OSError`
    """

    def replace(match: re.Match[str]) -> str:
        target, shown = _parse(match["content"])
        path = resolve(target) if target else None
        if path is None:
            return f"`{shown}`"
        code = f"<code>{html.escape(shown, quote=False)}</code>"
        return f'<autoref identifier="{html.escape(path)}" optional>{code}</autoref>'

    return ROLE_RE.sub(replace, text)


def _canonical(collection: Any, path: str) -> str | None:
    """The canonical path of the package object at ``path`` (aliases followed), or None."""
    if not path or path.split(".", 1)[0] != PACKAGE:
        return None
    try:
        obj = collection.get_member(path)
    except (KeyError, ValueError, AttributeError, griffe.AliasResolutionError):
        return None
    try:
        target = obj.final_target if obj.is_alias else obj
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None
    found: str = target.path
    return found if found.split(".", 1)[0] == PACKAGE else None


def _objects(obj: griffe.Object) -> Iterator[griffe.Object]:
    """``obj`` and its members, recursively (aliases left out: their targets are visited)."""
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)  # type: ignore[arg-type]


class Index:
    """What the resolution needs to know about the whole package.

    Parameters
    ----------
    pkg : griffe.Module
        The loaded package.

    Attributes
    ----------
    flat : dict of str to str
        ``"manifold_lab.NAME"`` to ``"manifold_lab.SUBMODULE.NAME"`` for every name of the
        package's ``__all__``: ``manifold_lab`` imports them lazily (PEP 562), so griffe does
        not see them as members of the package; the submodule whose ``__all__`` declares the
        name is their home (as ``manifold_lab._homes`` finds it).
    by_name : dict of str to list of str
        Short name to the paths of the objects of that name (for a bare name nothing in scope
        resolves, as Sphinx's search does when the name is unique).
    """

    def __init__(self, pkg: griffe.Module) -> None:
        self.collection = pkg.modules_collection
        exported = {str(name) for name in pkg.exports or ()}
        self.flat: dict[str, str] = {}
        for sub in pkg.modules.values():
            for name in sub.exports or ():
                if str(name) in exported:
                    self.flat.setdefault(f"{pkg.path}.{name}", f"{sub.path}.{name}")
        self.by_name: dict[str, list[str]] = {}
        for obj in _objects(pkg):
            if not obj.is_module and not obj.name.startswith("_"):
                self.by_name.setdefault(obj.name, []).append(obj.path)

    def canonical(self, path: str) -> str | None:
        """The canonical path of ``path``, reading the flat namespace; None if unknown.

        Parameters
        ----------
        path : str
            A dotted path.

        Returns
        -------
        str or None
            Where the object is defined (and documented).
        """
        head = ".".join(path.split(".")[:2])
        if head in self.flat:
            path = self.flat[head] + path[len(head) :]
        return _canonical(self.collection, path)


def resolver(obj: griffe.Object, index: Index) -> Callable[[str], str | None]:
    """The Sphinx-like resolution of role targets in the docstring of ``obj``.

    Parameters
    ----------
    obj : griffe.Object
        The object whose docstring holds the roles.
    index : Index
        The package's names.

    Returns
    -------
    callable
        ``resolve(target) -> canonical path or None``.
    """

    def resolve(target: str) -> str | None:
        head, _, rest = target.partition(".")
        try:
            scoped: str | None = obj.resolve(head)
        except griffe.NameResolutionError:
            scoped = None
        candidates = [f"{scoped}.{rest}" if rest else scoped] if scoped else []
        candidates += [target, f"{PACKAGE}.{target}"]
        for candidate in candidates:
            path = index.canonical(candidate) if candidate else None
            if path is not None:
                return path
        same_name = index.by_name.get(target, [])
        return same_name[0] if len(same_name) == 1 else None

    return resolve


class SphinxRoles(griffe.Extension):
    """Rewrite the Sphinx roles of every docstring of a loaded package (see the module)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Rewrite the docstrings of ``pkg`` once griffe has loaded all of it.

        Parameters
        ----------
        pkg : griffe.Module
            The package.
        **kwargs
            Other arguments of the event (the loader), unused.
        """
        index = Index(pkg)
        for obj in _objects(pkg):
            if obj.docstring is not None and ":`" in obj.docstring.value:
                obj.docstring.value = rewrite_roles(obj.docstring.value, resolver(obj, index))

    def on_package_loaded(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """The same event under its griffe 1 name (griffe 2 calls :meth:`on_package`).

        Parameters
        ----------
        pkg : griffe.Module
            The package.
        **kwargs
            Other arguments of the event, unused.
        """
        self.on_package(pkg=pkg)
