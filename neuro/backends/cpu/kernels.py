"""Compiled kernels of the CPU event scheduler (numba, ``nogil``, cached).

Events of one population and step are stored flat, per sample ``b`` in
``idx[ptr[b]:ptr[b+1]]`` (unit indices) and ``val[...]`` (graded values).
Scatter kernels stream the fan-out of each event into a (B, width) port buffer
and return the counts they are responsible for: synaptic ops (non-zero weights
reached) and activity-sparse MACs (all connections reached).

The ``*_into`` helpers deliver the events ``k0:k1`` of one sample into one
sample's port vector; the step-by-step scheduler and the compiled whole-run
loop (:mod:`.runloop`) share them, so both add the same terms in the same
order and give bit-identical results.  Dense fan-out rows are streamed four
events at a time (``o += v0 r0 + v1 r1 + v2 r2 + v3 r3``, evaluated left to
right, i.e. in event order), which reads and writes the port vector once per
four weight rows.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from ...audit.tally import tally_events as fan_counts  # the one per-event count formula
from .conv import conv2d_into

__all__ = [
    "dense_to_events",
    "dense_row_events",
    "events_to_dense",
    "scatter_dense",
    "scatter_dense_columns",
    "scatter_sparse",
    "scatter_conv2d",
    "threshold_events",
    "threshold_row_events",
    "threshold_row_scan",
    "dense_rows_into",
    "sparse_rows_into",
    "conv2d_into",
    "count_nonzero_rows",
    "fan_counts",
    "all_finite",
]

# Floating-point contraction (fused multiply-add) only: no reassociation, so
# every kernel adds its terms in event order.
_FMA = {"contract"}


# Event extraction counts the events of each block of this many units (a vectorised
# compare), skips empty blocks, and for the others builds a bit mask of the events and
# writes only the events, lowest bit first.
SCAN_BLOCK = 64


@intrinsic
def _lowest_bit(typingctx, mask):
    """Index of the lowest set bit of a non-zero uint64 (``llvm.cttz``)."""

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fnty = ir.FunctionType(i64, [i64, ir.IntType(1)])
        fn = builder.module.globals.get("llvm.cttz.i64")
        if fn is None:
            fn = ir.Function(builder.module, fnty, name="llvm.cttz.i64")
        return builder.call(fn, [args[0], ir.Constant(ir.IntType(1), 1)])

    return types.uint64(types.uint64), codegen


@njit(cache=True, nogil=True)
def _write_block(row, mask, b0, idx, val, at):
    """Events ``b0 + bit`` for the set bits of ``mask``, in ascending order, at ``at``."""
    k = at
    while mask != 0:
        i = b0 + np.int64(_lowest_bit(mask))
        idx[k] = i
        val[k] = row[i]
        k += 1
        mask &= mask - np.uint64(1)
    return k


@njit(cache=True, nogil=True)
def dense_row_events(row, idx, val, off):
    """Every non-zero entry of the 1-D ``row`` becomes an event at ``off``; returns the count.

    Events are written in ascending unit order to ``idx, val[off : off + count]``.
    """
    n = row.shape[0]
    k = off
    for b0 in range(0, n, SCAN_BLOCK):
        b1 = min(b0 + SCAN_BLOCK, n)
        hits = 0
        for i in range(b0, b1):  # vectorised count: skip blocks without events
            hits += row[i] != 0
        if hits == 0:
            continue
        mask = np.uint64(0)
        for i in range(b0, b1):
            mask |= np.uint64(row[i] != 0) << np.uint64(i - b0)
        k = _write_block(row, mask, b0, idx, val, k)
    return k - off


@njit(cache=True, nogil=True, inline="always")
def threshold_row_scan(row, theta, idx, val, off):
    """FATReLU on one sample: an event (value x) where x >= theta and x != 0, and
    whether every value of ``row`` is finite, in one pass over ``row``.

    Events are written in ascending unit order to ``idx, val[off : off + count]``;
    returns ``(count, finite)``.  Events of a finite row are finite (they are its
    values), so the check covers them too.
    """
    n = row.shape[0]
    k = off
    bad = False
    for b0 in range(0, n, SCAN_BLOCK):
        b1 = min(b0 + SCAN_BLOCK, n)
        hits = 0
        for i in range(b0, b1):  # vectorised count: skip blocks without events
            x = row[i]
            hits += (x >= theta[i]) & (x != 0)
            bad |= (x - x) != 0  # inf or NaN
        if hits == 0:
            continue
        mask = np.uint64(0)
        for i in range(b0, b1):
            hit = (row[i] >= theta[i]) & (row[i] != 0)
            mask |= np.uint64(hit) << np.uint64(i - b0)
        k = _write_block(row, mask, b0, idx, val, k)
    return k - off, not bad


@njit(cache=True, nogil=True)
def threshold_row_events(row, theta, idx, val, off):
    """FATReLU on one sample (:func:`threshold_row_scan` without the check): an event
    (value x) where x >= theta and x != 0, written in ascending unit order to
    ``idx, val[off : off + count]``; returns the count."""
    return threshold_row_scan(row, theta, idx, val, off)[0]


@njit(cache=True, nogil=True)
def dense_to_events(x, ptr, idx, val):
    """Every non-zero entry of x (B, n) becomes an event; returns the event count."""
    k = 0
    for b in range(x.shape[0]):
        ptr[b] = k
        k += dense_row_events(x[b], idx, val, k)
    ptr[x.shape[0]] = k
    return k


@njit(cache=True, nogil=True)
def threshold_events(x, theta, ptr, idx, val):
    """FATReLU: an event (value x) where x >= theta and x != 0; returns the count."""
    k = 0
    for b in range(x.shape[0]):
        ptr[b] = k
        k += threshold_row_events(x[b], theta, idx, val, k)
    ptr[x.shape[0]] = k
    return k


@njit(cache=True, nogil=True)
def events_to_dense(ptr, idx, val, out):
    """Write events into a zeroed-then-filled dense (B, n) array."""
    out.fill(0)
    for b in range(out.shape[0]):
        for k in range(ptr[b], ptr[b + 1]):
            out[b, idx[k]] = val[k]


@njit(cache=True, nogil=True, fastmath=_FMA)
def dense_rows_into(o, weight, idx, val, k0, k1, c0, c1):
    """o[c0:c1] += Σ_k val[k] * weight[idx[k], c0:c1] for the events k0:k1.

    Parameters
    ----------
    o : ndarray, shape (width,)
        One sample's port vector.
    weight : ndarray, shape (n_pre, width)
        Fan-out rows, pre-synaptic major.
    idx, val : ndarray
        Event unit indices and values.
    k0, k1 : int
        Event range.
    c0, c1 : int
        Column range (all of ``0:width`` unless a caller splits the columns).
    """
    oc = o[c0:c1]
    n = c1 - c0
    k = k0
    while k + 4 <= k1:
        r0 = weight[idx[k], c0:c1]
        r1 = weight[idx[k + 1], c0:c1]
        r2 = weight[idx[k + 2], c0:c1]
        r3 = weight[idx[k + 3], c0:c1]
        v0, v1, v2, v3 = val[k], val[k + 1], val[k + 2], val[k + 3]
        for j in range(n):
            oc[j] = oc[j] + v0 * r0[j] + v1 * r1[j] + v2 * r2[j] + v3 * r3[j]
        k += 4
    while k < k1:
        r0 = weight[idx[k], c0:c1]
        v0 = val[k]
        for j in range(n):
            oc[j] = oc[j] + v0 * r0[j]
        k += 1


@njit(cache=True, nogil=True, fastmath=_FMA)
def sparse_rows_into(o, indptr, indices, data, idx, val, k0, k1):
    """CSR fan-out rows of the events k0:k1: o[indices[j]] += val * data[j]."""
    for k in range(k0, k1):
        i = idx[k]
        v = val[k]
        for j in range(indptr[i], indptr[i + 1]):
            o[indices[j]] += v * data[j]


@njit(cache=True, nogil=True)
def all_finite(x):
    """Whether every value of the 1-D ``x`` is finite (``x - x`` is 0 unless inf or NaN)."""
    bad = False
    for i in range(x.shape[0]):  # an or-reduction without branches: vectorised
        bad |= (x[i] - x[i]) != 0
    return not bad


@njit(cache=True, nogil=True)
def scan_values(x):
    """(whether every value of the 1-D ``x`` is finite, whether every value lies in
    {-1, 0, 1}) in one branch-free pass (vectorised)."""
    bad = False
    graded = False
    for i in range(x.shape[0]):
        v = x[i]
        bad |= (v - v) != 0
        graded |= (v != 0) & (v != 1) & (v != -1)
    return not bad, not graded


@njit(cache=True, nogil=True)
def count_nonzero_rows(weight):
    """Non-zero entries of each row of a 2-D array, int64 (n_rows,)."""
    out = np.zeros(weight.shape[0], dtype=np.int64)
    for i in range(weight.shape[0]):
        row = weight[i]
        c = 0
        for j in range(row.shape[0]):
            c += row[j] != 0
        out[i] = c
    return out


@njit(cache=True, nogil=True)
def scatter_dense(ptr, idx, val, weight, out, fan_nnz, fan_tot):
    """out[b] += val * weight[idx] for every event (weight is (n_pre, width))."""
    syn = 0
    act = 0
    width = weight.shape[1]
    for b in range(out.shape[0]):
        dense_rows_into(out[b], weight, idx, val, ptr[b], ptr[b + 1], 0, width)
        s, a = fan_counts(idx, ptr[b], ptr[b + 1], fan_nnz, fan_tot)
        syn += s
        act += a
    return syn, act


@njit(cache=True, nogil=True, parallel=True)
def scatter_dense_columns(o, weight, idx, val, k0, k1, n_chunks):
    """:func:`dense_rows_into` over all columns, split into ``n_chunks`` parallel blocks.

    Each output column still receives its terms in event order, so the result is
    bit-identical to the serial kernel.  Column blocks are multiples of 16 entries.
    """
    width = weight.shape[1]
    step = ((width + n_chunks - 1) // n_chunks + 15) // 16 * 16
    for c in prange(n_chunks):
        c0 = min(width, c * step)
        c1 = min(width, c0 + step)
        if c1 > c0:
            dense_rows_into(o, weight, idx, val, k0, k1, c0, c1)


@njit(cache=True, nogil=True)
def scatter_sparse(ptr, idx, val, indptr, indices, data, out, fan_nnz, fan_tot):
    """CSR fan-out rows: out[b, indices[j]] += val * data[j]."""
    syn = 0
    act = 0
    for b in range(out.shape[0]):
        sparse_rows_into(out[b], indptr, indices, data, idx, val, ptr[b], ptr[b + 1])
        s, a = fan_counts(idx, ptr[b], ptr[b + 1], fan_nnz, fan_tot)
        syn += s
        act += a
    return syn, act


@njit(cache=True, nogil=True)
def scatter_conv2d(ptr, idx, val, wt, out, geom, fan_nnz, fan_tot, s, pstart, pc, pv):
    """Convolution fan-out of input events (distinct units per sample, any order); see
    :func:`.conv.conv2d_into` (``s, pstart, pc, pv``: its work space,
    :func:`.conv.work_sizes`)."""
    syn = 0
    act = 0
    for b in range(out.shape[0]):
        conv2d_into(out[b], wt, geom, idx, val, ptr[b], ptr[b + 1], s, pstart, pc, pv)
        s_, a = fan_counts(idx, ptr[b], ptr[b + 1], fan_nnz, fan_tot)
        syn += s_
        act += a
    return syn, act
