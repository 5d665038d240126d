"""Macros of the documentation site (mkdocs-macros-plugin): numbers and tables read at build time.

Every number on a results page comes from a committed results file under
``experiments/results`` (or ``benchmarks/results``), read by one of these functions when the
site is built; the registry tables come from ``manifold_lab.registry``. A missing file, column,
row or key raises, and ``on_error_fail`` in ``mkdocs.yml`` turns that into a failed build.

The functions are plain Python, tested in ``tests/test_docs_macros.py``; :func:`define_env`
hands them to the plugin.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = "experiments/results"
#: Where the hook publishes the results' figures inside the site (see hooks.py).
FIGURE_URI = "results/figures"


# --------------------------------------------------------------------------- reading files
def _path(path: str | Path, root: Path = ROOT) -> Path:
    p = Path(path)
    p = p if p.is_absolute() else root / p
    if not p.is_file():
        raise FileNotFoundError(f"docs macro: results file not found: {p}")
    return p


def read_csv(path: str | Path, root: Path = ROOT) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """Rows of a results CSV and its provenance (the leading ``# provenance: {...}`` line)."""
    text = _path(path, root).read_text(encoding="utf-8")
    prov: dict[str, Any] = {}
    lines = text.splitlines()
    while lines and lines[0].startswith("#"):
        head = lines.pop(0)
        if head.startswith("# provenance:"):
            prov = json.loads(head.split(":", 1)[1])
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    return rows, prov


def read_json(path: str | Path, root: Path = ROOT) -> Any:
    """A results JSON file."""
    return json.loads(_path(path, root).read_text(encoding="utf-8"))


def _get(data: Any, key: str) -> Any:
    """``data["a"]["b"][0]`` from ``"a.b.0"``; a missing key raises ``KeyError``."""
    value = data
    for part in key.split("."):
        if isinstance(value, list):
            value = value[int(part)]
        elif isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            raise KeyError(f"docs macro: no {part!r} in {key!r}")
    return value


# --------------------------------------------------------------------------- formatting
def fmt(value: Any, spec: str = "") -> str:
    """Format a number: a format spec (``".3f"``), ``"pct"`` / ``"pct1"`` (percent with 2 or
    1 decimals from a fraction), ``"pts"`` (a fraction difference as signed points) or ``"int"``
    (thousands separators)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value
    if spec == "pct":
        return f"{100 * value:.2f}%"
    if spec == "pct1":
        return f"{100 * value:.1f}%"
    if spec == "pts":
        return f"{100 * value:+.2f}"
    if spec == "int":
        return f"{round(value):,}"
    if not spec:
        return f"{value:g}" if isinstance(value, float) else str(value)
    return format(value, spec)


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- values and tables
def _match(row: Mapping[str, str], where: Mapping[str, Any]) -> bool:
    for key, want in where.items():
        got = row[key]
        if isinstance(want, int | float) and not isinstance(want, bool):
            try:
                if not math.isclose(float(got), float(want)):
                    return False
            except ValueError:
                return False
        elif got != str(want):
            return False
    return True


def csv_rows(path: str, where: Mapping[str, Any] | None = None, root: Path = ROOT) -> list[dict]:
    """The rows of a results CSV whose columns equal ``where``."""
    rows, _ = read_csv(path, root)
    if where:
        missing = [k for k in where if rows and k not in rows[0]]
        if missing:
            raise KeyError(f"docs macro: {path} has no column(s) {missing}")
        rows = [r for r in rows if _match(r, where)]
    return rows


def csv_value(path: str, column: str, spec: str = "", root: Path = ROOT, **where: Any) -> str:
    """One number of a results CSV: the ``column`` of the single row matching ``where``."""
    rows = csv_rows(path, where, root)
    if len(rows) != 1:
        raise LookupError(f"docs macro: {len(rows)} rows of {path} match {where}, expected 1")
    if column not in rows[0]:
        raise KeyError(f"docs macro: {path} has no column {column!r}")
    return fmt(rows[0][column], spec)


def csv_range(path: str, column: str, spec: str = "", root: Path = ROOT, **where: Any) -> str:
    """``"min to max"`` of a column over the rows matching ``where`` (NaN ignored)."""
    values = [float(r[column]) for r in csv_rows(path, where, root) if r[column] not in ("", "nan")]
    values = [v for v in values if not math.isnan(v)]
    if not values:
        raise LookupError(f"docs macro: no values of {column!r} in {path} for {where}")
    return f"{fmt(min(values), spec)} to {fmt(max(values), spec)}"


def json_value(path: str, key: str, spec: str = "", root: Path = ROOT) -> str:
    """One value of a results JSON file by dotted key (``"comparisons.0.mean"``)."""
    return fmt(_get(read_json(path, root), key), spec)


def json_sum(
    path: str, key: str, field: str, scale: float = 1.0, spec: str = "", root: Path = ROOT
) -> str:
    """The sum of ``field`` over the list at ``key`` of a results JSON file, times ``scale``
    (e.g. the minutes a training run took: ``json_sum(p, "records", "epoch_seconds", 1/60)``)."""
    items = _get(read_json(path, root), key)
    return fmt(scale * sum(float(item[field]) for item in items), spec)


def csv_table(
    path: str,
    columns: Mapping[str, str] | Sequence[str],
    specs: Mapping[str, str] | None = None,
    root: Path = ROOT,
    **where: Any,
) -> str:
    """A Markdown table of chosen columns (``{column: header}``) of a results CSV."""
    cols = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
    specs = specs or {}
    rows = csv_rows(path, where, root)
    if rows:
        missing = [c for c in cols if c not in rows[0]]
        if missing:
            raise KeyError(f"docs macro: {path} has no column(s) {missing}")
    body = [[fmt(r[c], specs.get(c, "")) for c in cols] for r in rows]
    return md_table(list(cols.values()), body)


def json_table(
    path: str,
    key: str,
    columns: Mapping[str, str] | Sequence[str],
    specs: Mapping[str, str] | None = None,
    root: Path = ROOT,
) -> str:
    """A Markdown table of chosen fields (``{field: header}``) of the list of records at
    ``key`` of a results JSON file."""
    cols = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
    specs = specs or {}
    records = _get(read_json(path, root), key)
    if not isinstance(records, list):
        raise KeyError(f"docs macro: {key!r} of {path} is not a list of records")
    for record in records:
        missing = [c for c in cols if c not in record]
        if missing:
            raise KeyError(f"docs macro: a record at {key!r} of {path} has no {missing}")
    body = [[fmt(r[c], specs.get(c, "")) for c in cols] for r in records]
    return md_table(list(cols.values()), body)


def results_md(path: str, section: str | None = None, level: int = 2, root: Path = ROOT) -> str:
    """A committed Markdown results file (or one ``## section`` of it), its title dropped and
    its headings moved to start at ``level + 1``."""
    text = _path(path, root).read_text(encoding="utf-8")
    lines = text.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    if section is not None:
        start = next(
            (i for i, ln in enumerate(lines) if ln.startswith("## ") and ln[3:].strip() == section),
            None,
        )
        if start is None:
            raise LookupError(f"docs macro: no section {section!r} in {path}")
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        lines = lines[start + 1 : end]
    out = []
    for ln in lines:
        m = re.match(r"^(#+) ", ln)
        if m:
            ln = "#" * (level + len(m.group(1)) - 1) + ln[len(m.group(1)) :]
        out.append(ln)
    return "\n".join(out).strip()


def provenance_of(path: str, root: Path = ROOT) -> dict[str, Any]:
    """The provenance record of a results file (CSV leading line or JSON ``provenance``)."""
    if path.endswith(".csv"):
        prov = read_csv(path, root)[1]
    else:
        data = read_json(path, root)
        prov = data.get("provenance", {}) if isinstance(data, Mapping) else {}
    if not prov:
        raise LookupError(f"docs macro: {path} carries no provenance record")
    return prov


def provenance(path: str, root: Path = ROOT) -> str:
    """A note saying which command, commit and hardware produced a results file."""
    prov = provenance_of(path, root)
    hw = prov.get("hardware", {})
    machine = hw.get("gpu") or hw.get("cpu", "unknown CPU")
    cores = hw.get("cpu_count")
    threads = hw.get("torch_threads")
    where = f"{machine}" + (f", {cores} CPU cores" if cores else "")
    where += f", {threads} torch threads" if threads else ""
    commit = prov.get("git", {}).get("commit", "")[:7]
    dirty = " (with uncommitted changes)" if prov.get("git", {}).get("dirty") else ""
    created = str(prov.get("created", ""))[:10]
    return (
        f'!!! info "Provenance of `{path}`"\n'
        f"    Made by `{prov.get('command', '?')}` on {created}, commit `{commit}`{dirty}; "
        f"{where}; torch {prov.get('torch', '?')}."
    )


# --------------------------------------------------------------------------- study tables
def ablation_table(preset: str, root: Path = ROOT) -> str:
    """The CIFAR-10 ablation of a preset: accuracy per variant (``summary.csv``)."""
    rows, _ = read_csv(f"{RESULTS}/ablation_{preset}/summary.csv", root)
    body = [
        [
            f"`{r['variant']}`",
            r["seeds"],
            f"**{fmt(r['mean_test_acc'], 'pct')}**",
            f"{100 * float(r['std']):.2f}",
            fmt(r["min"], "pct"),
            fmt(r["max"], "pct"),
            r["epochs"],
            f"{float(r['minutes_per_run']):.1f}",
            fmt(r["parameters"], "int"),
            f"{float(r['MAdds']) / 1e6:.1f}M",
        ]
        for r in rows
    ]
    header = ["variant", "seeds", "test accuracy, mean", "std (points)", "min", "max"]
    header += ["epochs", "minutes per run", "parameters", "MAdds"]
    return md_table(header, body)


def comparison_table(preset: str, root: Path = ROOT) -> str:
    """The paired comparisons of a preset's ablation (``comparisons.json``)."""
    data = read_json(f"{RESULTS}/ablation_{preset}/comparisons.json", root)
    body = []
    for c in data["comparisons"]:
        per_seed = ", ".join(fmt(d, "pts") for d in c["differences"])
        body.append(
            [
                c["comparison"],
                c["n"],
                f"**{fmt(c['mean'], 'pts')} points**",
                f"[{fmt(c['ci_low'], 'pts')}, {fmt(c['ci_high'], 'pts')}]",
                f"**{c['decision']}**",
                per_seed,
                f"{c['epochs_linear_ahead']} of {c['epochs_compared']}",
            ]
        )
    header = [
        "comparison (paired by seed)",
        "n",
        "mean difference",
        f"{data['comparisons'][0]['level']:.0%} CI",
    ]
    header += ["decision", "per seed", "epochs the first is ahead"]
    return md_table(header, body)


def comparison_value(
    preset: str, comparison: str, key: str, spec: str = "pts", root: Path = ROOT
) -> str:
    """One field of one paired comparison of a preset's ablation."""
    data = read_json(f"{RESULTS}/ablation_{preset}/comparisons.json", root)
    for c in data["comparisons"]:
        if c["comparison"] == comparison:
            return fmt(_get(c, key), spec)
    raise LookupError(f"docs macro: no comparison {comparison!r} in the {preset} ablation")


# --------------------------------------------------------------------------- figures
def figure_uri(path: str, root: Path = ROOT) -> str:
    """Where the hook publishes a figure of ``experiments/results`` in the site."""
    full = _path(path, root)
    rel = full.relative_to(root / RESULTS)
    return f"{FIGURE_URI}/{rel.as_posix()}"


def figure(path: str, alt: str, page_uri: str, caption: str = "", root: Path = ROOT) -> str:
    """A results figure as Markdown, linked relative to the page ``page_uri``."""
    target = figure_uri(path, root)
    depth = page_uri.count("/")
    rel = "../" * depth + target
    out = f"![{alt}]({rel})"
    if caption:
        out += f"\n\n*{caption}*"
    return out


# --------------------------------------------------------------------------- registries
def _yes(flag: Any) -> str:
    return "yes" if flag else "no"


def registry_table(kind: str) -> str:
    """The entries of a registry of ``manifold_lab.registry`` as a Markdown table."""
    from manifold_lab import registry as reg

    def params(entry: Any) -> str:
        return ", ".join(f"`{p.name}` ({p.range_text()})" for p in entry.params) or "none"

    tables: dict[str, tuple[Any, list[str], Callable[[Any], list[str]]]] = {
        "activations": (
            reg.ACTIVATION_REGISTRY,
            ["name", "label", "what it does", "Theorem 1", "exact inverse", "piecewise linear"],
            lambda e: [
                f"`{e.name}`",
                e.label,
                e.description,
                _yes(e.theorem1),
                _yes(e.exact_inverse),
                _yes(e.piecewise_linear),
            ],
        ),
        "manifolds": (
            reg.MANIFOLD_REGISTRY,
            ["name", "label", "what it is", "parameters"],
            lambda e: [f"`{e.name}`", e.label, e.description, params(e)],
        ),
        "methods": (
            reg.METHOD_REGISTRY,
            ["name", "label", "what it does"],
            lambda e: [f"`{e.name}`", e.label, e.description],
        ),
        "metrics": (
            reg.METRIC_REGISTRY,
            ["column", "label", "meaning"],
            lambda e: [f"`{e.name}`", e.label, e.description],
        ),
        "model_sources": (
            reg.MODEL_SOURCE_REGISTRY,
            ["`--weights`", "label", "what it loads"],
            lambda e: [f"`{e.usage()}`", e.label, e.description],
        ),
        "image_sources": (
            reg.IMAGE_SOURCE_REGISTRY,
            ["`--images`", "label", "what it reads"],
            lambda e: [f"`{e.usage()}`", e.label, e.description],
        ),
    }
    if kind not in tables:
        raise KeyError(f"docs macro: unknown registry {kind!r}; choose from {sorted(tables)}")
    registry, header, row = tables[kind]
    return md_table(header, [[str(c).replace("|", "\\|") for c in row(e)] for e in registry])


def presets_table() -> str:
    """The training presets of ``manifold_lab.train.PRESETS``."""
    from manifold_lab.train import PRESETS

    body = []
    for name, cfg in PRESETS.items():
        m = cfg.model
        body.append(
            [
                f"`{name}`",
                f"{m.width_mult:g}",
                f"`{m.stem}`",
                cfg.epochs,
                cfg.batch_size,
                f"{cfg.lr:g}",
                f"{cfg.warmup_epochs:g}",
                f"{cfg.label_smoothing:g}",
                f"{cfg.weight_decay:g}",
                f"{m.dropout:g}",
            ]
        )
    header = ["preset", "width", "stem", "epochs", "batch", "peak lr", "warm-up epochs"]
    header += ["label smoothing", "weight decay", "dropout"]
    return md_table(header, body)


def point_limits(which: str = "file") -> str:
    """The explorer's limits on uploaded points, in the sentence the explorer shows:
    ``"file"`` (``PointLimits.describe`` of :mod:`manifold_lab.uploads`, the defaults) or
    ``"sweep"`` (the Width sweep page's, ``PointLimits.describe_sweep``)."""
    from manifold_lab.uploads import PointLimits

    texts = {"file": PointLimits().describe, "sweep": PointLimits().describe_sweep}
    if which not in texts:
        raise KeyError(f"docs macro: unknown point limits {which!r}; choose from {sorted(texts)}")
    return texts[which]()


# --------------------------------------------------------------------------- API reference
def public_homes() -> dict[str, str]:
    """Public name of ``manifold_lab`` -> the module path that defines it."""
    import manifold_lab

    return {name: f"manifold_lab.{home}" for name, home in manifold_lab._homes().items()}


def api(names: Sequence[str] | str) -> str:
    """mkdocstrings blocks for names of the flat ``manifold_lab`` namespace (or dotted
    module paths, kept as they are).

    A name that its home package also holds as a submodule (``manifold_lab.probing.ledger``,
    the function and its module) points at the object inside that submodule, not the module."""
    homes = public_homes()
    names = names.split() if isinstance(names, str) else list(names)
    blocks = []
    for name in names:
        if "." in name:
            target = name
        elif name in homes:
            target = f"{homes[name]}.{name}"
            path = ROOT.joinpath(*target.split("."))
            if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file():
                target = f"{target}.{name}"
        else:
            raise KeyError(f"docs macro: {name!r} is not in manifold_lab.__all__")
        blocks.append(f"::: {target}")
    return "\n\n".join(blocks)


def lessons_md(base: str = "http://localhost:8501/") -> str:
    """Every lesson of :data:`manifold_lab.lessons.LESSONS`: title, summary, its link and a
    table of its steps (page, question, hidden controls)."""
    from manifold_lab.lessons import LESSONS

    parts = []
    for lesson in LESSONS.values():
        rows = [
            (
                f"[{i}]({base}?lesson={lesson.name}&step={i})",
                step.page,
                step.question,
                ", ".join(f"`{h}`" for h in step.hide) or "none",
            )
            for i, step in enumerate(lesson.steps, start=1)
        ]
        parts.append(
            f"## {lesson.title}\n\n{lesson.summary}\n\n"
            f"Open it: [`{base}?lesson={lesson.name}`]({base}?lesson={lesson.name})\n\n"
            + md_table(("step", "page", "question", "hidden controls"), rows)
        )
    return "\n\n".join(parts)


# --------------------------------------------------------------------------- plugin entry
def define_env(env: Any) -> None:  # pragma: no cover - exercised by the docs build
    """Hand the macros to mkdocs-macros-plugin."""
    for fn in (
        csv_value,
        csv_range,
        csv_table,
        json_value,
        json_sum,
        json_table,
        results_md,
        provenance,
        ablation_table,
        comparison_table,
        comparison_value,
        registry_table,
        presets_table,
        point_limits,
        lessons_md,
        api,
        fmt,
    ):
        env.macro(fn)

    @env.macro
    def fig(path: str, alt: str, caption: str = "") -> str:
        """A results figure, linked relative to the page being rendered."""
        return figure(path, alt, env.page.file.src_uri, caption)
