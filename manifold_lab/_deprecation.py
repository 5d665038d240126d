"""Deprecated aliases of renamed keyword parameters (kept for one release).

The project's naming scheme (``docs/ARCHITECTURE.md``) renamed some public parameters, for example
``random_state`` to ``seed``. :func:`renamed_parameters` keeps the old keyword working with a
:class:`DeprecationWarning` that names both, so that callers have one release to update.

Standard library only: the training path imports it on machines with only torch,
torchvision and numpy.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["renamed_parameters"]

F = TypeVar("F", bound=Callable[..., Any])


def renamed_parameters(**renames: str) -> Callable[[F], F]:
    """Decorator: accept each old keyword in ``renames`` as a deprecated alias of the new one.

    Parameters
    ----------
    **renames : str
        ``old_name="new_name"`` pairs. ``new_name`` must be a keyword parameter of the
        decorated function.

    Returns
    -------
    decorator : callable
        Wraps a function so that a call with ``old_name=value`` warns with a
        :class:`DeprecationWarning` naming both names and is passed on as
        ``new_name=value``; a call that gives both raises :class:`TypeError`. The wrapper
        keeps the function's signature (``inspect.signature`` follows ``__wrapped__``), so
        scikit-learn's ``get_params`` and ``clone`` see only the new names.

    Examples
    --------
    >>> import warnings
    >>> @renamed_parameters(random_state="seed")
    ... def draw(n, *, seed=None):
    ...     return n, seed
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     draw(3, random_state=7)
    (3, 7)
    >>> print(caught[0].message)  # doctest: +NORMALIZE_WHITESPACE
    draw(): the parameter 'random_state' is deprecated and will be removed in the next
    release; use 'seed' instead
    """
    for old, new in renames.items():
        if not isinstance(new, str) or not new.isidentifier() or new == old:
            raise ValueError(f"renamed_parameters: {old}={new!r} must name a different parameter")

    def decorate(func: F) -> F:
        where = func.__qualname__.removesuffix(".__init__")  # a class names itself

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(
                        f"{where}() got both {old!r} (deprecated) and {new!r}; pass only {new!r}"
                    )
                warnings.warn(
                    f"{where}(): the parameter {old!r} is deprecated and will be removed in the "
                    f"next release; use {new!r} instead",
                    DeprecationWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
