"""Sparse-input 2-D convolution kernels of the CPU scheduler (numba, ``nogil``, cached).

The event-driven convolution of one sample and step runs in three passes:

1. *Bucketing*: the input events (distinct units, in any order: channel-major
   ``(c, y, x)`` from most layers, out of order from SAS slots, which are first
   ordered by unit) are sorted by pixel ``(y, x)`` (a counting sort, stable, so each
   pixel's events keep ascending channels): O(events + H·W).
2. *Accumulation* into a per-sample channels-last scratch ``(H_out·W_out, C_out)``:
   for each active pixel and each kernel tap landing on an output position, the
   pixel's events add ``v · w[c, ky, kx, :]`` to the output row, one contiguous
   ``C_out``-wide multiply-add (vectorised, fused multiply-add).  A row of up to
   128 float32 (64 float64) channels stays in vector registers while all the terms of
   its receptive field are added (:mod:`.simd`), so it is read and written once per
   pixel; wider rows take eight terms per pass.  Each element receives its terms one
   fused multiply-add at a time, left to right.  Borders, stride,
   padding, dilation and groups (depthwise included) are exact: a tap that lands
   outside the output or between strided positions adds nothing.  A 1×1 kernel is the
   dense-layer path (one tap: the pixel's events are a dense fan-out row).
3. *Transposed add*: the scratch is added once into the channels-first port vector
   ``(C_out, H_out, W_out)``: O(outputs).

Every output element receives its terms in one fixed order (pixels ascending, then
channels ascending), whatever the column range a thread owns, so
splitting the output channels over threads (:func:`conv2d_columns`) gives
bit-identical results.  The scratch starts at zero and is added to the port after
all terms, so the port's earlier terms (bias, other projections) are kept apart.

A one-group convolution whose input is mostly events (at least ``DENSE_FRACTION`` of
its units: the image into a stem, maps after max pooling) skips the bucketing: the
events are written into a zero-padded map and :mod:`.conv_dense` adds every term of
each receptive field in the same order, four output pixels per weight segment read; the
values are the same as the gather's.

Geometry (int64 array, :func:`conv_geometry`): ``(H, W, H_out, W_out, stride_h,
stride_w, pad_h, pad_w, groups, C_in/groups, kh, kw, C_out/groups, dil_h, dil_w)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ...exceptions import InputError, ShapeError
from .conv_dense import DENSE_FRACTION, dense_gather, dense_terms, pad_events, padded_size
from .conv_split import bucket_blocks, bucket_events_split, pad_events_split
from .event_ranges import events_ascend
from .simd import add_row_terms
from .views import row_view

__all__ = [
    "GEOMETRY_LENGTH",
    "conv_geometry",
    "tap_target",
    "bucket_events",
    "conv2d_accumulate",
    "conv2d_gather",
    "add_channels_last",
    "conv2d_into",
    "conv2d_columns",
    "column_chunk",
    "work_sizes",
]

# Floating-point contraction (fused multiply-add) only: no reassociation.
_FMA = {"contract"}

GEOMETRY_LENGTH = 15

# Input channels are processed in blocks whose weights fill at most this many bytes
# (half the L2 cache of the machines we measure on), so they stay cached while every
# output pixel reads them.
CACHE_BYTES = 1 << 18


@njit(cache=True, nogil=True, inline="always")
def tap_target(pos, k, pad, dil, stride, n_out):
    """Output position that tap ``k`` of input position ``pos`` lands on, along one axis.

    Returns
    -------
    int
        The output position (>= 0); -1 when the tap lands between strided positions or
        past the end (a later tap may still land); -2 when it lands before the start
        (no later tap of this axis lands: the caller stops).
    """
    t = pos + pad - k * dil
    if t < 0:
        return -2
    if t % stride != 0:
        return -1
    o = t // stride
    return o if o < n_out else -1


def conv_geometry(op, wt_shape) -> np.ndarray:
    """Geometry array of a ``Conv2d`` weight operator with kernel laid out as ``wt_shape``.

    Parameters
    ----------
    op : neuro.ir.weights.Conv2d
    wt_shape : tuple of int
        (groups, C_in/groups, kh, kw, C_out/groups) of the re-laid-out kernel.

    Returns
    -------
    ndarray of int64, shape (15,)
    """
    _, h, w = op.in_shape
    _, h_out, w_out = op.out_shape
    dil = tuple(getattr(op, "dilation", (1, 1)))
    return np.asarray(
        [h, w, h_out, w_out, *op.stride, *op.padding, *wt_shape, *dil], dtype=np.int64
    )


@njit(cache=True, nogil=True)
def _event_order(idx, k0, k1):
    """Positions ``k0:k1`` of the events by ascending unit index, or an empty array
    when they already ascend strictly (the common, channel-major emission order).
    Raises :class:`~neuro.exceptions.InputError` when a unit repeats within the range."""
    ascending = True
    for k in range(k0 + 1, k1):
        if idx[k] <= idx[k - 1]:
            ascending = False
            break
    if ascending:
        return np.empty(0, dtype=np.int64)
    order = np.argsort(idx[k0:k1], kind="mergesort") + k0
    for j in range(1, k1 - k0):
        if idx[order[j]] == idx[order[j - 1]]:
            raise InputError(
                "conv2d events: a unit index repeats within one sample; units must be distinct"
            )
    return order


@njit(cache=True, nogil=True)
def bucket_events(idx, val, k0, k1, hw, cb, n_units, pstart, pc, pv):
    """Sort the events k0:k1 (unit index ``c·hw + pixel``, distinct, any order) by
    channel block and pixel, channels ascending within a bucket.

    Events that do not arrive in ascending unit order (e.g. SAS slots) are first
    ordered by unit index, so a bucket's content and order depend only on the set
    of events, never on the order they were emitted in.

    Parameters
    ----------
    idx, val : ndarray
        Event unit indices (distinct, each in ``[0, C_in·hw)``) and values.
    hw : int
        Pixels per channel (H·W).
    cb : int
        Channels per block.
    n_units : int
        Input units (C_in·hw): every index must be below it.
    pstart : ndarray of int64, shape (>= n_blocks hw + 1,)
        Filled: the events of block b and pixel p are ``pc/pv[pstart[q]:pstart[q+1]]``,
        ``q = b hw + p``.
    pc : ndarray of int64, shape (>= 2 (k1 - k0),)
        Filled: channel of each bucketed event (the second half is work space).
    pv : ndarray, shape (>= k1 - k0,)
        Filled: value of each bucketed event.

    Returns
    -------
    int
        Channel blocks spanned by the events (0 without events).

    Raises
    ------
    neuro.exceptions.InputError
        A unit index is negative, repeats, or is not below ``n_units``.
    neuro.exceptions.ShapeError
        ``pstart``, ``pc`` or ``pv`` is shorter than the events need.
    """
    n = k1 - k0
    if n <= 0 or hw <= 0:
        pstart[0] = 0
        return 0
    order = _event_order(idx, k0, k1)
    sorted_in = order.shape[0] == 0
    lo = idx[k0] if sorted_in else idx[order[0]]
    hi = idx[k1 - 1] if sorted_in else idx[order[n - 1]]
    n_keys = ((hi // hw) // cb + 1) * hw
    if lo < 0 or hi >= n_units:
        raise InputError("conv2d events: a unit index lies outside [0, C_in H W) of the input")
    if n_keys + 1 > pstart.shape[0] or 2 * n > pc.shape[0] or n > pv.shape[0]:
        raise ShapeError("conv2d events: the work space is smaller than work_sizes gives")
    if sorted_in:
        bucket_blocks(idx, val, k0, k1, k0, n, 0, n_keys // hw, hw, cb, pstart, pc, pv)
    else:  # the events in unit order, then bucketed as ascending events are
        bucket_blocks(idx[order], val[order], 0, n, 0, n, 0, n_keys // hw, hw, cb, pstart, pc, pv)
    pstart[n_keys] = n
    return n_keys // hw


@njit(cache=True, nogil=True, fastmath=_FMA)
def conv2d_accumulate(s, wt, geom, pstart, pc, pv, c0, c1):
    """Add every bucketed event's fan-out to the channels-last scratch, columns c0:c1.

    Parameters
    ----------
    s : ndarray, shape (H_out * W_out, C_out)
        Channels-last scratch; columns ``c0:c1`` are added to.
    wt : ndarray, shape (groups, C_in/groups, kh, kw, C_out/groups)
    geom : int64 array, see :func:`conv_geometry`
    pstart, pc, pv : ndarray
        Events by pixel, from :func:`bucket_events`.
    c0, c1 : int
        Output channel range.
    """
    h, w, h_out, w_out = geom[0], geom[1], geom[2], geom[3]
    sh, sw, ph, pw = geom[4], geom[5], geom[6], geom[7]
    n_groups, cg, kh, kw, og = geom[8], geom[9], geom[10], geom[11], geom[12]
    dh, dw = geom[13], geom[14]
    c_out = n_groups * og
    n = c1 - c0
    per_c = kh * kw * og  # weights of one input channel (within its group)
    for y in range(h):
        for x in range(w):
            p = y * w + x
            e0, e1 = pstart[p], pstart[p + 1]
            if e0 == e1:
                continue
            for ky in range(kh):
                yo = tap_target(y, ky, ph, dh, sh, h_out)
                if yo == -2:
                    break
                if yo < 0:
                    continue
                for kx in range(kw):
                    xo = tap_target(x, kx, pw, dw, sw, w_out)
                    if xo == -2:
                        break
                    if xo < 0:
                        continue
                    r = (yo * w_out + xo) * c_out
                    tap = (ky * kw + kx) * og
                    if n_groups == 1:
                        row = row_view(s, r + c0, n)
                        e = e0
                        while e + 4 <= e1:
                            w0 = row_view(wt, pc[e] * per_c + tap + c0, n)
                            w1 = row_view(wt, pc[e + 1] * per_c + tap + c0, n)
                            w2 = row_view(wt, pc[e + 2] * per_c + tap + c0, n)
                            w3 = row_view(wt, pc[e + 3] * per_c + tap + c0, n)
                            v0, v1, v2, v3 = pv[e], pv[e + 1], pv[e + 2], pv[e + 3]
                            for j in range(n):
                                row[j] = row[j] + v0 * w0[j] + v1 * w1[j] + v2 * w2[j] + v3 * w3[j]
                            e += 4
                        while e < e1:
                            w0 = row_view(wt, pc[e] * per_c + tap + c0, n)
                            v0 = pv[e]
                            for j in range(n):
                                row[j] = row[j] + v0 * w0[j]
                            e += 1
                    else:
                        for e in range(e0, e1):
                            c = pc[e]
                            g = c // cg
                            lo = max(c0, g * og)
                            hi = min(c1, g * og + og)
                            if lo >= hi:
                                continue
                            # wt[g, c - g*cg, ky, kx, lo - g*og :] starts at c*per_c + tap + ...
                            w0 = row_view(wt, c * per_c + tap + lo - g * og, hi - lo)
                            row = row_view(s, r + lo, hi - lo)
                            v0 = pv[e]
                            for j in range(hi - lo):
                                row[j] = row[j] + v0 * w0[j]


@njit(cache=True, nogil=True, fastmath=_FMA)
def conv2d_gather(s, wt, geom, pstart, pc, pv, n_blk, p0, p1, woff, wv):
    """Output-stationary accumulation (one group): rows ``p0:p1`` of the channels-last
    scratch, all output channels, are set to the sum of their terms.

    For each channel block (weights of a block stay in cache), then each output pixel,
    the terms ``(event, tap)`` of its receptive field are listed (taps row-major, channels
    ascending) and added to the output row (:func:`.simd.add_row_terms`: in registers,
    or eight at a time for rows wider than two register blocks).

    Parameters
    ----------
    s : ndarray, shape (H_out * W_out * C_out,)
        Channels-last scratch (flat); rows ``p0:p1`` are overwritten.
    wt : ndarray, shape (1, C_in, kh, kw, C_out)
    geom : int64 array, see :func:`conv_geometry`
    pstart, pc, pv : ndarray
        Events by channel block and pixel, from :func:`bucket_events`.
    n_blk : int
        Channel blocks with events.
    p0, p1 : int
        Output pixels (row-major) to compute.
    woff, wv : ndarray, shape (>= kh * kw * channels per block,)
        Work space for one pixel's terms (int64 weight offsets, values).
    """
    h, w, w_out = geom[0], geom[1], geom[3]
    sh, sw, ph, pw = geom[4], geom[5], geom[6], geom[7]
    kh, kw, c_out = geom[10], geom[11], geom[12]
    dh, dw = geom[13], geom[14]
    hw = h * w
    per_c = kh * kw * c_out
    zero = row_view(s, p0 * c_out, (p1 - p0) * c_out)
    zero[:] = 0
    for blk in range(n_blk):
        kb = blk * hw
        for q in range(p0, p1):
            yo = q // w_out
            xo = q - yo * w_out
            n = 0
            for ky in range(kh):
                iy = yo * sh - ph + ky * dh
                if iy < 0 or iy >= h:
                    continue
                for kx in range(kw):
                    ix = xo * sw - pw + kx * dw
                    if ix < 0 or ix >= w:
                        continue
                    key = kb + iy * w + ix
                    tap = (ky * kw + kx) * c_out
                    e0 = pstart[key]
                    m = pstart[key + 1] - e0
                    src_c = row_view(pc, e0, m)  # views indexed from 0: no wrap-around checks
                    src_v = row_view(pv, e0, m)
                    dst_o = row_view(woff, n, m)
                    dst_v = row_view(wv, n, m)
                    for j in range(m):
                        dst_o[j] = src_c[j] * per_c + tap
                        dst_v[j] = src_v[j]
                    n += m
            if n == 0:
                continue
            row = row_view(s, q * c_out, c_out)
            add_row_terms(row, c_out, wt, woff, wv, n)


@njit(cache=True, nogil=True, fastmath=_FMA)
def add_channels_last(o, s, n_pix, c_out, c0, c1, q0, q1):
    """o[c, p] += s[p, c] for channels c0:c1 and pixels q0:q1 (o channels-first, s
    channels-last, flat).

    Parameters
    ----------
    o : ndarray, shape (C_out * P,)
    s : ndarray, shape (>= P * C_out,)
    n_pix, c_out : int
        P (= H_out W_out) and C_out.
    """
    for p0 in range(q0, q1, 64):  # 64 pixels x the channels of s stay in cache
        m = min(64, q1 - p0)
        for c in range(c0, c1):
            orow = row_view(o, c * n_pix + p0, m)
            col = row_view(s, p0 * c_out + c, (m - 1) * c_out + 1)
            for q in range(m):
                orow[q] += col[q * c_out]


@njit(cache=True, nogil=True)
def _block_channels(geom, itemsize):
    """Channels per block: their weights fill at most ``CACHE_BYTES`` (at least 4)."""
    per_channel = geom[10] * geom[11] * geom[12] * itemsize
    return min(geom[9], max(4, CACHE_BYTES // per_channel)) if geom[8] == 1 else geom[9] * geom[8]


@njit(cache=True, nogil=True)
def conv2d_into(o, wt, geom, idx, val, k0, k1, s, pstart, pc, pv):
    """Convolution fan-out of the events k0:k1 into one sample's port vector.

    Parameters
    ----------
    o : ndarray, shape (C_out * H_out * W_out,)
        Channels-first port vector, added to.
    wt : ndarray, shape (groups, C_in/groups, kh, kw, C_out/groups)
        Kernel laid out pre-synaptic major (one contiguous vector of output channels
        per input channel and tap).
    geom : int64 array, see :func:`conv_geometry`
    idx, val : ndarray
        Event unit indices (ascending, channel-major) and values.
    k0, k1 : int
        Event range.
    s, pstart, pc, pv : ndarray
        Work space (see :func:`work_sizes`): s (>= H_out W_out C_out,) of o's dtype,
        pstart (>= C_in H W + 1,) and pc (>= 2 (k1 - k0),) int64, pv (>= k1 - k0,).
    """
    if k1 <= k0:
        return
    n_blk, cb = _setup(geom, idx, val, k0, k1, s, pstart, pc, pv)
    _part(o, wt, geom, s, pstart, pc, pv, n_blk, cb, 0, 1)


def work_sizes(geom) -> tuple:
    """Work space of one sample of a convolution: (scratch values, pstart, pc, pv) lengths."""
    h, w, h_out, w_out = (int(v) for v in geom[:4])
    c_out = int(geom[8] * geom[12])
    n_pre = int(geom[8] * geom[9]) * h * w
    return h_out * w_out * c_out, n_pre + 1, 2 * n_pre, max(n_pre, padded_size(geom))


def column_chunk(c_out: int, n_chunks: int) -> int:
    """Output channels per thread: a multiple of 16 (whole cache lines of the scratch)."""
    return ((c_out + n_chunks - 1) // n_chunks + 15) // 16 * 16


@njit(cache=True, nogil=True)
def _setup(geom, idx, val, k0, k1, s, pstart, pc, pv):
    """Bucket the events; returns (channel blocks, channels per block).  A one-group
    convolution whose input is mostly events writes them into the zero-padded map
    ``pv`` instead (dense-input path): then the channel blocks are -1."""
    cb = _block_channels(geom, s.itemsize)
    hw = geom[0] * geom[1]
    n_units = geom[8] * geom[9] * hw
    if (
        geom[8] == 1
        and k1 - k0 >= DENSE_FRACTION * n_units
        and pad_events(idx, val, k0, k1, geom, pv)
    ):
        return -1, cb
    return bucket_events(idx, val, k0, k1, hw, cb, n_units, pstart, pc, pv), cb


@njit(cache=True, nogil=True)
def _setup_split(geom, idx, val, k0, k1, s, pstart, pc, pv, n_chunks):
    """:func:`_setup` on ``n_chunks`` threads (:mod:`.conv_split`) for events that ascend
    within the input and fit the work space; the serial set-up (which orders the events,
    or raises) for any others.  Same work space, entry for entry."""
    cb = _block_channels(geom, s.itemsize)
    hw = geom[0] * geom[1]
    n_units = geom[8] * geom[9] * hw
    n = k1 - k0
    if idx[k0] < 0 or idx[k1 - 1] >= n_units or not events_ascend(idx, k0, k1, n_chunks):
        return _setup(geom, idx, val, k0, k1, s, pstart, pc, pv)
    if geom[8] == 1 and n >= DENSE_FRACTION * n_units:
        pad_events_split(idx, val, k0, k1, geom, pv, n_chunks)
        return -1, cb
    n_keys = ((idx[k1 - 1] // hw) // cb + 1) * hw
    if n_keys + 1 > pstart.shape[0] or 2 * n > pc.shape[0] or n > pv.shape[0]:
        return _setup(geom, idx, val, k0, k1, s, pstart, pc, pv)
    return bucket_events_split(idx, val, k0, k1, hw, cb, pstart, pc, pv, n_chunks), cb


@njit(cache=True, nogil=True)
def _part(o, wt, geom, s, pstart, pc, pv, n_blk, cb, t, n_parts):
    """Part ``t`` of ``n_parts``: output pixels (one group) or channels (groups)."""
    c_out = geom[8] * geom[12]
    n_pix = geom[2] * geom[3]
    sv = row_view(s, 0, n_pix * c_out)
    if geom[8] == 1:
        step = (n_pix + n_parts - 1) // n_parts
        p0 = min(n_pix, t * step)
        p1 = min(n_pix, p0 + step)
        if p1 > p0 and n_blk < 0:  # dense-input path
            toff = np.empty(geom[9] * geom[10] * geom[11], dtype=np.int64)
            woff = np.empty_like(toff)
            n_terms = dense_terms(geom, cb, toff, woff)
            dense_gather(sv, wt, geom, pv, toff, woff, n_terms, p0, p1)
            add_channels_last(o, sv, n_pix, c_out, 0, c_out, p0, p1)
        elif p1 > p0:
            n_terms = geom[10] * geom[11] * cb
            woff = np.empty(n_terms, dtype=np.int64)
            wv = np.empty(n_terms, dtype=s.dtype)
            conv2d_gather(sv, wt, geom, pstart, pc, pv, n_blk, p0, p1, woff, wv)
            add_channels_last(o, sv, n_pix, c_out, 0, c_out, p0, p1)
    else:
        step = ((c_out + n_parts - 1) // n_parts + 15) // 16 * 16
        c0 = min(c_out, t * step)
        c1 = min(c_out, c0 + step)
        if c1 > c0:
            s2 = sv.reshape((n_pix, c_out))
            s2[:, c0:c1] = 0
            conv2d_accumulate(s2, wt, geom, pstart, pc, pv, c0, c1)
            add_channels_last(o, sv, n_pix, c_out, c0, c1, 0, n_pix)


@njit(cache=True, nogil=True, parallel=True)
def conv2d_columns(o, wt, geom, idx, val, k0, k1, s, pstart, pc, pv, n_chunks):
    """:func:`conv2d_into` split into ``n_chunks`` parallel parts, bit-identical to one
    part: output pixels (one group) or output channels (multiples of 16; groups).

    Every output element receives its terms in one order (channel blocks, taps
    row-major, channels ascending; with groups: pixels, then channels), whatever the
    split.
    """
    if k1 <= k0:
        return
    n_blk, cb = _setup_split(geom, idx, val, k0, k1, s, pstart, pc, pv, n_chunks)
    for t in prange(n_chunks):
        _part(o, wt, geom, s, pstart, pc, pv, n_blk, cb, t, n_chunks)
