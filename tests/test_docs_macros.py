"""The documentation's macros (docs/_ext/macros.py): they read the committed results files,
and a missing file, row or key fails (so the strict docs build fails)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("docs_macros", ROOT / "docs" / "_ext" / "macros.py")
assert _spec is not None and _spec.loader is not None
macros = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(macros)


@pytest.fixture
def results(tmp_path: Path) -> Path:
    prov = {
        "command": "experiments/x.py",
        "created": "2026-01-02T03:04:05",
        "git": {"commit": "abcdef0123", "dirty": False},
        "hardware": {"cpu": "CPU", "cpu_count": 2},
    }
    (tmp_path / "r.csv").write_text(
        "# provenance: " + json.dumps(prov) + "\nwidth,metric,mean\n2,nmse,0.5\n3,nmse,0.25\n",
        encoding="utf-8",
    )
    (tmp_path / "r.json").write_text(
        json.dumps({"provenance": prov, "records": [{"s": 30.0}, {"s": 90.0}]}), encoding="utf-8"
    )
    (tmp_path / "r.md").write_text("# Title\n\nintro\n\n## A\n\na text\n\n## B\n\nb\n", "utf-8")
    return tmp_path


def test_values_come_from_the_file(results: Path) -> None:
    assert macros.csv_value("r.csv", "mean", ".2f", root=results, width=3) == "0.25"
    assert macros.csv_value("r.csv", "mean", "pct1", root=results, width=2, metric="nmse") == (
        "50.0%"
    )
    assert macros.csv_range("r.csv", "mean", ".2f", root=results) == "0.25 to 0.50"
    assert macros.json_value("r.json", "records.1.s", ".0f", root=results) == "90"
    assert macros.json_sum("r.json", "records", "s", 1 / 60, ".1f", root=results) == "2.0"
    table = macros.csv_table("r.csv", {"width": "n", "mean": "mean"}, root=results)
    assert table.splitlines()[0] == "| n | mean |" and "| 3 | 0.25 |" in table
    rows = macros.json_table("r.json", "records", {"s": "seconds"}, {"s": ".0f"}, root=results)
    assert rows.splitlines()[0] == "| seconds |" and "| 90 |" in rows


def test_missing_things_fail_the_build(results: Path) -> None:
    with pytest.raises(FileNotFoundError):
        macros.csv_value("nope.csv", "mean", root=results, width=2)
    with pytest.raises(LookupError, match="0 rows"):
        macros.csv_value("r.csv", "mean", root=results, width=4)
    with pytest.raises(LookupError, match="2 rows"):
        macros.csv_value("r.csv", "mean", root=results, metric="nmse")
    with pytest.raises(KeyError):
        macros.csv_value("r.csv", "median", root=results, width=2)
    with pytest.raises(KeyError):
        macros.json_value("r.json", "records.0.t", root=results)
    with pytest.raises(KeyError, match="has no"):
        macros.json_table("r.json", "records", ["t"], root=results)
    with pytest.raises(LookupError, match="no section"):
        macros.results_md("r.md", section="C", root=results)


def test_results_md_and_provenance(results: Path) -> None:
    assert macros.results_md("r.md", section="A", root=results) == "a text"
    whole = macros.results_md("r.md", root=results)
    assert "Title" not in whole and "### A" in whole
    note = macros.provenance("r.csv", root=results)
    assert "experiments/x.py" in note and "abcdef0" in note and "2026-01-02" in note


def test_committed_results_render() -> None:
    """The study tables read the committed files (the numbers of the ablation pages)."""
    rows, _ = macros.read_csv("experiments/results/ablation_gpu/summary.csv")
    table = macros.ablation_table("gpu")
    assert f"**{macros.fmt(rows[0]['mean_test_acc'], 'pct')}**" in table
    data = macros.read_json("experiments/results/ablation_cpu/comparisons.json")
    first = data["comparisons"][0]
    assert (
        macros.comparison_value("cpu", first["comparison"], "mean") == f"{100 * first['mean']:+.2f}"
    )
    assert first["decision"] in macros.comparison_table("cpu")


def test_registry_tables_list_every_entry() -> None:
    from manifold_lab import registry

    for kind, reg in [
        ("activations", registry.ACTIVATION_REGISTRY),
        ("metrics", registry.METRIC_REGISTRY),
        ("manifolds", registry.MANIFOLD_REGISTRY),
    ]:
        table = macros.registry_table(kind)
        assert len(table.splitlines()) == 2 + len(list(reg))
        assert all(f"`{e.name}`" in table for e in reg)
    with pytest.raises(KeyError):
        macros.registry_table("colours")


def test_api_pages_cover_the_public_namespace() -> None:
    """Every name of manifold_lab.__all__ has a block on an API reference page."""
    import manifold_lab

    pages = "\n".join(p.read_text("utf-8") for p in (ROOT / "docs" / "reference").glob("*.md"))
    listed = set()
    for call in pages.split('{{ api("')[1:]:
        listed.update(call.split('")')[0].split())
    covered_modules = [line.split()[1] for line in pages.splitlines() if line.startswith("::: ")]
    homes = macros.public_homes()
    missing = [
        n
        for n in manifold_lab.__all__
        if n != "__version__"
        and n not in listed
        and not any(homes[n].startswith(m) for m in covered_modules)
    ]
    assert not missing, f"not in the API reference: {missing}"
    with pytest.raises(KeyError):
        macros.api("not_a_public_name")
    assert macros.api("sweep") == "::: manifold_lab.sweeps.sweep"
    # the function, not the submodule of the same name that it shadows
    assert macros.api("ledger") == "::: manifold_lab.probing.ledger.ledger"


def test_figure_links_are_relative_to_the_page() -> None:
    link = macros.figure("experiments/results/figure1.png", "alt", "results/width-sweep.md")
    assert link == "![alt](../results/figures/figure1.png)"
    with pytest.raises(FileNotFoundError):
        macros.figure("experiments/results/none.png", "alt", "index.md")


def test_lessons_md_lists_every_lesson_and_step_link() -> None:
    from manifold_lab.lessons import LESSONS

    text = macros.lessons_md()
    for lesson in LESSONS.values():
        assert f"## {lesson.title}" in text
        for i, step in enumerate(lesson.steps, start=1):
            assert f"?lesson={lesson.name}&step={i})" in text and step.question in text


def test_point_limits_are_the_explorers_and_the_docs_state_them() -> None:
    from manifold_lab.uploads import PointLimits

    assert macros.point_limits() == PointLimits().describe()
    sweep = macros.point_limits("sweep")
    assert sweep == PointLimits().describe_sweep() and "10,000,000 values" in sweep
    with pytest.raises(KeyError, match="unknown point limits"):
        macros.point_limits("nope")
    guide = (ROOT / "docs" / "guide" / "manifolds.md").read_text(encoding="utf-8")
    assert '{{ point_limits("sweep") }}' in guide and "{{ point_limits() }}" in guide
    # BAD_INPUT.md is read on GitHub too: it states the numbers, which must be the library's
    bad = (ROOT / "docs" / "BAD_INPUT.md").read_text(encoding="utf-8")
    assert f"{PointLimits().max_sweep_values:,} values" in bad
