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

    def close(self) -> None:
        return None


def progress_bar(iterable: Iterable[Any] | None = None, *, disable: bool = False, **kwargs: Any):
    """``tqdm.auto.tqdm(iterable, **kwargs)``, or a silent stand-in without tqdm or if disabled."""
    if disable:
        return _Quiet(iterable)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Quiet(iterable)
    return tqdm(iterable, **kwargs)
