"""The experiment behind the paper's Figure 1: one manifold through layers of several widths.

:func:`run_figure1` computes the cases (one :func:`~manifold_lab.run_case` per width and
seed) and returns a :class:`Figure1Result`; :func:`manifold_lab.plots.plot_figure1` draws
it. The numbers behind the panels are :meth:`Figure1Result.to_frame`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ._validation import check_seeds, check_widths
from .core import CaseResult, check_methods, run_case
from .manifolds import Manifold
from .registry.settings import DEFAULT_WIDTHS

__all__ = ["FIGURE1_METRICS", "Figure1Result", "run_figure1"]

FIGURE1_METRICS: tuple[str, ...] = (
    "nmse",
    "invertible_fraction",
    "collapsed_fraction",
    "knn_recall",
)
"""Metrics of each panel that :meth:`Figure1Result.to_frame` reports."""


@dataclass(frozen=True)
class Figure1Result:
    """The cases behind a Figure 1: the input points and one case per width and seed.

    Parameters
    ----------
    manifold : Manifold
        The input points (the same in every case).
    widths : tuple of int
        Widths ``n``, increasing: one panel each.
    seeds : tuple of int
        Seeds of the random matrices: one row of panels each.
    method : str
        The reconstruction method.
    activation : str
        Name of the activation.
    cases : dict of (int, int) to CaseResult
        The case of each ``(seed, width)``.
    """

    manifold: Manifold
    widths: tuple[int, ...]
    seeds: tuple[int, ...]
    method: str
    activation: str
    cases: dict[tuple[int, int], CaseResult]

    def case(self, width: int, seed: int | None = None) -> CaseResult:
        """The case of one panel; ``seed=None`` takes the first seed.

        Parameters
        ----------
        width : int
            One of :attr:`widths`.
        seed : int or None, default=None
            One of :attr:`seeds`; None takes the first.

        Returns
        -------
        CaseResult
            The case with every intermediate array.

        Raises
        ------
        ValueError
            If the width or the seed was not computed (the message lists those that were).

        Examples
        --------
        >>> res = run_figure1(widths=[2, 30], n_samples=200)
        >>> res.case(30).width, res.case(30).seed
        (30, 0)
        """
        key = (self.seeds[0] if seed is None else seed, width)
        if key not in self.cases:
            raise ValueError(
                f"no case of width {width} and seed {key[0]}; widths {list(self.widths)}, "
                f"seeds {list(self.seeds)}"
            )
        return self.cases[key]

    def to_frame(self) -> pd.DataFrame:
        """The numbers behind the panels, one row per width and seed.

        Returns
        -------
        metrics : pandas.DataFrame
            Columns ``width``, ``seed`` and the metrics in :data:`FIGURE1_METRICS`
            (``nmse`` is the chosen method's, ``knn_recall`` compares neighbours in the input
            and in the layer's output), sorted by width, then seed in the given order.

        Examples
        --------
        >>> res = run_figure1(widths=[2, 30], seeds=[0, 1], n_samples=200)
        >>> res.to_frame()[["width", "seed"]].values.tolist()
        [[2, 0], [2, 1], [30, 0], [30, 1]]
        """
        rows = [
            {
                "width": w,
                "seed": s,
                **{k: float(self.cases[s, w].metrics[k]) for k in FIGURE1_METRICS},
            }
            for w in self.widths
            for s in self.seeds
        ]
        return pd.DataFrame(rows, columns=["width", "seed", *FIGURE1_METRICS])


def run_figure1(
    manifold: Any = "spiral",
    widths: Any = DEFAULT_WIDTHS,
    *,
    seed: int = 0,
    seeds: Any = None,
    method: str = "pinv",
    activation: Any = "relu",
    n_samples: int = 1000,
    manifold_kwargs: dict[str, Any] | None = None,
) -> Figure1Result:
    """Compute the paper's Figure 1: a manifold through layers of several widths.

    The manifold is embedded into ``n`` dimensions by a random matrix ``T``, passed through
    the activation and projected back with the reconstruction ``method`` (by default the
    paper's ``T^-1``, the pseudo-inverse). Each case is :func:`manifold_lab.run_case` with
    ``max_neighbor_points=None`` (every point counts in the neighbour metrics). Draw the
    result with :func:`manifold_lab.plots.plot_figure1`.

    Parameters
    ----------
    manifold : str, Manifold, array-like or (X, t), default="spiral"
        What to embed (see :func:`manifold_lab.make_manifold`).
    widths : int, sequence of int or str, default=(2, 3, 5, 15, 30)
        Widths ``n``, one panel each, in increasing order (``"2:6"`` is inclusive).
    seed : int, default=0
        Seed of the random matrices (the same seed at every width, as in a sweep).
    seeds : sequence of int, str or None, default=None
        Several seeds, one row of panels each. Replaces ``seed``.
    method : {"pinv", "lstsq", "lemma2"}, default="pinv"
        Reconstruction (see :mod:`manifold_lab.core`). ``"pinv"`` shows the paper's
        picture; ``"lemma2"`` is exact wherever the layer is invertible, so what stays
        off the curve is exactly the information the layer destroyed.
    activation : str, Activation or callable, default="relu"
        See :func:`manifold_lab.get_activation`.
    n_samples : int, default=1000
        Points on the manifold.
    manifold_kwargs : dict or None, default=None
        Further arguments of the manifold generator.

    Returns
    -------
    result : Figure1Result
        The input points and the case of every ``(seed, width)``.

    See Also
    --------
    manifold_lab.plots.plot_figure1 : Draw the result.

    Examples
    --------
    >>> res = run_figure1("spiral", widths=[2, 3, 5, 15, 30], n_samples=200)
    >>> fraction = res.to_frame().set_index("width")["invertible_fraction"]
    >>> bool(fraction[2] < 0.5 < fraction[30])
    True
    """
    widths_l = check_widths(widths)
    seeds_l = check_seeds(seed if seeds is None else seeds)
    if len(check_methods(method)) != 1:
        raise ValueError(f"Figure 1 draws one reconstruction method, got {method!r}")
    cases = {
        (s, w): run_case(
            manifold,
            w,
            s,
            activation=activation,
            method=method,
            n_samples=n_samples,
            manifold_kwargs=manifold_kwargs,
            max_neighbor_points=None,
        )
        for s in seeds_l
        for w in widths_l
    }
    first = cases[seeds_l[0], widths_l[0]]
    return Figure1Result(
        manifold=first.manifold,
        widths=tuple(widths_l),
        seeds=tuple(seeds_l),
        method=first.method,
        activation=first.activation,
        cases=cases,
    )
