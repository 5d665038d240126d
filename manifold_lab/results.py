"""Results files (CSV or JSON) that carry their provenance record.

Every results file the project writes says where it came from (:func:`~manifold_lab.records.
provenance`). CSV files carry the record in a leading ``# provenance: {...}`` comment line;
JSON files as a ``"provenance"`` object beside the ``"records"``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .fileio import atomic_write_text
from .records import provenance

__all__ = ["read_results", "results_to_text", "write_results"]


def results_to_text(df: pd.DataFrame, prov: dict[str, Any], fmt: str) -> str:
    """Serialise results and their provenance as CSV (comment header) or JSON."""
    if fmt == "csv":
        header = "# provenance: " + json.dumps(prov, sort_keys=True) + "\n"
        return header + df.to_csv(index=False)
    if fmt == "json":
        records = json.loads(df.to_json(orient="records", double_precision=15))
        return json.dumps({"provenance": prov, "records": records}, indent=1) + "\n"
    raise ValueError(f"unknown format {fmt!r}; use 'csv' or 'json'")


def write_results(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    provenance_record: dict[str, Any] | None = None,
    *,
    fmt: str | None = None,
) -> Path:
    """Write a results table with its provenance, atomically.

    Parameters
    ----------
    df : pandas.DataFrame
        Results (for example from :func:`manifold_lab.sweep`).
    path : str or path-like
        Target file; ``.csv`` or ``.json``.
    provenance_record : dict or None, default=None
        Provenance; ``None`` uses ``df.attrs["provenance"]`` or a fresh record.
    fmt : {"csv", "json"} or None, default=None
        Format; ``None`` guesses from the suffix.

    Returns
    -------
    path : pathlib.Path
    """
    p = Path(path)
    fmt = fmt or p.suffix.lstrip(".").lower()
    prov = provenance_record or df.attrs.get("provenance") or provenance()
    return atomic_write_text(p, results_to_text(df, prov, fmt))


def read_results(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a results file written by :func:`write_results`.

    Returns
    -------
    df : pandas.DataFrame
    provenance : dict
        Empty when the file carries none.
    """
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise ValueError(f"results file {p} does not exist")
    if p.suffix.lower() == ".json":
        try:
            obj = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p} is not valid JSON: {exc}") from exc
        return pd.DataFrame(obj.get("records", [])), obj.get("provenance", {})
    prov: dict[str, Any] = {}
    with open(p, encoding="utf-8") as fh:
        first = fh.readline()
    if first.startswith("# provenance: "):
        prov = json.loads(first[len("# provenance: ") :])
    df = pd.read_csv(p, comment="#")
    df.attrs["provenance"] = prov
    return df, prov
