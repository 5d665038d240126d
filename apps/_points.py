"""Your own points on the Manifold lab and Width sweep pages: the upload box and its limits.

The file is read with :func:`manifold_lab.uploads.read_points` under
:meth:`~manifold_lab.uploads.PointLimits.for_store` of the explorer's upload limits (the
``MANIFOLD_LAB_UPLOAD_*`` variables), once per file contents (cached by digest).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from manifold_lab.uploads import UPLOAD_ENV, PointLimits, UploadError, UploadLimits, read_points

SOURCES = {"builtin": "A built-in manifold", "upload": "Your points (CSV or NPY)"}
"""Where a page's points come from."""

SIZE_ENV = next(k for k in UPLOAD_ENV if k.endswith("MAX_TOTAL_MB"))
"""The variable that sets the size limit of a point file (:meth:`PointLimits.for_store`)."""


@dataclass(frozen=True)
class UserPoints:
    """Uploaded points: their file's name and digest (the cache key), the points, colours."""

    name: str
    digest: str
    X: np.ndarray
    t: np.ndarray


def limits() -> PointLimits:
    """The limits on an uploaded point file (from the explorer's upload limits)."""
    return PointLimits.for_store(UploadLimits.from_env())


@st.cache_data(max_entries=4, show_spinner="Reading your points ...")
def _read(digest: str, name: str, _data: bytes, _limits: PointLimits) -> tuple[Any, Any]:
    X, labels = read_points(_data, name, _limits)
    if labels is None:
        t = np.arange(X.shape[0], dtype=np.float64)
    else:  # labels as colours: numbers as they are, anything else by its first appearance
        import pandas as pd

        codes, _ = pd.factorize(labels)
        t = codes.astype(np.float64)
    return X, t


def source(container: Any, key: str) -> str:
    """The switch between built-in and uploaded points (``key``: its session-state key):
    ``"upload"`` or ``"builtin"``."""
    on = container.toggle(
        SOURCES["upload"],
        key=key,
        help="Run the page on points from a CSV or NPY file instead of a built-in manifold.",
    )
    return "upload" if on else "builtin"


def uploaded(container: Any, key: str) -> UserPoints | None:
    """The upload box; the points read from the file, or None (an error or no file yet,
    said on the page in one line)."""
    lim = limits()
    text = f"Limits: {lim.describe()}; the size limit is set by {SIZE_ENV}."
    up = container.file_uploader(
        "Points: N rows x D columns (a column named 'label' colours them)",
        type=["csv", "npy"],
        key=key,
        help=text,
    )
    container.caption(text)
    if up is None:
        st.info("Upload a CSV or NPY file of points (one point a row) in the sidebar.")
        return None
    data = up.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:16]
    try:
        X, t = _read(digest, up.name, data, lim)
    except UploadError as exc:
        st.error(str(exc))
        return None
    return UserPoints(name=up.name, digest=digest, X=X, t=t)
