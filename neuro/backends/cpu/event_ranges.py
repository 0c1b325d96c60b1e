"""Ranges of one sample's events for threads (numba, cached): whether the events
ascend by unit, and which events fall into a thread's range of channels, channel
blocks or unit groups (:mod:`.conv_split`, :mod:`.sample_split`, the run loop)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["events_ascend", "chunk_events"]


@njit(cache=True, nogil=True, parallel=True)
def events_ascend(idx, k0, k1, n_chunks):
    """Whether the unit indices ``idx[k0:k1]`` ascend strictly (checked by ``n_chunks``
    threads, each on its own range of neighbouring pairs)."""
    n = k1 - k0
    ok = np.ones(n_chunks, dtype=np.bool_)
    step = (n + n_chunks - 1) // n_chunks
    for t in prange(n_chunks):
        a = max(k0 + 1, k0 + t * step)
        b = min(k1, k0 + (t + 1) * step)
        for k in range(a, b):
            if idx[k] <= idx[k - 1]:
                ok[t] = False
                break
    return ok.all()


@njit(cache=True, nogil=True)
def chunk_events(idx, k0, k1, n_items, per_item, t, n_chunks):
    """Range ``t`` of ``n_chunks`` over ``n_items`` items of ``per_item`` consecutive
    units each (channels, channel blocks, unit groups): ``(i0, i1, e0, e1)``, its items
    ``i0:i1`` and the events ``e0:e1`` on their units (events ascending by unit)."""
    step = (n_items + n_chunks - 1) // n_chunks
    i0 = min(n_items, t * step)
    i1 = min(n_items, i0 + step)
    events = idx[k0:k1]
    e0 = k0 + np.searchsorted(events, i0 * per_item)
    e1 = k0 + np.searchsorted(events, i1 * per_item)
    return i0, i1, e0, e1
