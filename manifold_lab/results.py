"""Results files (CSV or JSON) that carry their provenance record.

Every results file the project writes says where it came from (:func:`~manifold_lab.records.
provenance`). CSV files carry the record in a leading ``# provenance: {...}`` comment line;
JSON files as a ``"provenance"`` object beside the ``"records"``.
"""

from __future__ import annotations

import io
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
        The file written.
    """
    p = Path(path)
    fmt = fmt or p.suffix.lstrip(".").lower()
    prov = provenance_record or df.attrs.get("provenance") or provenance()
    return atomic_write_text(p, results_to_text(df, prov, fmt))


def read_results(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a results file written by :func:`write_results`.

    Parameters
    ----------
    path : str or path-like
        A ``.csv`` file (provenance in its ``#`` header lines) or a ``.json`` file.

    Returns
    -------
    df : pandas.DataFrame
        The results table, one row per case.
    provenance : dict
        Empty when the file carries none.

    Raises
    ------
    ValueError
        One line naming the file when it is missing, a folder, not UTF-8 text (a binary
        file), or not a CSV or JSON results table.
    """
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise ValueError(f"results file {p} does not exist")
    if not p.is_file():
        raise ValueError(f"results file {p} is not a file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(
            f"{p} is not a results file: it is not UTF-8 text (a CSV or JSON file written by "
            "write_results or manifold-lab sweep)"
        ) from None
    if p.suffix.lower() == ".json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p} is not valid JSON: {exc}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("records", []), list):
            raise ValueError(
                f"{p} is not a results file: expected a JSON object with a list of "
                '"records" (as write_results writes)'
            )
        prov_obj = obj.get("provenance", {})
        if not isinstance(prov_obj, dict):
            raise ValueError(f'{p} has a "provenance" that is not a JSON object')
        try:
            return pd.DataFrame(obj.get("records", [])), prov_obj
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{p} has records that do not form a table: {exc}") from None
    prov: dict[str, Any] = {}
    first = text.split("\n", 1)[0]
    if first.startswith("# provenance: "):
        try:
            prov = json.loads(first[len("# provenance: ") :])
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p} has a provenance line that is not valid JSON: {exc}") from None
        if not isinstance(prov, dict):
            raise ValueError(f"{p} has a provenance line that is not a JSON object")
    try:
        df = pd.read_csv(io.StringIO(text), comment="#")
    except (ValueError, pd.errors.ParserError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{p} is not a readable CSV results file: {detail}") from None
    df.attrs["provenance"] = prov
    return df, prov
