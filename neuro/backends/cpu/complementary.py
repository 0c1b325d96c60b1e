"""Complementary-sparse projections on the CPU scheduler.

Each event is processed as in Hunter et al. (2021): select (the active input) →
multiply (its packed weights, one per packed group) → route (each product by its kernel
id to output ``p * G + id``) → sum (into that output).  The work per event is one packed
row (P = ceil(n_out / G) weights) instead of a dense row of n_out weights.

Counts are those of the equivalent unpacked projection (see
:class:`neuro.ir.complementary.Complementary`), so packed and unpacked networks report
the same synops.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...audit.tally import fanouts
from ...audit.tally import tally_events as fan_counts
from .conv import tap_target
from .synapses import CPU_SYNAPSES

__all__ = ["build", "scatter_complementary", "scatter_complementary_conv2d"]


@njit(cache=True, nogil=True)
def scatter_complementary(ptr, idx, val, packed, ids, g, out, fan_nnz, fan_tot):
    """Fully connected: packed (n_pre, P), ids (n_pre, P); out[b, p*g + id] += v * w."""
    syn = 0
    act = 0
    n_groups = packed.shape[1]
    for b in range(out.shape[0]):
        o = out[b]
        for k in range(ptr[b], ptr[b + 1]):
            i = idx[k]
            v = val[k]
            row = packed[i]
            rid = ids[i]
            for p in range(n_groups):
                w = row[p]
                if w != 0:
                    o[p * g + rid[p]] += v * w
        s, a = fan_counts(idx, ptr[b], ptr[b + 1], fan_nnz, fan_tot)
        syn += s
        act += a
    return syn, act


@njit(cache=True, nogil=True)
def scatter_complementary_conv2d(ptr, idx, val, packed, ids, g, out, geom, fan_nnz, fan_tot):
    """Convolution: packed/ids (C_in, kh, kw, P) pre-synaptic major; see ``scatter_conv2d``.

    ``geom`` = (H, W, H_out, W_out, stride_h, stride_w, pad_h, pad_w).
    """
    h, w, h_out, w_out, sh, sw, ph, pw = geom
    _, kh, kw, n_groups = packed.shape
    hw_in = h * w
    hw_out = h_out * w_out
    syn = 0
    act = 0
    for b in range(out.shape[0]):
        o = out[b]
        for k in range(ptr[b], ptr[b + 1]):
            i = idx[k]
            v = val[k]
            c = i // hw_in
            rem = i - c * hw_in
            y = rem // w
            x = rem - y * w
            for ky in range(kh):
                yo = tap_target(y, ky, ph, 1, sh, h_out)
                if yo == -2:
                    break
                if yo < 0:
                    continue
                for kx in range(kw):
                    xo = tap_target(x, kx, pw, 1, sw, w_out)
                    if xo == -2:
                        break
                    if xo < 0:
                        continue
                    pos = yo * w_out + xo
                    wrow = packed[c, ky, kx]
                    irow = ids[c, ky, kx]
                    for p in range(n_groups):
                        wv = wrow[p]
                        if wv != 0:
                            o[(p * g + irow[p]) * hw_out + pos] += v * wv
        s, a = fan_counts(idx, ptr[b], ptr[b + 1], fan_nnz, fan_tot)
        syn += s
        act += a
    return syn, act


@CPU_SYNAPSES.register("complementary")
def build(weights, dtype):
    """Bind a :class:`~neuro.ir.complementary.Complementary` operator for delivery.

    Returns
    -------
    deliver : callable
        ``deliver(ptr, idx, val, out) -> (synops, activity_sparse_macs)``.
    """
    dtype = np.dtype(dtype)
    g = weights.n_kernels
    nnz, tot = fanouts(weights)
    if weights.is_conv:
        packed = np.ascontiguousarray(weights.packed.transpose(1, 2, 3, 0), dtype=dtype)
        ids = np.ascontiguousarray(weights.kernel_ids.transpose(1, 2, 3, 0))
        _, h, w = weights.in_shape
        _, h_out, w_out = weights.out_shape
        geom = np.array([h, w, h_out, w_out, *weights.stride, *weights.padding], dtype=np.int64)

        def deliver(ptr, idx, val, out):
            return scatter_complementary_conv2d(ptr, idx, val, packed, ids, g, out, geom, nnz, tot)

        return deliver
    packed = np.ascontiguousarray(weights.packed, dtype=dtype)
    ids = weights.kernel_ids

    def deliver(ptr, idx, val, out):
        return scatter_complementary(ptr, idx, val, packed, ids, g, out, nnz, tot)

    return deliver
