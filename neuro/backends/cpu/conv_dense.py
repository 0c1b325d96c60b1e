"""Dense-input path of the CPU convolution (numba, ``nogil``, cached): for inputs
where most units carry an event (the image into a network's stem, the maps after max
pooling), the events are written into a zero-padded dense map and every output pixel
takes every term of its receptive field, four output pixels at a time: a segment of
each weight row is loaded into vector registers once and serves the four pixels,
whose output segments stay in registers across all the terms (:mod:`.simd`).

The terms of each output element are added in the order of the sparse-input gather
(:func:`.conv.conv2d_gather`: channel blocks, taps row-major, channels ascending),
one fused multiply-add each; the zero inputs the sparse path skips add exact zeros,
so both paths give the same values (up to the sign of a zero sum).  The counts never
depend on the path: they are computed from the events.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .simd import add_pixel_terms_rows
from .views import row_view

__all__ = [
    "DENSE_FRACTION",
    "padded_size",
    "pad_events",
    "pad_channels",
    "dense_terms",
    "dense_gather",
]

# A one-group convolution takes the dense-input path when at least this fraction of
# its input units carry an event (below it, skipping the zeros pays).
DENSE_FRACTION = 0.85

# Floating-point contraction (fused multiply-add) only: no reassociation.
_FMA = {"contract"}


def padded_size(geom) -> int:
    """Values of the zero-padded input map ``(C_in, H + 2 pad_h, W + 2 pad_w)``."""
    c_in = int(geom[8] * geom[9])
    return c_in * int(geom[0] + 2 * geom[6]) * int(geom[1] + 2 * geom[7])


@njit(cache=True, nogil=True)
def pad_events(idx, val, k0, k1, geom, xp):
    """Write the events k0:k1 into the zero-padded map ``xp``; False (``xp`` unusable)
    unless their unit indices ascend strictly within ``[0, C_in H W)``.

    Parameters
    ----------
    idx, val : ndarray
        Event unit indices (``c H W + y W + x``) and values.
    geom : int64 array, see :func:`.conv.conv_geometry`
    xp : ndarray, shape (>= C_in (H + 2 pad_h) (W + 2 pad_w),)
        Filled: the padded map, channels-first.
    """
    c_in = geom[8] * geom[9]
    if k1 <= k0 or idx[k0] < 0 or idx[k1 - 1] >= c_in * geom[0] * geom[1]:
        return False
    for k in range(k0 + 1, k1):
        if idx[k] <= idx[k - 1]:
            return False
    pad_channels(idx, val, k0, k1, 0, c_in, geom, xp)
    return True


@njit(cache=True, nogil=True)
def pad_channels(idx, val, e0, e1, c0, c1, geom, xp):
    """Channels ``c0:c1`` of the zero-padded map ``xp``: zeros, then the events
    ``e0:e1`` (ascending unit indices, all in those channels) at their positions.

    Walks the events row by row of the input (no division per event); writes only
    ``xp[c0 (H + 2 pad_h)(W + 2 pad_w) : c1 (H + 2 pad_h)(W + 2 pad_w)]``, so
    disjoint channel ranges can be filled by parallel threads.
    """
    h, w, ph, pw = geom[0], geom[1], geom[6], geom[7]
    hp, wp = h + 2 * ph, w + 2 * pw
    m = row_view(xp, c0 * hp * wp, (c1 - c0) * hp * wp)
    m[:] = 0
    if e1 <= e0:
        return
    row = idx[e0] // w  # input row c H + y of the first event
    row_end = (row + 1) * w
    c, y = row // h, row % h
    shift = ((c - c0) * hp + y + ph) * wp + pw - row * w  # unit index -> map position
    for k in range(e0, e1):
        i = idx[k]
        while i >= row_end:  # on to the event's row
            row_end += w
            y += 1
            shift += wp - w
            if y == h:
                y = 0
                shift += 2 * ph * wp
        m[i + shift] = val[k]


@njit(cache=True, nogil=True)
def dense_terms(geom, cb, toff, woff):
    """The terms of one output pixel in the gather's order (channel blocks of ``cb``,
    taps row-major, channels ascending): offsets into the padded map (from the pixel's
    window corner) and into the kernel.  Returns their number, ``C_in kh kw``."""
    h, w, ph, pw = geom[0], geom[1], geom[6], geom[7]
    c_in, kh, kw, c_out = geom[9], geom[10], geom[11], geom[12]
    dh, dw = geom[13], geom[14]
    hp, wp = h + 2 * ph, w + 2 * pw
    per_c = kh * kw * c_out
    n = 0
    for c0 in range(0, c_in, cb):
        for ky in range(kh):
            for kx in range(kw):
                for c in range(c0, min(c_in, c0 + cb)):
                    toff[n] = c * hp * wp + ky * dh * wp + kx * dw
                    woff[n] = c * per_c + (ky * kw + kx) * c_out
                    n += 1
    return n


@njit(cache=True, nogil=True, fastmath=_FMA)
def dense_gather(s, wt, geom, xp, toff, woff, n_terms, p0, p1):
    """Rows ``p0:p1`` of the channels-last scratch (one group) set to the sum of every
    term of their receptive fields in the zero-padded map ``xp``.

    Parameters
    ----------
    s : ndarray, shape (H_out * W_out * C_out,)
        Channels-last scratch (flat); rows ``p0:p1`` are overwritten.
    wt : ndarray, shape (1, C_in, kh, kw, C_out)
    geom : int64 array, see :func:`.conv.conv_geometry`
    xp : ndarray
        The padded map, from :func:`pad_events`.
    toff, woff : int64 ndarray
        The terms, from :func:`dense_terms`.
    """
    w, w_out = geom[1], geom[3]
    sh, sw, pw = geom[4], geom[5], geom[7]
    c_out = geom[12]
    wp = w + 2 * pw
    bases = np.empty(4, dtype=np.int64)
    q = p0
    while q < p1:
        m = min(4, p1 - q)
        rows = row_view(s, q * c_out, m * c_out)
        rows[:] = 0
        if m < 4:  # the last pixels of the range, one at a time
            for r in range(m):
                yo = (q + r) // w_out
                base = yo * sh * wp + (q + r - yo * w_out) * sw
                row = row_view(rows, r * c_out, c_out)
                for t in range(n_terms):
                    v = xp[base + toff[t]]
                    w0 = row_view(wt, woff[t], c_out)
                    for j in range(c_out):
                        row[j] = row[j] + v * w0[j]
            q += m
            continue
        for r in range(4):
            yo = (q + r) // w_out
            bases[r] = yo * sh * wp + (q + r - yo * w_out) * sw
        add_pixel_terms_rows(rows, c_out, wt, woff, xp, bases, toff, n_terms)
        q += 4
