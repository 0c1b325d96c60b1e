"""Flat per-step event buffers of the CPU scheduler."""

from __future__ import annotations

import numpy as np

from .kernels import dense_to_events, events_to_dense

__all__ = ["EventBuffer"]


class EventBuffer:
    """Events of one population in one step, for a batch of samples.

    Attributes
    ----------
    ptr : ndarray of int64, shape (B + 1,)
        Sample ``b``'s events are entries ``ptr[b]:ptr[b+1]``.
    idx : ndarray of int64, shape (B * size,)
        Unit index of each event.
    val : ndarray of float, shape (B * size,)
        Graded value of each event.
    """

    __slots__ = ("ptr", "idx", "val")

    def __init__(self, batch: int, size: int, dtype):
        self.ptr = np.zeros(batch + 1, dtype=np.int64)
        self.idx = np.zeros(batch * size, dtype=np.int64)
        self.val = np.zeros(batch * size, dtype=dtype)

    @property
    def count(self) -> int:
        """Number of events held."""
        return int(self.ptr[-1])

    def from_dense(self, x: np.ndarray) -> int:
        """Fill from a dense (B, size) array; returns the event count."""
        return dense_to_events(
            np.ascontiguousarray(x, dtype=self.val.dtype), self.ptr, self.idx, self.val
        )

    def to_dense(self, out: np.ndarray) -> np.ndarray:
        """Write into ``out`` (B, size); returns it."""
        events_to_dense(self.ptr, self.idx, self.val, out)
        return out
