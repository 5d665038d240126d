"""Reading pickles of plain data and numpy arrays without running the code a pickle can hold.

A pickle names the functions that rebuild its objects, and :func:`pickle.load` calls them:
a crafted file runs whatever it names. The CIFAR-10 python batches (``cifar-10-batches-py``)
are pickles, but of plain data only: dicts, lists, strings, bytes, numbers and numpy arrays.
:func:`load_data_pickle` reads such files with an unpickler that can build only those, and
refuses any other object with a :class:`UnsafePickleError` naming the file and what it asked
for, before anything runs.

Examples
--------
>>> import os, pickle, tempfile
>>> import numpy as np
>>> with tempfile.TemporaryDirectory() as d:
...     path = os.path.join(d, "batch")
...     with open(path, "wb") as fh:
...         pickle.dump({"data": np.zeros((2, 3), np.uint8), "labels": [0, 1]}, fh, protocol=2)
...     batch = load_data_pickle(path)
>>> batch["data"].shape, batch["labels"]
((2, 3), [0, 1])
"""

from __future__ import annotations

import codecs
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

try:  # numpy >= 2 keeps the pickle helpers in numpy._core, numpy 1 in numpy.core
    from numpy._core.multiarray import _reconstruct, scalar
    from numpy._core.numeric import _frombuffer  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - numpy 1
    from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]
    from numpy.core.numeric import _frombuffer  # type: ignore[no-redef]

__all__ = ["ALLOWED_GLOBALS", "DataUnpickler", "UnsafePickleError", "load_data_pickle"]

#: The only globals a data pickle may name: numpy's array and scalar reconstruction (under
#: numpy 1's and numpy 2's module names; ``_frombuffer`` for protocol 5) and the codec Python 3
#: uses for bytes in protocol 2.
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    **{
        (f"{package}.{module}", name): obj
        for package in ("numpy.core", "numpy._core")
        for module, name, obj in (
            ("multiarray", "_reconstruct", _reconstruct),
            ("multiarray", "scalar", scalar),
            ("numeric", "_frombuffer", _frombuffer),
        )
    },
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """A pickle names something other than plain data and numpy arrays: it is refused.

    A :class:`ValueError` (and a :class:`pickle.UnpicklingError`), so callers that turn
    ``ValueError`` into a one-line message show it as one.
    """


class DataUnpickler(pickle.Unpickler):
    """A :class:`pickle.Unpickler` that builds only plain data and numpy arrays.

    Dicts, lists, tuples, strings, bytes, numbers, booleans and None need no global; numpy
    arrays, dtypes and scalars need the few in :data:`ALLOWED_GLOBALS`. Any other global
    (a function, a class) raises :class:`UnsafePickleError` before it is called; so does a
    persistent id.
    """

    def find_class(self, module: str, name: str) -> Any:
        """The allowed object named ``module.name``; :class:`UnsafePickleError` otherwise."""
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"{module}.{name}") from None


def load_data_pickle(path: str | os.PathLike[str], *, encoding: str = "latin1") -> Any:
    """Read a pickle that may hold only plain data and numpy arrays.

    Parameters
    ----------
    path : str or path-like
        The file.
    encoding : str, default="latin1"
        How Python 2 strings are decoded (latin1, as for the CIFAR-10 batches, keeps numpy's
        array data byte for byte).

    Returns
    -------
    object
        What the file holds.

    Raises
    ------
    UnsafePickleError
        The file names any other object, which would run code when unpickled; nothing of it
        ran. The message names the file and the object.
    ValueError
        A truncated, corrupt or foreign file.
    OSError
        The file cannot be opened.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        try:
            return DataUnpickler(fh, encoding=encoding).load()
        except UnsafePickleError as exc:
            raise UnsafePickleError(
                f"refusing to read {path}: it would run code when unpickled (it names {exc}), "
                "and a data file holds only dicts, lists, strings, numbers and numpy arrays"
            ) from None
        except Exception as exc:  # any other unpickling failure means a bad file
            first = (str(exc).splitlines() or [""])[0][:200]
            raise ValueError(
                f"cannot read {path} as a pickle of data: the file is truncated, corrupt or in "
                f"another format ({type(exc).__name__}: {first})"
            ) from None
