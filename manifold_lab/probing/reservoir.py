"""Seeded hashing and bottom-k reservoirs: uniform samples that do not depend on the batches.

An item's priority is a seeded splitmix64 hash of its global index (image number, pixel), so
a :class:`Reservoir` that keeps the highest priorities holds the same sample whatever the
batch size, the order of batches or the device.

Examples
--------
>>> import torch
>>> res = Reservoir(3)
>>> ids = torch.arange(10)
>>> res.offer(hash_keys(ids, stream_base(0, 1)), lambda local: [ids[local]])
>>> kept = res.arrays()[0]
>>> len(kept), bool((kept[:-1] < kept[1:]).all())
(3, True)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

__all__ = ["Reservoir", "hash_keys", "splitmix64", "stream_base"]


_MASK64 = (1 << 64) - 1


def _signed64(value: int) -> int:
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


_GOLDEN = _signed64(0x9E3779B97F4A7C15)
_MIX1 = _signed64(0xBF58476D1CE4E5B9)
_MIX2 = _signed64(0x94D049BB133111EB)


def splitmix64(value: int) -> int:
    """The splitmix64 finaliser of ``value`` (an unsigned 64-bit integer).

    Examples
    --------
    >>> hex(splitmix64(0))
    '0xe220a8397b1dcdaf'
    """
    z = (value + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def stream_base(seed: int, stream: int) -> int:
    """The signed 64-bit offset that :func:`hash_keys` adds for ``seed`` and ``stream``.

    Independent streams (one per block and kind of sample) share a seed without sharing
    priorities.
    """
    return _signed64(splitmix64(splitmix64(seed) ^ (stream & _MASK64)))


def hash_keys(index: Tensor, base: int) -> Tensor:
    """A seeded splitmix64 hash of int64 ``index``, as non-negative int64 priorities.

    The priority of an item depends only on the seed, the stream and the item's global
    index, so reservoirs do not depend on the batch size or the device.
    """
    z = index * _GOLDEN + base  # int64 arithmetic wraps modulo 2**64
    z = z ^ ((z >> 30) & ((1 << 34) - 1))  # logical shifts of the unsigned value
    z = z * _MIX1
    z = z ^ ((z >> 27) & ((1 << 37) - 1))
    z = z * _MIX2
    z = z ^ ((z >> 31) & ((1 << 33) - 1))
    return z & ((1 << 62) - 1)


class Reservoir:
    """The ``size`` items of highest seeded priority seen so far (bottom-k sampling).

    Keeping the k largest i.i.d. priorities is a uniform sample without replacement of
    everything offered, like Algorithm R, but independent of the order of batches.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.n = 0  # items held
        # buffers of the items held (their first n rows), grown geometrically up to size
        self._keys: Tensor | None = None
        self._cols: list[Tensor] = []
        self._min: Tensor | None = None

    @property
    def keys(self) -> Tensor | None:
        """The priorities of the items held (None before the first offer)."""
        return None if self._keys is None else self._keys[: self.n]

    @property
    def cols(self) -> list[Tensor]:
        """The columns of the items held, one row per item."""
        return [col[: self.n] for col in self._cols]

    def _append(self, keys: Tensor, cols: list[Tensor]) -> None:
        """Add items while there is room (a copy: the caller may offer the same keys to
        another reservoir, and eviction writes in place)."""
        n, k = self.n, keys.numel()
        if self._keys is None or n + k > self._keys.numel():
            # double the capacity (at most size), so filling copies each item O(1) times
            cap = min(self.size, max(n + k, 2 * n))
            grown = keys.new_empty(cap)
            grown_cols = [new.new_empty((cap, *new.shape[1:])) for new in cols]
            if n:
                assert self._keys is not None
                grown[:n] = self._keys[:n]
                for dst, src in zip(grown_cols, self._cols, strict=True):
                    dst[:n] = src[:n]
            self._keys, self._cols = grown, grown_cols
        self._keys[n : n + k] = keys
        for dst, new in zip(self._cols, cols, strict=True):
            dst[n : n + k] = new
        self.n = n + k

    def offer(self, keys: Tensor, gather: Callable[[Tensor], list[Tensor]]) -> None:
        """Offer items with priorities ``keys``; ``gather(i)`` returns their columns."""
        if self.size == 0 or keys.numel() == 0:
            return
        local = torch.arange(keys.numel(), device=keys.device)
        if self._min is not None:  # full: only items above the smallest kept priority matter
            local = torch.nonzero(keys > self._min).squeeze(1)
            if local.numel() == 0:
                return
            keys = keys[local]
        if keys.numel() > self.size:
            top = torch.topk(keys, self.size, sorted=False).indices
            keys, local = keys[top], local[top]
        n_old = self.n
        if n_old + keys.numel() <= self.size:  # still filling
            self._append(keys, gather(local))
        elif n_old < self.size:  # fills up now
            assert self._keys is not None
            cols = gather(local)
            all_keys = torch.cat([self._keys[:n_old], keys])
            top = torch.topk(all_keys, self.size, sorted=False).indices
            self._keys = all_keys[top]
            self._cols = [
                torch.cat([old[:n_old], new])[top]
                for old, new in zip(self._cols, cols, strict=True)
            ]
            self.n = self.size
        else:  # full: replace the evicted items in place, gathering only the newcomers
            assert self._keys is not None
            top = torch.topk(torch.cat([self._keys, keys]), self.size, sorted=False).indices
            kept = torch.zeros(n_old + keys.numel(), dtype=torch.bool, device=keys.device)
            kept[top] = True
            evict = torch.nonzero(~kept[:n_old]).squeeze(1)
            insert = torch.nonzero(kept[n_old:]).squeeze(1)
            if insert.numel():
                self._keys[evict] = keys[insert]
                for col, new in zip(self._cols, gather(local[insert]), strict=True):
                    col[evict] = new
        if self.n >= self.size:
            assert self._keys is not None
            self._min = self._keys.min()

    def replace(self, keys: Tensor, cols: list[Tensor]) -> None:
        """Hold exactly the items ``keys``, ``cols`` (at most ``size``; e.g. after merging
        the reservoirs of several processes). The reservoir takes ownership of the tensors
        (eviction writes into them)."""
        if keys.numel() > self.size:
            raise ValueError(f"{keys.numel()} items for a reservoir of {self.size}")
        self._keys, self._cols, self.n = keys, list(cols), int(keys.numel())
        self._min = keys.min() if self.n >= self.size else None

    def nbytes(self) -> int:
        """Bytes of the buffers (their capacity, which is the size once the reservoir is full)."""
        tensors = ([self._keys] if self._keys is not None else []) + self._cols
        return sum(t.numel() * t.element_size() for t in tensors)

    def arrays(self) -> list[np.ndarray]:
        """The columns on the CPU, ordered by the first column (the items' global index)."""
        if self._keys is None:
            return []
        cols = self.cols
        order = torch.argsort(cols[0])
        return [c[order].cpu().numpy() for c in cols]
