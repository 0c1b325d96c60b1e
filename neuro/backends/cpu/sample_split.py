"""One sample's per-unit phases split over threads (numba, cached).

At batch 1 with several threads, the run loop splits each large delivery over the
threads (output columns or pixels).  The phases around the deliveries — ports set to
their biases, the threshold that turns a port into events, the counters of a
delivery — are as long as the port or the event list, and on a ResNet-18 call on two
threads they were a fifth of the time, all on one thread.  Here each is split into
contiguous ranges, one per thread, and gives exactly the serial result:

* :func:`fill_split`: a copy, range by range;
* :func:`threshold_split`: each thread writes the events of its range of units, in
  ascending order, into its own part of the event buffer (the buffer holds one slot
  per unit, so a range never overflows its part); the parts are then moved together
  in range order.  Ranges start at multiples of :data:`.kernels.SCAN_BLOCK`, so the
  scan blocks are those of the serial threshold;
* :func:`tally_split`: integer sums per range, added: exact;
* :func:`sparse_split`, :func:`route_max_split`: sparse and max-pooling deliveries
  whose units fall into *independent groups* (consecutive units whose fan-outs reach
  outputs no other group reaches: a max-pooling route's channels, an identity
  shortcut's units; :func:`independent_group`) take whole groups per thread, so every
  output receives its terms from one thread, in event order.

A phase is split only where it weighs at least the run loop's bound for a parallel
delivery (``min_par`` connections, :data:`.fastpath.MIN_PARALLEL_CONNECTIONS`), a unit
filled or thresholded counting :data:`UNIT_COST` connections and an event counted or
routed :data:`EVENT_COST`: below it a parallel launch costs more than it saves.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .event_ranges import chunk_events
from .kernels import SCAN_BLOCK, fan_counts, sparse_rows_into, threshold_row_scan
from .maxpool_kernels import route_max_into

__all__ = [
    "UNIT_COST",
    "EVENT_COST",
    "fill_split",
    "threshold_split",
    "tally_split",
    "independent_group",
    "sparse_split",
    "route_max_split",
]

UNIT_COST = 8
"""Connections one unit's fill or threshold weighs against ``min_par``."""

EVENT_COST = 16
"""Connections one event's count or route weighs against ``min_par``."""


@njit(cache=True, nogil=True, inline="always")
def _range(n, t, n_chunks, align):
    """Range ``t`` of ``n_chunks`` over ``n`` items, starts at multiples of ``align``."""
    step = ((n + n_chunks - 1) // n_chunks + align - 1) // align * align
    u0 = min(n, t * step)
    return u0, min(n, u0 + step)


@njit(cache=True, nogil=True, parallel=True)
def fill_split(dst, src, n_chunks):
    """``dst[:] = src`` (1-D, same length), ``n_chunks`` ranges on parallel threads."""
    n = dst.shape[0]
    for t in prange(n_chunks):
        u0, u1 = _range(n, t, n_chunks, 16)
        for j in range(u0, u1):
            dst[j] = src[j]


@njit(cache=True, nogil=True, parallel=True)
def threshold_split(row, theta, idx, val, off, n_chunks):
    """:func:`.kernels.threshold_row_scan` on ``n_chunks`` threads: the same events,
    in the same order, at ``idx, val[off : off + count]``; returns ``(count, finite)``.

    ``idx``/``val`` must have room for ``len(row)`` events at ``off`` (as the serial
    threshold's buffer has).
    """
    n = row.shape[0]
    counts = np.zeros(n_chunks, dtype=np.int64)
    finite = np.ones(n_chunks, dtype=np.bool_)
    for t in prange(n_chunks):
        u0, u1 = _range(n, t, n_chunks, SCAN_BLOCK)
        if u1 > u0:
            m, ok = threshold_row_scan(row[u0:u1], theta[u0:u1], idx, val, off + u0)
            for e in range(off + u0, off + u0 + m):
                idx[e] += u0
            counts[t] = m
            finite[t] = ok
    at = off + counts[0]
    for t in range(1, n_chunks):  # move the ranges' events together, in range order
        src = off + _range(n, t, n_chunks, SCAN_BLOCK)[0]
        if src != at:
            for e in range(counts[t]):  # at < src: a forward copy never overwrites
                idx[at + e] = idx[src + e]
                val[at + e] = val[src + e]
        at += counts[t]
    return at - off, finite.all()


@njit(cache=True, nogil=True, parallel=True)
def tally_split(idx, k0, k1, nnz, dense, n_chunks):
    """:func:`.kernels.fan_counts` (Σ nnz, Σ dense over the events ``idx[k0:k1]``) on
    ``n_chunks`` threads."""
    a = np.zeros(n_chunks, dtype=np.int64)
    d = np.zeros(n_chunks, dtype=np.int64)
    for t in prange(n_chunks):
        e0, e1 = _range(k1 - k0, t, n_chunks, 1)
        a[t], d[t] = fan_counts(idx, k0 + e0, k0 + e1, nnz, dense)
    return a.sum(), d.sum()


def independent_group(indptr, targets, n_pre: int) -> int:
    """The smallest divisor G of ``n_pre`` such that the units of each range
    ``[j G, (j + 1) G)`` reach outputs (``targets[indptr[u]:indptr[u + 1]]``) that no
    other range reaches; ``n_pre`` when there is none (or ``n_pre`` < 2).

    Parameters
    ----------
    indptr : ndarray of int64, shape (n_pre + 1,)
    targets : ndarray of int64
        CSR rows of the fan-out (output columns, or max-pooling windows).
    n_pre : int
        Pre-synaptic units.
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    if n_pre < 2 or targets.size == 0:
        return max(1, n_pre)
    rows = indptr[1:] > indptr[:-1]  # units with a fan-out
    lo = np.full(n_pre, np.iinfo(np.int64).max)
    hi = np.full(n_pre, -1, dtype=np.int64)
    lo[rows] = np.minimum.reduceat(targets, indptr[:-1][rows])
    hi[rows] = np.maximum.reduceat(targets, indptr[:-1][rows])
    # a boundary before unit u is safe when every target of the units below u lies
    # below every target of the units from u on
    safe = np.maximum.accumulate(hi)[:-1] < np.minimum.accumulate(lo[::-1])[::-1][1:]
    small = [g for g in range(1, int(n_pre**0.5) + 1) if n_pre % g == 0]
    for g in sorted(set(small + [n_pre // g for g in small])):
        if g < n_pre and safe[g - 1 :: g].all():
            return g
    return n_pre


@njit(cache=True, nogil=True, parallel=True)
def sparse_split(o, indptr, indices, data, idx, val, k0, k1, group, n_chunks):
    """:func:`.kernels.sparse_rows_into` on ``n_chunks`` threads, whole independent
    groups of ``group`` units each, for events that ascend by unit."""
    n_groups = (indptr.shape[0] - 1 + group - 1) // group
    for t in prange(n_chunks):
        _, _, e0, e1 = chunk_events(idx, k0, k1, n_groups, group, t, n_chunks)
        sparse_rows_into(o, indptr, indices, data, idx, val, e0, e1)


@njit(cache=True, nogil=True, parallel=True)
def route_max_split(o, indptr, window, idx, val, k0, k1, group, n_chunks):
    """:func:`.maxpool_kernels.route_max_into` on ``n_chunks`` threads, whole
    independent groups of ``group`` units each, for events that ascend by unit."""
    n_groups = (indptr.shape[0] - 1 + group - 1) // group
    for t in prange(n_chunks):
        _, _, e0, e1 = chunk_events(idx, k0, k1, n_groups, group, t, n_chunks)
        route_max_into(o, indptr, window, idx, val, e0, e1)
