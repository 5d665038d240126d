"""Progress bars with tqdm when it is installed, a quiet fallback when it is not.

The training path must run on machines that have only torch, torchvision and numpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["progress_bar"]


class _Quiet:
    """The subset of tqdm's interface the project uses, doing nothing."""

    def __init__(self, iterable: Iterable[Any] | None = None, **kwargs: Any) -> None:
        self.iterable = iterable

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            return iter(())
        return iter(self.iterable)

    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int = 1) -> None:
        return None

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        return None

    def set_postfix_str(self, *args: Any, **kwargs: Any) -> None:
        return None

    def close(self) -> None:
        return None


def progress_bar(
    iterable: Iterable[Any] | None = None,
    *,
    progress: bool | None = True,
    disable: bool = False,
    **kwargs: Any,
) -> Any:
    """A tqdm progress bar, or a silent stand-in when tqdm is missing or the bar is off.

    Parameters
    ----------
    iterable : iterable or None, default=None
        What to iterate over; ``None`` for a bar advanced with ``update``.
    progress : bool or None, default=True
        ``True`` shows the bar, ``False`` hides it, ``None`` shows it only on a terminal
        (tqdm's automatic mode). Every function with a ``progress`` parameter passes it here.
    disable : bool, default=False
        tqdm's own spelling: ``True`` hides the bar whatever ``progress`` says.
    **kwargs
        Passed to ``tqdm.auto.tqdm`` (``total``, ``desc``, ``unit``, ``leave``, ...).

    Returns
    -------
    bar : tqdm.auto.tqdm or a silent object with the same methods
    """
    if disable or progress is False:
        return _Quiet(iterable)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Quiet(iterable)
    return tqdm(iterable, disable=None if progress is None else False, **kwargs)
