"""numpydoc validation of the public API's docstrings: a missing or malformed one fails.

Checked: every callable or class in ``manifold_lab.__all__`` and in the ``__all__`` of the
public subpackages (their public methods included). Constants and instances (registries,
lists of names) have no docstring of their own and are skipped.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate", reason="needs numpydoc (.[dev])")
from numpydoc.docscrape import NumpyDocString  # noqa: E402

import manifold_lab  # noqa: E402

SUBPACKAGES = [
    "manifold_lab.registry",
    "manifold_lab.plots",
    "manifold_lab.probing",
    "manifold_lab.injectivity",
    "manifold_lab.weights",
    "manifold_lab.data",
    "manifold_lab.intrinsic_dimension",
    "manifold_lab.train",
    "manifold_lab.toy",
    "manifold_lab.ablation",
]

#: Checks not required, and why.
IGNORED = {
    "ES01": "an extended summary is optional; short functions need none",
    "SA01": "a See Also section is optional",
    "EX01": "Examples are written where sensible (doctested), not for every function",
    "RT02": "the type-only Returns line ('DataFrame') is the house style; a name is optional",
    "SS05": "summaries may start with a noun ('The ...', 'One ...'), not only an infinitive verb",
    "SS06": "a summary may wrap onto a second line when the line length limit (100) demands",
    "PR08": "parameter descriptions may start with a lower-case word or a code literal",
    "RT05": "return descriptions may end without a period after a code literal",
    "PR09": "parameter descriptions may end without a period after a code literal",
    "YD01": "generators document what they yield in the summary",
}


def _public_objects() -> dict[str, object]:
    objects: dict[str, object] = {}
    for name in manifold_lab.__all__:
        if name != "__version__":
            objects[f"manifold_lab.{name}"] = getattr(manifold_lab, name)
    for module_name in SUBPACKAGES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            objects[f"{module_name}.{name}"] = getattr(module, name)
    checked: dict[str, object] = {}
    for qualname, obj in objects.items():
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        checked[qualname] = obj
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not inspect.isfunction(member):
                    continue
                checked[f"{qualname}.{attr}"] = member
    return checked


OBJECTS = _public_objects()


def test_the_public_api_is_found() -> None:
    assert "manifold_lab.sweep" in OBJECTS and "manifold_lab.plots.save_figure" in OBJECTS
    assert len(OBJECTS) > 100


@pytest.mark.parametrize("qualname", sorted(OBJECTS))
def test_docstring_is_valid_numpydoc(qualname: str) -> None:
    obj = OBJECTS[qualname]
    result = numpydoc_validate.validate(numpydoc_validate.get_doc_object(obj))
    errors = [f"{code}: {msg}" for code, msg in result["errors"] if code not in IGNORED]
    # numpydoc does not ask a parameter typed by its choices ({"a", "b"}) for a description
    doc = NumpyDocString(inspect.getdoc(obj) or "")
    errors += [
        f"PR07: Parameter {param.name!r} has no description"
        for param in doc["Parameters"]
        if param.type.startswith("{") and not "".join(param.desc).strip()
    ]
    assert not errors, f"{qualname}:\n  " + "\n  ".join(errors)
