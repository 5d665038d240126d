"""The docs site's griffe extension (docs/_ext/sphinx_roles.py): Sphinx roles in docstrings
become autorefs references to where the API pages document the object, or inline code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

griffe = pytest.importorskip("griffe", reason="the docs extension needs griffe (.[docs])")

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "docs_sphinx_roles", ROOT / "docs" / "_ext" / "sphinx_roles.py"
)
assert _spec is not None and _spec.loader is not None
roles = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(roles)

PATHS = {
    "manifold_lab.sweep": "manifold_lab.sweeps.sweep",
    "ProbeResult.metadata": "manifold_lab.probing.result.ProbeResult.metadata",
}


def link(path: str, shown: str) -> str:
    return f'<autoref identifier="{path}" optional><code>{shown}</code></autoref>'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (":func:`manifold_lab.sweep`", link("manifold_lab.sweeps.sweep", "manifold_lab.sweep")),
        (":func:`~manifold_lab.sweep`", link("manifold_lab.sweeps.sweep", "sweep")),
        (":py:func:`~manifold_lab.sweep`", link("manifold_lab.sweeps.sweep", "sweep")),
        (":func:`the sweep <manifold_lab.sweep>`", link("manifold_lab.sweeps.sweep", "the sweep")),
        (
            ":attr:`ProbeResult.metadata`",
            link("manifold_lab.probing.result.ProbeResult.metadata", "ProbeResult.metadata"),
        ),
        (":func:`~manifold_lab.\n    sweep`", link("manifold_lab.sweeps.sweep", "sweep")),
        (":class:`OSError`", "`OSError`"),
        (":class:`~torch.nn.BatchNorm2d`", "`BatchNorm2d`"),
        ("``:func:`` alone, and `code`", "``:func:`` alone, and `code`"),
    ],
)
def test_rewrite_roles(text: str, expected: str) -> None:
    assert roles.rewrite_roles(text, PATHS.get) == expected


def test_the_resolver_reads_the_scope_and_the_flat_namespace() -> None:
    pkg = griffe.load("manifold_lab", search_paths=[str(ROOT)])
    index = roles.Index(pkg)
    probe_result = pkg["probing.result.ProbeResult"]
    resolve = roles.resolver(probe_result, index)
    # a name imported by the module, a member of the class, the flat namespace, a full path
    assert resolve("BlockStats") == "manifold_lab.probing.result.BlockStats"
    assert resolve("to_frame") == "manifold_lab.probing.result.ProbeResult.to_frame"
    assert resolve("manifold_lab.sweep") == "manifold_lab.sweeps.sweep"
    assert resolve("manifold_lab.probing.ActivationProbe") == (
        "manifold_lab.probing.hooks.ActivationProbe"
    )
    assert resolve("torch.save") is None and resolve("OSError") is None


def test_the_extension_leaves_no_role_in_any_docstring() -> None:
    ext = roles.SphinxRoles()
    pkg = griffe.load(
        "manifold_lab", search_paths=[str(ROOT)], extensions=griffe.load_extensions(ext)
    )
    rewritten = 0
    for obj in roles._objects(pkg):
        if obj.docstring is None:
            continue
        value = obj.docstring.value
        assert not roles.ROLE_RE.search(value), obj.path
        rewritten += value.count("<autoref ")
    assert rewritten > 300
    doc = pkg["probing.result.ProbeResult"].docstring.value
    assert link("manifold_lab.probing.hooks.ActivationProbe", "ActivationProbe") in doc
