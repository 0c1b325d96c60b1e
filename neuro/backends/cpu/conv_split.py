"""The event set-up of one sample's convolution split over threads (numba, cached).

Before the accumulation of :func:`.conv.conv2d_columns` runs on several threads, the
events are bucketed by pixel (or written into the zero-padded map of the dense-input
path).  On one sample that set-up was serial: a quarter of a ResNet-18 call on two
threads.  Events that ascend by unit (channel-major: every threshold and dense input
emits them so) fall into channel ranges that own disjoint parts of the work space, so
each thread sets up its own channels:

* the zero-padded map: each thread zeros and fills the map of its channels
  (:func:`.conv_dense.pad_channels`);
* the buckets: each thread counts, places and indexes the events of its channel
  blocks.  A block's buckets start where the events of the earlier blocks end, a
  position known from the events alone, so no thread waits for another.

The work space is the same, entry for entry, as the serial set-up's
(:func:`.conv.bucket_events`, :func:`.conv_dense.pad_events`): results do not depend
on the thread count.  Events that do not ascend take the serial set-up, which orders
them first.
"""

from __future__ import annotations

from numba import njit, prange

from .conv_dense import pad_channels
from .event_ranges import chunk_events

__all__ = ["pad_events_split", "bucket_blocks", "bucket_events_split"]


@njit(cache=True, nogil=True, parallel=True)
def pad_events_split(idx, val, k0, k1, geom, xp, n_chunks):
    """:func:`.conv_dense.pad_events` on ``n_chunks`` threads, one range of channels each,
    for events already known to ascend within ``[0, C_in H W)``."""
    c_in = geom[8] * geom[9]
    hw = geom[0] * geom[1]
    for t in prange(n_chunks):
        c0, c1, e0, e1 = chunk_events(idx, k0, k1, c_in, hw, t, n_chunks)
        if c1 > c0:
            pad_channels(idx, val, e0, e1, c0, c1, geom, xp)


@njit(cache=True, nogil=True)
def bucket_blocks(idx, val, e0, e1, k0, n, bl0, bl1, hw, cb, pstart, pc, pv):
    """Bucket the events ``e0:e1`` (ascending units, exactly those of the channel blocks
    ``bl0:bl1``) into ``pstart[bl0 hw : bl1 hw]``, ``pc``/``pv[e0 - k0 : e1 - k0]`` and
    ``pc[n + e0 - k0 : n + e1 - k0]`` (keys): the entries of :func:`.conv.bucket_events`
    for these blocks, and no others."""
    q0, q1 = bl0 * hw, bl1 * hw
    for q in range(q0, q1):
        pstart[q] = 0
    c = bl0 * cb
    limit = (c + 1) * hw
    base = q0  # block * hw
    for k in range(e0, e1):  # counts per key
        i = idx[k]
        while i >= limit:
            c += 1
            limit += hw
            if c % cb == 0:
                base += hw
        q = base + i - (limit - hw)
        pc[n + k - k0] = q
        pstart[q] += 1
    at = e0 - k0  # the buckets of block bl0 start where the earlier blocks' events end
    for q in range(q0, q1):
        m = pstart[q]
        pstart[q] = at
        at += m
    c = bl0 * cb
    limit = (c + 1) * hw
    for k in range(e0, e1):  # pstart[q] moves on to the end of bucket q
        i = idx[k]
        while i >= limit:
            c += 1
            limit += hw
        q = pc[n + k - k0]
        at = pstart[q]
        pc[at] = c
        pv[at] = val[k]
        pstart[q] = at + 1
    for q in range(q1 - 1, q0, -1):
        pstart[q] = pstart[q - 1]
    if q1 > q0:
        pstart[q0] = e0 - k0


@njit(cache=True, nogil=True, parallel=True)
def bucket_events_split(idx, val, k0, k1, hw, cb, pstart, pc, pv, n_chunks):
    """:func:`.conv.bucket_events` on ``n_chunks`` threads (channel blocks split between
    them) for events already known to ascend within the input and to fit the work
    space; returns the channel blocks spanned."""
    n = k1 - k0
    n_blk = (idx[k1 - 1] // hw) // cb + 1
    for t in prange(n_chunks):
        bl0, bl1, e0, e1 = chunk_events(idx, k0, k1, n_blk, cb * hw, t, n_chunks)
        if bl1 > bl0:
            bucket_blocks(idx, val, e0, e1, k0, n, bl0, bl1, hw, cb, pstart, pc, pv)
    pstart[n_blk * hw] = n
    return n_blk
