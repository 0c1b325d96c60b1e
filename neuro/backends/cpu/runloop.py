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

Populations ``i`` (topological order), ``pop[i, :]``
    0 kind (0 input, 1 token, 2 fatrelu, 3 readout, 4 accumulating readout, 5 egru,
    6 maxpool: port of 2 size (maxima, counts), threshold slots hold the valid taps),
    1 size, 2 ring depth (largest outgoing delay + 1), 3 first ring slot,
    4 input address ((T', B, size) values or (T', B) int64 tokens), 5 input steps T'
    (1: the same input at every step), 6 port offset, 7 bias offset, 8 threshold
    offset, 9 state offset (accumulator or EGRU ``c``, ``size`` per sample),
    10 recording address ((T'', B, size)), 11 recorded steps T'' (0: not recorded),
    12 port width P, 13 number of ports.  Port ``p`` of sample ``b`` starts at
    offset + ``(p * B + b) * P``, its bias at bias offset + ``p * P``.
Projections ``k`` (insertion order), ``proj[k, :]``
    0 kind (0 dense, 1 sparse, 2 conv2d, 3 max-pooling route), 1 pre population,
    2 delay, 3 n_pre, 4 width,
    5 weight address, 6 weight length, 7/8 address/length of the first int array
    (sparse indptr; conv geometry), 9/10 of the second (sparse indices; windows of a
    max-pooling route; conv: addresses of the float and int work space of a batch),
    11/12 addresses of fan-out non-zeros / totals (n_pre int64 each), 13 target port,
    14 column block: dense deliveries run block by block (every sample's events for
    columns ``c0 : c0 + block``, then the next block), so the rows' segments one
    block reads stay cached while every sample reads them (``width``: one block).
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

from numba import carray, njit, prange, types
from numba.extending import intrinsic

from .conv import conv2d_columns, conv2d_into
from .egru import egru_row_events
from .kernels import (
    all_finite,
    dense_row_events,
    dense_rows_into,
    fan_counts,
    scatter_dense_columns,
    sparse_rows_into,
    threshold_row_events,
)
from .maxpool_kernels import maxpool_row_events, route_max_into

__all__ = [
    "begin_population",
    "deliver_projection",
    "finish_population",
    "run_batch_serial",
    "run_batch_lockstep",
    "run_batch_parallel",
    "KIND_CODES",
    "WEIGHT_CODES",
]

KIND_CODES = {
    "input": 0,
    "token": 1,
    "fatrelu": 2,
    "readout": 3,
    "readout_acc": 4,
    "egru": 5,
    "maxpool": 6,
}
WEIGHT_CODES = {"dense": 0, "sparse": 1, "conv2d": 2, "route": 3}


@intrinsic
def _pointer_like(typingctx, address, like):
    """Typed data pointer at integer ``address``, of the dtype of the array ``like``."""
    ptr_type = types.CPointer(like.dtype)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(ptr_type))

    return ptr_type(address, like), codegen


@njit(cache=True, nogil=True)
def _view(address, n, like):
    """1-D array of ``n`` items at ``address``, dtype of ``like``; the caller keeps it alive."""
    return carray(_pointer_like(address, like), n)


@njit(cache=True, nogil=True)
def _deliver(o, pk, val_like, int_like, idx, val, k0, k1, c0, c1, col_chunks, min_par, b):
    """Stream the events k0:k1 of sample ``b`` through the projection of table row ``pk``
    into the port o.

    Dense projections write the columns ``c0:c1`` only (other kinds always all columns).
    Convolutions use the work space of sample ``b`` (columns 9/10: addresses of the
    float and int work arrays; the geometry's entries 15/16: their lengths per sample).
    Max-pooling routes (kind 3) keep running maxima (columns 9/10: window per tap).
    """
    kind, n_pre, width = pk[0], pk[3], pk[4]
    w = _view(pk[5], pk[6], val_like)
    if kind == 0:
        w2 = w.reshape((n_pre, width))
        if col_chunks > 1 and c1 - c0 == width and (k1 - k0) * width >= min_par:
            scatter_dense_columns(o, w2, idx, val, k0, k1, col_chunks)
        else:
            dense_rows_into(o, w2, idx, val, k0, k1, c0, c1)
    elif kind == 1:
        indptr = _view(pk[7], pk[8], int_like)
        indices = _view(pk[9], pk[10], int_like)
        sparse_rows_into(o, indptr, indices, w, idx, val, k0, k1)
    elif kind == 2:
        geom = _view(pk[7], pk[8], int_like)
        wt = w.reshape((geom[8], geom[9], geom[10], geom[11], geom[12]))
        nf, ni = geom[15], geom[16]
        n_s = geom[2] * geom[3] * geom[8] * geom[12]
        n_pix = geom[8] * geom[9] * geom[0] * geom[1] + 1
        fw = _view(pk[9] + b * nf * val_like.itemsize, nf, val_like)
        iw = _view(pk[10] + b * ni * 8, ni, int_like)
        s, pv = fw[:n_s], fw[n_s:]
        pstart, pc = iw[:n_pix], iw[n_pix:]
        if col_chunks > 1 and (k1 - k0) * geom[10] * geom[11] * geom[8] * geom[12] >= min_par:
            conv2d_columns(o, wt, geom, idx, val, k0, k1, s, pstart, pc, pv, col_chunks)
        else:
            conv2d_into(o, wt, geom, idx, val, k0, k1, s, pstart, pc, pv)
    else:
        indptr = _view(pk[7], pk[8], int_like)
        window = _view(pk[9], pk[10], int_like)
        route_max_into(o, indptr, window, idx, val, k0, k1)


@njit(cache=True, nogil=True)
def begin_population(t, i, b, net, buf):
    """Input populations: this step's events.  Others: ports start from their biases."""
    pop, bias = net[0], net[5]
    ports, slot_off, ev_cnt, ev_idx, ev_val = buf[0], buf[2], buf[3], buf[4], buf[5]
    batch = ev_cnt.shape[1]
    kind, size = pop[i, 0], pop[i, 1]
    if kind >= 2:
        width = pop[i, 12]
        for port in range(pop[i, 13]):
            p0 = pop[i, 6] + (port * batch + b) * width
            b0 = pop[i, 7] + port * width
            for j in range(width):  # an explicit loop: numba's slice copy is slower
                ports[p0 + j] = bias[b0 + j]
        return
    slot = pop[i, 3] + t % pop[i, 2]
    off = slot_off[slot] + b * size
    t_in = t if pop[i, 5] > 1 else 0
    if kind == 0:
        x = _view(pop[i, 4], pop[i, 5] * batch * size, ev_val)
        row0 = (t_in * batch + b) * size
        ev_cnt[slot, b] = dense_row_events(x[row0 : row0 + size], ev_idx, ev_val, off)
    else:
        tok = _view(pop[i, 4], pop[i, 5] * batch, ev_idx)
        ev_idx[off] = tok[t_in * batch + b]
        ev_val[off] = 1.0
        ev_cnt[slot, b] = 1


@njit(cache=True, nogil=True)
def deliver_projection(t, i, k, b, c0, net, buf, cnt, col_chunks, min_par):
    """Projection ``k`` into population ``i``: the pre-synaptic events of step
    ``t - delay`` of sample ``b`` into its port, columns ``c0 : c0 + block``
    (``proj[k, 14]``); the block at ``c0 == 0`` increments the counters."""
    pop, proj = net[0], net[1]
    ports, slot_off, ev_cnt, ev_idx, ev_val = buf[0], buf[2], buf[3], buf[4], buf[5]
    batch = ev_cnt.shape[1]
    width = pop[i, 12]
    pre = proj[k, 1]
    pdepth = pop[pre, 2]
    src = pop[pre, 3] + (t - proj[k, 2] + pdepth) % pdepth
    k0 = slot_off[src] + b * pop[pre, 1]
    k1 = k0 + ev_cnt[src, b]
    p0 = pop[i, 6] + (proj[k, 13] * batch + b) * width
    o = ports[p0 : p0 + width]
    c1 = min(width, c0 + proj[k, 14])
    _deliver(o, proj[k], ev_val, ev_idx, ev_idx, ev_val, k0, k1, c0, c1, col_chunks, min_par, b)
    if c0 == 0:
        fan_nnz = _view(proj[k, 11], proj[k, 3], ev_idx)
        fan_tot = _view(proj[k, 12], proj[k, 3], ev_idx)
        s, a = fan_counts(ev_idx, k0, k1, fan_nnz, fan_tot)
        cnt[0][b, k] += s
        cnt[1][b, k] += a
        cnt[2][b, k] += k1 - k0


@njit(cache=True, nogil=True)
def finish_population(t, i, b, steps, net, buf, cnt, record_all):
    """The model's update of non-input populations (events of step ``t`` from the
    ports), then counting and recording for every population.

    Recorded outputs are written at step t (``record_all``) or 0 (last step only).
    """
    pop, theta = net[0], net[4]
    ports, state, slot_off, ev_cnt, ev_idx, ev_val = buf
    batch = ev_cnt.shape[1]
    kind, size = pop[i, 0], pop[i, 1]
    slot = pop[i, 3] + t % pop[i, 2]
    off = slot_off[slot] + b * size
    bad = cnt[4]
    check = bad.shape[1] > 0 and bad[b, 0] == 0
    if kind >= 2:
        width = pop[i, 12]
        p0 = pop[i, 6] + b * width
        o = ports[p0 : p0 + width]
        s0 = pop[i, 9] + b * size
        if check and kind != 6:  # max-pooling ports start at -inf
            for port in range(pop[i, 13]):
                q0 = pop[i, 6] + (port * batch + b) * width
                if not all_finite(ports[q0 : q0 + width]):
                    bad[b, 0], bad[b, 1] = t + 1, i
                    check = False
        if kind == 2:
            th = theta[pop[i, 8] : pop[i, 8] + size]
            n = threshold_row_events(o, th, ev_idx, ev_val, off)
        elif kind == 3:
            n = dense_row_events(o, ev_idx, ev_val, off)
        elif kind == 4:
            acc = state[s0 : s0 + size]
            for j in range(size):
                acc[j] += o[j]
            n = dense_row_events(acc, ev_idx, ev_val, off)
        elif kind == 6:
            valid = theta[pop[i, 8] : pop[i, 8] + size]
            n = maxpool_row_events(o, valid, ev_idx, ev_val, off)
        else:
            p1 = pop[i, 6] + (batch + b) * width
            q_port = ports[p1 : p1 + width]
            thr = theta[pop[i, 8] : pop[i, 8] + size]
            n = egru_row_events(o, q_port, state[s0 : s0 + size], thr, ev_idx, ev_val, off)
        ev_cnt[slot, b] = n
    n = ev_cnt[slot, b]
    cnt[3][b, i] += n
    if check and not all_finite(ev_val[off : off + n]):
        bad[b, 0], bad[b, 1] = t + 1, i
    kept = pop[i, 11]
    if kept > 0 and (record_all or t == steps - 1):
        rec = _view(pop[i, 10], kept * batch * size, ev_val)
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
                begin_population(t, i, b, net, buf)
            for q in range(inc_ptr[i], inc_ptr[i + 1]):
                k = inc[q]
                for c0 in range(0, net[1][k, 4], net[1][k, 14]):
                    for b in range(batch):
                        deliver_projection(t, i, k, b, c0, net, buf, cnt, col_chunks, min_par)
            for b in range(batch):
                finish_population(t, i, b, steps, net, buf, cnt, record_all)


@njit(cache=True, nogil=True, parallel=True)
def run_batch_lockstep(t0, t1, steps, net, buf, cnt, record_all, col_chunks, min_par):
    """Lockstep order with the samples of each phase on parallel threads: one
    projection's rows serve every sample while they are cached."""
    pop, inc_ptr, inc = net[0], net[2], net[3]
    batch = buf[3].shape[1]
    for t in range(t0, t1):
        for i in range(pop.shape[0]):
            for b in prange(batch):
                begin_population(t, i, b, net, buf)
            for q in range(inc_ptr[i], inc_ptr[i + 1]):
                k = inc[q]
                for c0 in range(0, net[1][k, 4], net[1][k, 14]):
                    for b in prange(batch):
                        deliver_projection(t, i, k, b, c0, net, buf, cnt, 1, min_par)
            for b in prange(batch):
                finish_population(t, i, b, steps, net, buf, cnt, record_all)


@njit(cache=True, nogil=True, parallel=True)
def run_batch_parallel(t0, t1, steps, net, buf, cnt, record_all, col_chunks, min_par):
    """Each sample's whole run on its own thread (samples in parallel)."""
    pop, inc_ptr, inc = net[0], net[2], net[3]
    for b in prange(buf[3].shape[1]):
        for t in range(t0, t1):
            for i in range(pop.shape[0]):
                begin_population(t, i, b, net, buf)
                for q in range(inc_ptr[i], inc_ptr[i + 1]):
                    k = inc[q]
                    for c0 in range(0, net[1][k, 4], net[1][k, 14]):
                        deliver_projection(t, i, k, b, c0, net, buf, cnt, 1, min_par)
                finish_population(t, i, b, steps, net, buf, cnt, record_all)
