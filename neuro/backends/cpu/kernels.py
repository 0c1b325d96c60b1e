"""Compiled kernels of the CPU event scheduler (numba, ``nogil``, cached).

Events of one population and step are stored flat, per sample ``b`` in
``idx[ptr[b]:ptr[b+1]]`` (unit indices) and ``val[...]`` (graded values).
Scatter kernels stream the fan-out of each event into a (B, width) port buffer
and return the counts they are responsible for: synaptic ops (non-zero weights
reached) and activity-sparse MACs (all connections reached).
"""

from __future__ import annotations

from numba import njit

__all__ = [
    "dense_to_events",
    "events_to_dense",
    "scatter_dense",
    "scatter_sparse",
    "scatter_conv2d",
    "threshold_events",
]


@njit(cache=True, nogil=True)
def dense_to_events(x, ptr, idx, val):
    """Every non-zero entry of x (B, n) becomes an event; returns the event count."""
    k = 0
    for b in range(x.shape[0]):
        ptr[b] = k
        row = x[b]
        for i in range(row.shape[0]):
            v = row[i]
            if v != 0:
                idx[k] = i
                val[k] = v
                k += 1
    ptr[x.shape[0]] = k
    return k


@njit(cache=True, nogil=True)
def threshold_events(x, theta, ptr, idx, val):
    """FATReLU: an event (value x) where x >= theta and x != 0; returns the count."""
    k = 0
    for b in range(x.shape[0]):
        ptr[b] = k
        row = x[b]
        for i in range(row.shape[0]):
            v = row[i]
            if v >= theta[i] and v != 0:
                idx[k] = i
                val[k] = v
                k += 1
    ptr[x.shape[0]] = k
    return k


@njit(cache=True, nogil=True)
def events_to_dense(ptr, idx, val, out):
    """Write events into a zeroed-then-filled dense (B, n) array."""
    out[:] = 0
    for b in range(out.shape[0]):
        for k in range(ptr[b], ptr[b + 1]):
            out[b, idx[k]] = val[k]


@njit(cache=True, nogil=True)
def scatter_dense(ptr, idx, val, weight, out, fan_nnz, fan_tot):
    """out[b] += val * weight[idx] for every event (weight is (n_pre, width))."""
    syn = 0
    act = 0
    width = weight.shape[1]
    for b in range(out.shape[0]):
        o = out[b]
        for k in range(ptr[b], ptr[b + 1]):
            i = idx[k]
            v = val[k]
            row = weight[i]
            for j in range(width):
                o[j] += v * row[j]
            syn += fan_nnz[i]
            act += fan_tot[i]
    return syn, act


@njit(cache=True, nogil=True)
def scatter_sparse(ptr, idx, val, indptr, indices, data, out, fan_nnz, fan_tot):
    """CSR fan-out rows: out[b, indices[j]] += val * data[j]."""
    syn = 0
    act = 0
    for b in range(out.shape[0]):
        o = out[b]
        for k in range(ptr[b], ptr[b + 1]):
            i = idx[k]
            v = val[k]
            for j in range(indptr[i], indptr[i + 1]):
                o[indices[j]] += v * data[j]
            syn += fan_nnz[i]
            act += fan_tot[i]
    return syn, act


@njit(cache=True, nogil=True)
def scatter_conv2d(ptr, idx, val, wt, out, geom, fan_nnz, fan_tot):
    """Convolution fan-out of input events.

    Parameters
    ----------
    wt : ndarray, shape (groups, C_in/groups, kh, kw, C_out/groups)
        Kernel re-laid out pre-synaptic major: one contiguous vector of output
        channels per (input channel, tap).
    geom : int64 array
        (H, W, H_out, W_out, stride_h, stride_w, pad_h, pad_w).
    """
    h, w, h_out, w_out, sh, sw, ph, pw = geom
    n_groups, cg, kh, kw, og = wt.shape
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
            g = c // cg
            cl = c - g * cg
            obase = g * og * hw_out
            for ky in range(kh):
                ty = y + ph - ky
                if ty < 0:
                    break
                if ty % sh != 0:
                    continue
                yo = ty // sh
                if yo >= h_out:
                    continue
                for kx in range(kw):
                    tx = x + pw - kx
                    if tx < 0:
                        break
                    if tx % sw != 0:
                        continue
                    xo = tx // sw
                    if xo >= w_out:
                        continue
                    pos = obase + yo * w_out + xo
                    wv = wt[g, cl, ky, kx]
                    for oc in range(og):
                        o[pos + oc * hw_out] += v * wv[oc]
            syn += fan_nnz[i]
            act += fan_tot[i]
    return syn, act
