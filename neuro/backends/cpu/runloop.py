"""The compiled whole-run loop of the CPU scheduler (numba, ``nogil``, cached).

A population's step for one sample has three phases: :func:`begin_population`
(input events, or ports set to their biases), :func:`deliver_projection` per
incoming projection, :func:`finish_population` (the model's update, counting,
recording).  Samples of a batch never interact, so three orders give the same
results: :func:`run_batch_serial` runs each phase for every sample before the
next (lockstep: a projection's fan-out rows read for one sample are still in
cache when the next sample reads them); :func:`run_batch_lockstep` does the same
with the samples of each phase on parallel threads (for networks whose weights
do not fit in cache); :func:`run_batch_parallel` runs each sample's whole run on
its own thread (no synchronisation per step: best for small networks).  The
network arrives flattened into int64 tables (built by :mod:`.fastpath`); arrays
that differ in number and shape from network to network (weights, inputs,
recordings) are passed as addresses, so one compiled loop serves every network:

Populations ``i`` (topological order), ``pop[i, :]``, columns named by
:class:`~.tables.Pop` (kind, size, ring depth and first slot, input and recording
addresses, port, bias, threshold and state offsets, port width and count); port ``p``
of sample ``b`` starts at ``pop[i, Pop.PORTS] + (p * B + b) * pop[i, Pop.WIDTH]``.
Projections ``k`` (insertion order), ``proj[k, :]``, columns named by
:class:`~.tables.Proj` (weight kind, pre population, delay, shape, addresses of the
weights, of the int arrays and of the fan-out counts, target port, column block).
Max pooling (:attr:`~.tables.Kind.MAXPOOL`) keeps the running maxima and the tap
counts in its two ports.  Large dense deliveries of a batch run block by block (every
sample's events for columns ``c0 : c0 + block``, then the next block), or, on one
thread for large batches, tile by tile (:func:`deliver_tiles`: every sample's events on
a tile's rows and columns, then the next tile), so weights fetched once stay cached
while every sample reads them.
Incoming projections of population ``i``: ``inc[inc_ptr[i]:inc_ptr[i+1]]``.
Events of ring slot ``s`` and sample ``b``: ``ev_cnt[s, b]`` events at
``ev_idx/ev_val[slot_off[s] + b * size : ...]``.

The tables travel as three tuples: ``net = (pop, proj, inc_ptr, inc, theta, bias)``,
``buf = (ports, state, slot_off, ev_cnt, ev_idx, ev_val)`` and the counters
``cnt = (syn, act, ev_in, ev_out, bad)``, (B, n_proj) ×3 and (B, n_pop), incremented in
place, and ``bad`` (B, 2): step + 1 and population of the first port values or
events of each sample that are not finite (inf or NaN; 0 while none), or (B, 0) to
skip that check.  The runners run steps ``t0 : t1`` of a run of ``steps`` steps, so a long run
can be cut into chunks (a progress bar per chunk) with the same result.  Every step
adds the terms of each port in the same order as the step-by-step scheduler, with
the same kernels, so outputs and counts are identical.
"""

from __future__ import annotations

import numpy as np
from numba import carray, njit, prange

from .conv import conv2d_columns, conv2d_into
from .egru import egru_row_events
from .event_ranges import events_ascend
from .kernels import (
    all_finite,
    dense_row_events,
    dense_rows_into,
    fan_counts,
    scan_values,
    scatter_dense_columns,
    sparse_rows_into,
    threshold_row_scan,
)
from .maxpool_kernels import maxpool_row_events, route_max_into
from .sample_split import (
    EVENT_COST,
    UNIT_COST,
    fill_split,
    route_max_split,
    sparse_split,
    tally_split,
    threshold_split,
)
from .tables import Kind, Pop, Proj, WeightKind
from .views import pointer_like

__all__ = [
    "begin_population",
    "deliver_projection",
    "deliver_tiles",
    "finish_population",
    "run_batch_serial",
    "run_batch_lockstep",
    "run_batch_parallel",
    "KIND_CODES",
    "WEIGHT_CODES",
    "data_address",
    "run_call_serial",
    "run_call_frame",
    "FRAME_ARRAYS",
]

# codes by name (the tables' columns and codes are named in :mod:`.tables`)
KIND_CODES = {kind.name.lower(): int(kind) for kind in Kind}
WEIGHT_CODES = {kind.name.lower(): int(kind) for kind in WeightKind}


@njit(cache=True, nogil=True)
def data_address(a):
    """Address of the data of the array ``a`` (faster than ``a.ctypes.data`` in Python)."""
    return a.ctypes.data


@njit(cache=True, nogil=True)
def _view(address, n, like):
    """1-D array of ``n`` items at ``address``, dtype of ``like``; the caller keeps it alive."""
    return carray(pointer_like(address, like), n)


@njit(cache=True, nogil=True)
def _deliver(o, pk, val_like, int_like, idx, val, k0, k1, c0, c1, col_chunks, min_par, b):
    """Stream the events k0:k1 of sample ``b`` through the projection of table row ``pk``
    into the port o.

    Dense projections write the columns ``c0:c1`` only (other kinds always all columns).
    Convolutions (events in any unit order) use the work space of sample ``b``
    (columns ``INTS2``/``INTS2_LEN``: addresses of the float and int work arrays; the
    geometry's entries 15/16: their lengths per sample).  Max-pooling routes keep
    running maxima (``INTS2``: the window of each tap).
    """
    kind, n_pre, width = pk[Proj.KIND], pk[Proj.N_PRE], pk[Proj.WIDTH]
    w = _view(pk[Proj.WEIGHTS], pk[Proj.WEIGHTS_LEN], val_like)
    if kind == WeightKind.DENSE:
        w2 = w.reshape((n_pre, width))
        if col_chunks > 1 and c1 - c0 == width and (k1 - k0) * width >= min_par:
            scatter_dense_columns(o, w2, idx, val, k0, k1, col_chunks)
        else:
            dense_rows_into(o, w2, idx, val, k0, k1, c0, c1)
    elif kind == WeightKind.SPARSE:
        indptr = _view(pk[Proj.INTS], pk[Proj.INTS_LEN], int_like)
        indices = _view(pk[Proj.INTS2], pk[Proj.INTS2_LEN], int_like)
        group = pk[Proj.GROUP]
        if col_chunks > 1 and group < n_pre and (k1 - k0) * EVENT_COST >= min_par:
            if events_ascend(idx, k0, k1, col_chunks):
                sparse_split(o, indptr, indices, w, idx, val, k0, k1, group, col_chunks)
                return
        sparse_rows_into(o, indptr, indices, w, idx, val, k0, k1)
    elif kind == WeightKind.CONV2D:
        geom = _view(pk[Proj.INTS], pk[Proj.INTS_LEN], int_like)
        wt = w.reshape((geom[8], geom[9], geom[10], geom[11], geom[12]))
        nf, ni = geom[15], geom[16]
        n_s = geom[2] * geom[3] * geom[8] * geom[12]
        n_pix = geom[8] * geom[9] * geom[0] * geom[1] + 1
        fw = _view(pk[Proj.INTS2] + b * nf * val_like.itemsize, nf, val_like)
        iw = _view(pk[Proj.INTS2_LEN] + b * ni * 8, ni, int_like)
        s, pv = fw[:n_s], fw[n_s:]
        pstart, pc = iw[:n_pix], iw[n_pix:]
        if col_chunks > 1 and (k1 - k0) * geom[10] * geom[11] * geom[8] * geom[12] >= min_par:
            conv2d_columns(o, wt, geom, idx, val, k0, k1, s, pstart, pc, pv, col_chunks)
        else:
            conv2d_into(o, wt, geom, idx, val, k0, k1, s, pstart, pc, pv)
    else:
        indptr = _view(pk[Proj.INTS], pk[Proj.INTS_LEN], int_like)
        window = _view(pk[Proj.INTS2], pk[Proj.INTS2_LEN], int_like)
        group = pk[Proj.GROUP]
        if col_chunks > 1 and group < n_pre and (k1 - k0) * EVENT_COST >= min_par:
            if events_ascend(idx, k0, k1, col_chunks):
                route_max_split(o, indptr, window, idx, val, k0, k1, group, col_chunks)
                return
        route_max_into(o, indptr, window, idx, val, k0, k1)


@njit(cache=True, nogil=True)
def begin_population(t, i, b, net, buf, n_split, min_par):
    """Input populations: this step's events.  Others: ports start from their biases
    (large ports on ``n_split`` threads: :mod:`.sample_split`)."""
    pop, bias = net[0], net[5]
    ports, slot_off, ev_cnt, ev_idx, ev_val = buf[0], buf[2], buf[3], buf[4], buf[5]
    batch = ev_cnt.shape[1]
    kind, size = pop[i, Pop.KIND], pop[i, Pop.SIZE]
    if kind >= Kind.FATRELU:
        width = pop[i, Pop.WIDTH]
        for port in range(pop[i, Pop.N_PORTS]):
            p0 = pop[i, Pop.PORTS] + (port * batch + b) * width
            b0 = pop[i, Pop.BIAS] + port * width
            if n_split > 1 and width * UNIT_COST >= min_par:
                fill_split(ports[p0 : p0 + width], bias[b0 : b0 + width], n_split)
                continue
            for j in range(width):  # an explicit loop: numba's slice copy is slower
                ports[p0 + j] = bias[b0 + j]
        return
    slot = pop[i, Pop.SLOT0] + t % pop[i, Pop.DEPTH]
    off = slot_off[slot] + b * size
    t_in = t if pop[i, Pop.INPUT_STEPS] > 1 else 0
    if kind == Kind.INPUT:
        x = _view(pop[i, Pop.INPUT], pop[i, Pop.INPUT_STEPS] * batch * size, ev_val)
        row0 = (t_in * batch + b) * size
        ev_cnt[slot, b] = dense_row_events(x[row0 : row0 + size], ev_idx, ev_val, off)
    else:
        tok = _view(pop[i, Pop.INPUT], pop[i, Pop.INPUT_STEPS] * batch, ev_idx)
        ev_idx[off] = tok[t_in * batch + b]
        ev_val[off] = 1.0
        ev_cnt[slot, b] = 1


@njit(cache=True, nogil=True)
def _events_of(t, k, b, net, buf):
    """Range ``k0, k1`` of the pre-synaptic events of projection ``k`` that sample ``b``
    receives at step ``t`` (those of step ``t - delay``)."""
    pop, proj = net[0], net[1]
    pre = proj[k, Proj.PRE]
    pdepth = pop[pre, Pop.DEPTH]
    src = pop[pre, Pop.SLOT0] + (t - proj[k, Proj.DELAY] + pdepth) % pdepth
    k0 = buf[2][src] + b * pop[pre, Pop.SIZE]
    return k0, k0 + buf[3][src, b]


@njit(cache=True, nogil=True)
def _count_delivery(k, b, k0, k1, net, buf, cnt, n_split, min_par):
    """Counters of projection ``k`` for the events ``k0:k1`` of sample ``b`` (long
    event lists on ``n_split`` threads)."""
    proj, ev_idx = net[1], buf[4]
    fan_nnz = _view(proj[k, Proj.FAN_NNZ], proj[k, Proj.N_PRE], ev_idx)
    fan_tot = _view(proj[k, Proj.FAN_TOT], proj[k, Proj.N_PRE], ev_idx)
    if n_split > 1 and (k1 - k0) * EVENT_COST >= min_par:
        s, a = tally_split(ev_idx, k0, k1, fan_nnz, fan_tot, n_split)
    else:
        s, a = fan_counts(ev_idx, k0, k1, fan_nnz, fan_tot)
    cnt[0][b, k] += s
    cnt[1][b, k] += a
    cnt[2][b, k] += k1 - k0


@njit(cache=True, nogil=True)
def deliver_projection(t, i, k, b, c0, net, buf, cnt, col_chunks, min_par):
    """Projection ``k`` into population ``i``: the pre-synaptic events of step
    ``t - delay`` of sample ``b`` into its port, columns ``c0 : c0 + block``
    (``proj[k, Proj.BLOCK]``); the block at ``c0 == 0`` increments the counters."""
    pop, proj = net[0], net[1]
    ports, ev_idx, ev_val = buf[0], buf[4], buf[5]
    batch = buf[3].shape[1]
    width = pop[i, Pop.WIDTH]
    k0, k1 = _events_of(t, k, b, net, buf)
    p0 = pop[i, Pop.PORTS] + (proj[k, Proj.PORT] * batch + b) * width
    o = ports[p0 : p0 + width]
    c1 = min(width, c0 + proj[k, Proj.BLOCK])
    _deliver(o, proj[k], ev_val, ev_idx, ev_idx, ev_val, k0, k1, c0, c1, col_chunks, min_par, b)
    if c0 == 0:
        _count_delivery(k, b, k0, k1, net, buf, cnt, col_chunks, min_par)


@njit(cache=True, nogil=True)
def deliver_tiles(t, i, k, tile0, tile1, net, buf):
    """Column tiles ``tile0:tile1`` of the dense projection ``k`` into population ``i``,
    for every sample of the batch, one tile of weights at a time.

    A tile is ``proj[k, Proj.ROWS]`` rows by ``proj[k, Proj.TILE]`` columns of the
    weights (sized to stay in the core's cache): every sample's events on the tile's
    rows are delivered before the next tile, so a row segment fetched once serves every
    sample active on that unit.  Each sample's events are taken in their order (a
    cursor per sample moves forward through them, over the tiles of rows), so every
    port entry receives its terms in the order of :func:`.kernels.dense_rows_into` on
    the whole event range: results are bit-identical to the untiled delivery.  Events
    in ascending unit order (those of thresholds and dense inputs) make the tiling
    exact; other orders stay correct, with less reuse.
    """
    pop, proj = net[0], net[1]
    ports, ev_idx, ev_val = buf[0], buf[4], buf[5]
    batch = buf[3].shape[1]
    width = pop[i, Pop.WIDTH]
    n_pre, block, rows = proj[k, Proj.N_PRE], proj[k, Proj.TILE], proj[k, Proj.ROWS]
    w = _view(proj[k, Proj.WEIGHTS], proj[k, Proj.WEIGHTS_LEN], ev_val).reshape((n_pre, width))
    p_first = pop[i, Pop.PORTS] + proj[k, Proj.PORT] * batch * width
    cursor = np.empty(batch, dtype=np.int64)
    ends = np.empty(batch, dtype=np.int64)
    for tile in range(tile0, tile1):
        c0 = tile * block
        c1 = min(width, c0 + block)
        for b in range(batch):
            cursor[b], ends[b] = _events_of(t, k, b, net, buf)
        for r0 in range(0, n_pre, rows):
            r1 = r0 + rows
            for b in range(batch):
                k0 = cursor[b]
                e = k0
                while e < ends[b] and ev_idx[e] < r1:
                    e += 1
                if e > k0:
                    p0 = p_first + b * width
                    dense_rows_into(ports[p0 : p0 + width], w, ev_idx, ev_val, k0, e, c0, c1)
                    cursor[b] = e


@njit(cache=True, nogil=True)
def _n_tiles(k, net):
    """Column tiles of projection ``k``."""
    block = net[1][k, Proj.TILE]
    return (net[1][k, Proj.WIDTH] + block - 1) // block


@njit(cache=True, nogil=True)
def _tiled(k, net):
    """Whether the dense projection ``k`` is delivered tile by tile (:func:`deliver_tiles`)."""
    return net[1][k, Proj.ROWS] < net[1][k, Proj.N_PRE]


@njit(cache=True, nogil=True)
def finish_population(t, i, b, steps, net, buf, cnt, record_all, n_split, min_par):
    """The model's update of non-input populations (events of step ``t`` from the
    ports), then counting and recording for every population.  Large FATReLU
    populations are thresholded on ``n_split`` threads (:mod:`.sample_split`).

    Recorded outputs are written at step t (``record_all``) or 0 (last step only).
    """
    pop, theta = net[0], net[4]
    ports, state, slot_off, ev_cnt, ev_idx, ev_val = buf
    batch = ev_cnt.shape[1]
    kind, size = pop[i, Pop.KIND], pop[i, Pop.SIZE]
    slot = pop[i, Pop.SLOT0] + t % pop[i, Pop.DEPTH]
    off = slot_off[slot] + b * size
    bad = cnt[4]
    check = bad.shape[1] > 0 and bad[b, 0] == 0
    if kind >= Kind.FATRELU:
        width = pop[i, Pop.WIDTH]
        p0 = pop[i, Pop.PORTS] + b * width
        o = ports[p0 : p0 + width]
        s0 = pop[i, Pop.STATE] + b * size
        # a FATReLU population's single port is checked while it is thresholded (and
        # then its events, the port's values, need no check); max-pooling ports start
        # at -inf
        fused = kind == Kind.FATRELU and pop[i, Pop.N_PORTS] == 1
        if check and kind != Kind.MAXPOOL and not fused:
            for port in range(pop[i, Pop.N_PORTS]):
                q0 = pop[i, Pop.PORTS] + (port * batch + b) * width
                if not all_finite(ports[q0 : q0 + width]):
                    bad[b, 0], bad[b, 1] = t + 1, i
                    check = False
        if kind == Kind.FATRELU:
            th = theta[pop[i, Pop.THETA] : pop[i, Pop.THETA] + size]
            if n_split > 1 and size * UNIT_COST >= min_par:
                n, finite = threshold_split(o, th, ev_idx, ev_val, off, n_split)
            else:
                n, finite = threshold_row_scan(o, th, ev_idx, ev_val, off)
            if check and fused:
                if not finite:
                    bad[b, 0], bad[b, 1] = t + 1, i
                check = False  # the events are finite, or the sample is already marked
        elif kind == Kind.READOUT:
            n = dense_row_events(o, ev_idx, ev_val, off)
        elif kind == Kind.READOUT_ACC:
            acc = state[s0 : s0 + size]
            for j in range(size):
                acc[j] += o[j]
            n = dense_row_events(acc, ev_idx, ev_val, off)
        elif kind == Kind.MAXPOOL:
            valid = theta[pop[i, Pop.THETA] : pop[i, Pop.THETA] + size]
            n = maxpool_row_events(o, valid, ev_idx, ev_val, off)
        else:
            p1 = pop[i, Pop.PORTS] + (batch + b) * width
            q_port = ports[p1 : p1 + width]
            thr = theta[pop[i, Pop.THETA] : pop[i, Pop.THETA] + size]
            n = egru_row_events(o, q_port, state[s0 : s0 + size], thr, ev_idx, ev_val, off)
        ev_cnt[slot, b] = n
    n = ev_cnt[slot, b]
    cnt[3][b, i] += n
    if check and not all_finite(ev_val[off : off + n]):
        bad[b, 0], bad[b, 1] = t + 1, i
    kept = pop[i, Pop.RECORD_STEPS]
    if kept > 0 and (record_all or t == steps - 1):
        rec = _view(pop[i, Pop.RECORD], kept * batch * size, ev_val)
        r0 = ((t if record_all else 0) * batch + b) * size
        dst = rec[r0 : r0 + size]
        for j in range(size):
            dst[j] = 0
        for e in range(off, off + n):
            dst[ev_idx[e]] = ev_val[e]


@njit(cache=True, nogil=True)
def run_batch_serial(t0, t1, steps, net, buf, cnt, record_all, col_chunks, min_par):
    """Lockstep order on one thread: per step and population, each phase for every
    sample (``col_chunks > 1`` splits large single-sample deliveries over threads)."""
    pop, inc_ptr, inc = net[0], net[2], net[3]
    batch = buf[3].shape[1]
    for t in range(t0, t1):
        for i in range(pop.shape[0]):
            for b in range(batch):
                begin_population(t, i, b, net, buf, col_chunks, min_par)
            for q in range(inc_ptr[i], inc_ptr[i + 1]):
                k = inc[q]
                if _tiled(k, net):
                    deliver_tiles(t, i, k, 0, _n_tiles(k, net), net, buf)
                    for b in range(batch):
                        k0, k1 = _events_of(t, k, b, net, buf)
                        _count_delivery(k, b, k0, k1, net, buf, cnt, 1, min_par)
                    continue
                for c0 in range(0, net[1][k, Proj.WIDTH], net[1][k, Proj.BLOCK]):
                    for b in range(batch):
                        deliver_projection(t, i, k, b, c0, net, buf, cnt, col_chunks, min_par)
            for b in range(batch):
                finish_population(t, i, b, steps, net, buf, cnt, record_all, col_chunks, min_par)


@njit(cache=True, nogil=True, parallel=True)
def run_batch_lockstep(t0, t1, steps, net, buf, cnt, record_all, col_chunks, min_par):
    """Lockstep order with the samples of each phase on parallel threads: one
    projection's rows serve every sample while they are cached."""
    pop, inc_ptr, inc = net[0], net[2], net[3]
    batch = buf[3].shape[1]
    for t in range(t0, t1):
        for i in range(pop.shape[0]):
            for b in prange(batch):
                begin_population(t, i, b, net, buf, 1, min_par)
            for q in range(inc_ptr[i], inc_ptr[i + 1]):
                k = inc[q]
                for c0 in range(0, net[1][k, Proj.WIDTH], net[1][k, Proj.BLOCK]):
                    for b in prange(batch):
                        deliver_projection(t, i, k, b, c0, net, buf, cnt, 1, min_par)
            for b in prange(batch):
                finish_population(t, i, b, steps, net, buf, cnt, record_all, 1, min_par)


@njit(cache=True, nogil=True, parallel=True)
def run_batch_parallel(t0, t1, steps, net, buf, cnt, record_all, col_chunks, min_par):
    """Each sample's whole run on its own thread (samples in parallel)."""
    pop, inc_ptr, inc = net[0], net[2], net[3]
    for b in prange(buf[3].shape[1]):
        for t in range(t0, t1):
            for i in range(pop.shape[0]):
                begin_population(t, i, b, net, buf, 1, min_par)
                for q in range(inc_ptr[i], inc_ptr[i + 1]):
                    k = inc[q]
                    for c0 in range(0, net[1][k, Proj.WIDTH], net[1][k, Proj.BLOCK]):
                        deliver_projection(t, i, k, b, c0, net, buf, cnt, 1, min_par)
                finish_population(t, i, b, steps, net, buf, cnt, record_all, 1, min_par)


@njit(cache=True, nogil=True)
def run_call_serial(x, i_in, rec, i_rec, steps, net, buf, cnt, record_all, col_chunks, min_par):
    """A whole call of :func:`run_batch_serial` on one dense input population ``i_in``
    (values ``x``, (T', B, size), the run's dtype, C-contiguous) recording one population
    ``i_rec`` into ``rec`` ((T'', B, size)): puts their addresses into the table, resets
    the event counts, state and counters, runs ``steps`` steps and returns the number of
    samples that met a non-finite value (the work of several numpy calls, in one)."""
    pop = net[0]
    pop[i_in, Pop.INPUT] = x.ctypes.data
    pop[i_in, Pop.INPUT_STEPS] = x.shape[0]
    pop[i_rec, Pop.RECORD] = rec.ctypes.data
    pop[i_rec, Pop.RECORD_STEPS] = rec.shape[0]
    buf[1][:] = 0
    buf[3][:, :] = 0
    cnt[0][:, :] = 0
    cnt[1][:, :] = 0
    cnt[2][:, :] = 0
    cnt[3][:, :] = 0
    bad = cnt[4]
    bad[:, :] = 0
    run_batch_serial(0, steps, steps, net, buf, cnt, record_all, col_chunks, min_par)
    n_bad = 0
    for b in range(bad.shape[0]):
        if bad.shape[1] > 0 and bad[b, 0] > 0:
            n_bad += 1
    return n_bad


# A call frame (:meth:`.runbuffers.RunBuffers.frame`) holds the address and two
# dimensions of each array of ``net``, ``buf`` and ``cnt``, in that order: one int64
# array crosses into compiled code instead of 17 (each array argument costs the call
# about 0.2 us to unbox).
FRAME_ARRAYS = 17


@njit(cache=True, nogil=True, inline="always")
def _ints1(frame, j):
    return carray(pointer_like(frame[3 * j], frame), frame[3 * j + 1])


@njit(cache=True, nogil=True, inline="always")
def _ints2(frame, j):
    return carray(pointer_like(frame[3 * j], frame), (frame[3 * j + 1], frame[3 * j + 2]))


@njit(cache=True, nogil=True, inline="always")
def _values(frame, j, like):
    return carray(pointer_like(frame[3 * j], like), frame[3 * j + 1])


@njit(cache=True, nogil=True)
def run_call_frame(x, i_in, rec, i_rec, steps, frame, record_all, col_chunks, min_par, check):
    """:func:`run_call_serial` with the tables and buffers passed as a call frame (the
    caller keeps every array of the frame alive), after one pass over the input.

    Returns -1, having run nothing, when ``check`` is set and an input value is not
    finite; otherwise ``2 * n_bad + ternary``: ``n_bad`` as :func:`run_call_serial`
    returns it, ``ternary`` 1 when every input value lies in {-1, 0, 1} (the counts'
    AC/MAC rule, decided from the input as it was during the call)."""
    finite, ternary = scan_values(x.reshape(-1))
    if check and not finite:
        return -1
    net = (
        _ints2(frame, 0),
        _ints2(frame, 1),
        _ints1(frame, 2),
        _ints1(frame, 3),
        _values(frame, 4, x),
        _values(frame, 5, x),
    )
    buf = (
        _values(frame, 6, x),
        _values(frame, 7, x),
        _ints1(frame, 8),
        _ints2(frame, 9),
        _ints1(frame, 10),
        _values(frame, 11, x),
    )
    cnt = (
        _ints2(frame, 12),
        _ints2(frame, 13),
        _ints2(frame, 14),
        _ints2(frame, 15),
        _ints2(frame, 16),
    )
    n_bad = run_call_serial(
        x, i_in, rec, i_rec, steps, net, buf, cnt, record_all, col_chunks, min_par
    )
    return 2 * n_bad + ternary
