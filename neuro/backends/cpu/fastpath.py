"""The compiled fast path of the CPU scheduler: whole runs in one numba call.

A network whose populations all use built-in kernels (input, token, fatrelu,
readout, egru) and whose projections all use built-in weight operators (dense,
sparse, conv2d) is flattened into the tables of :mod:`.runloop` and run there: no
Python per step, layer or event.  Other networks (k-WTA, SAS, complementary,
custom kernels) go through the step-by-step scheduler; both give identical
outputs, counts and final state.

Threads: a single sample splits large dense deliveries over column blocks; a
batch runs its samples on parallel threads, each sample's whole run on one thread
when the weights fit in cache, else in lockstep (all samples of one
population-step, then the next), so a fan-out row read from memory for one
sample is still cached when the others read it.
"""

from __future__ import annotations

import numpy as np

from ...audit.counts import Counts
from ...models.fatrelu import event_threshold
from ..state import initial_histories
from . import neurons, synapses
from .egru import CpuEGRU
from .kernels import count_nonzero_rows, dense_row_events
from .runloop import (
    KIND_CODES,
    WEIGHT_CODES,
    run_batch_lockstep,
    run_batch_parallel,
    run_batch_serial,
)

__all__ = [
    "supports",
    "run_compiled",
    "column_block",
    "MIN_PARALLEL_CONNECTIONS",
    "LOCKSTEP_WEIGHT_BYTES",
    "COLUMN_BLOCK_BYTES",
]

_BUILTIN_NEURONS = {
    "input": neurons.CpuInput,
    "token": neurons.CpuTokenInput,
    "fatrelu": neurons.CpuFATReLU,
    "readout": neurons.CpuReadout,
    "egru": CpuEGRU,
}
_BUILTIN_SYNAPSES = {
    "dense": synapses._dense,
    "sparse": synapses._sparse,
    "conv2d": synapses._conv2d,
}
# Dense deliveries of a single sample are split over threads from this many connections on.
MIN_PARALLEL_CONNECTIONS = 1 << 18
# Batches of networks with at least this many bytes of weights run in lockstep on
# parallel threads (about half the last-level cache of the machines we measure on).
LOCKSTEP_WEIGHT_BYTES = 16 << 20
# Dense deliveries of larger weight matrices run column block by column block, each
# block's rows at most this many bytes (a quarter of the last-level cache).
COLUMN_BLOCK_BYTES = 8 << 20


def supports(network) -> bool:
    """Whether every population and projection of ``network`` has a compiled kernel."""
    for pop in network.populations.values():
        t = pop.model.type
        if t not in _BUILTIN_NEURONS or neurons.CPU_NEURONS.get(t) is not _BUILTIN_NEURONS[t]:
            return False
        if getattr(pop.model, "clip", None) is not None:  # clipped FATReLU: step by step
            return False
    for proj in network.projections.values():
        t = proj.weights.type
        if t not in _BUILTIN_SYNAPSES or synapses.CPU_SYNAPSES.get(t) is not _BUILTIN_SYNAPSES[t]:
            return False
    return True


# Kinds with per-unit state in the tables' state array, and the state's name.
_STATE_NAMES = {KIND_CODES["readout_acc"]: "v", KIND_CODES["egru"]: "c"}


def column_block(kind: str, n_pre: int, width: int, itemsize: int, shared: bool) -> int:
    """Columns per block of a dense delivery: all of them unless rows are ``shared``
    (several samples read the same rows: a batch, not a token lookup) and the weights
    exceed ``COLUMN_BLOCK_BYTES``; then a multiple of 16 columns whose rows fit."""
    if kind != "dense" or not shared or n_pre * width * itemsize <= COLUMN_BLOCK_BYTES:
        return max(1, width)
    return max(16, COLUMN_BLOCK_BYTES // (n_pre * itemsize) // 16 * 16)


class _Tables:
    """The flattened network of one run (see :mod:`.runloop`).

    Every array whose address enters a table is held in ``self.keep`` for the run.
    """

    def __init__(self, network, order, inputs, record, record_steps, dtype):
        B, T = inputs.batch, inputs.steps
        pops = network.populations
        self.keep = []
        self.port_index = {}
        self.index = {name: i for i, name in enumerate(order)}
        self.pop = np.zeros((len(order), 14), dtype=np.int64)
        theta, bias, slot_off = [], [], []
        n_theta = n_bias = port_len = v_len = ev_len = 0
        kept = T if record_steps == "all" else 1
        self.recs = {}
        for i, name in enumerate(order):
            pop = pops[name]
            size = pop.size
            mtype = pop.model.type
            kind = KIND_CODES["readout_acc" if getattr(pop.model, "accumulate", False) else mtype]
            depth = network.max_delay(name) + 1
            row = self.pop[i]
            row[:4] = kind, size, depth, len(slot_off)
            for _ in range(depth):
                slot_off.append(ev_len)
                ev_len += B * size
            if pop.model.is_input:
                static = inputs.static[name]
                raw = np.asarray(inputs.arrays[name])
                if mtype == "input":
                    x = np.ascontiguousarray(raw.reshape(-1, B, size), dtype=dtype)
                else:
                    x = np.ascontiguousarray(raw.reshape(-1, B), dtype=np.int64)
                row[4:6] = self._address(x), 1 if static else T
            else:
                widths = pop.ports
                width = next(iter(widths.values()))
                self.port_index[name] = {port: j for j, port in enumerate(widths)}
                row[6], row[12], row[13] = port_len, width, len(widths)
                port_len += len(widths) * B * width
                b = {port: np.zeros(width, dtype=dtype) for port in widths}
                for proj in network.incoming(name):
                    if proj.bias is not None:
                        b[proj.port] += proj.port_bias().astype(dtype)
                row[7] = n_bias
                n_bias += len(widths) * width
                bias.extend(b.values())
            if mtype in ("fatrelu", "egru"):
                row[8] = n_theta
                n_theta += size
                theta.append(event_threshold(pop.model, pop.shape, dtype))
            if kind in (KIND_CODES["readout_acc"], KIND_CODES["egru"]):
                row[9] = v_len
                v_len += B * size
            if name in record:
                self.recs[name] = np.zeros((kept, B, size), dtype=dtype)
                row[10:12] = self._address(self.recs[name]), kept
        self.slot_off = np.asarray(slot_off, dtype=np.int64)
        self.theta = np.concatenate([np.zeros(0, dtype), *theta]).astype(dtype)
        self.bias = np.concatenate([np.zeros(0, dtype), *bias]).astype(dtype)
        self.ports = np.zeros(port_len, dtype=dtype)
        self.v = np.zeros(v_len, dtype=dtype)
        self.ev_cnt = np.zeros((len(slot_off), B), dtype=np.int64)
        self.ev_idx = np.zeros(ev_len, dtype=np.int64)
        self.ev_val = np.zeros(ev_len, dtype=dtype)
        self._projections(network, order, dtype, B)

    def _address(self, array) -> int:
        """Address of a C-contiguous array's data; the array stays alive with the tables."""
        self.keep.append(array)
        return array.ctypes.data

    def _pair(self, array):
        return self._address(array), array.size

    def _projections(self, network, order, dtype, batch):
        projs = list(network.projections.values())
        self.fan_nnz = {}  # projection name → non-zero weights per pre-synaptic unit
        self.proj = np.zeros((len(projs), 15), dtype=np.int64)
        incoming = [[] for _ in order]
        for k, p in enumerate(projs):
            op = p.weights
            row = self.proj[k]
            row[:5] = WEIGHT_CODES[op.type], self.index[p.pre], p.delay, op.n_pre, op.n_out
            if op.type == "dense":
                w = np.ascontiguousarray(op.weight, dtype=dtype)
                row[5:7] = self._pair(w)
                fan_nnz = count_nonzero_rows(w)  # = op.fanout_nnz(), one pass, no temporaries
            elif op.type == "sparse":
                row[5:7] = self._pair(np.ascontiguousarray(op.data, dtype=dtype))
                row[7:9] = self._pair(np.ascontiguousarray(op.indptr, dtype=np.int64))
                row[9:11] = self._pair(np.ascontiguousarray(op.indices, dtype=np.int64))
                fan_nnz = op.fanout_nnz()
            else:
                wt = synapses.conv2d_layout(op, dtype)
                _, h, w_in = op.in_shape
                _, h_out, w_out = op.out_shape
                geom = [h, w_in, h_out, w_out, *op.stride, *op.padding, *wt.shape]
                row[5:7] = self._pair(wt)
                row[7:9] = self._pair(np.asarray(geom, dtype=np.int64))
                fan_nnz = op.fanout_nnz()
            self.fan_nnz[p.name] = np.ascontiguousarray(fan_nnz, dtype=np.int64)
            row[11] = self._address(self.fan_nnz[p.name])
            row[12] = self._address(np.ascontiguousarray(op.fanout_total(), dtype=np.int64))
            row[13] = self.port_index[p.post][p.port]
            lookup = self.pop[self.index[p.pre], 0] == KIND_CODES["token"]
            shared = batch > 1 and not lookup
            row[14] = column_block(op.type, op.n_pre, op.n_out, np.dtype(dtype).itemsize, shared)
            incoming[self.index[p.post]].append(k)
        self.inc_ptr = np.cumsum([0] + [len(c) for c in incoming]).astype(np.int64)
        self.inc = np.asarray([k for c in incoming for k in c], dtype=np.int64)

    def load(self, i, history, state):
        """Put saved recent outputs and model state of population ``i`` in place, as
        the step-by-step scheduler does."""
        size, depth, slot0 = self.pop[i, 1], self.pop[i, 2], self.pop[i, 3]
        d = depth - 1
        for j, h in enumerate(history[-d:] if d else []):
            slot = slot0 + (j - d) % depth
            h = np.ascontiguousarray(h, dtype=self.ev_val.dtype)
            for b in range(h.shape[0]):
                off = self.slot_off[slot] + b * size
                self.ev_cnt[slot, b] = dense_row_events(h[b], self.ev_idx, self.ev_val, off)
        key = _STATE_NAMES.get(int(self.pop[i, 0]))
        if key in state:
            v0 = self.pop[i, 9]
            self.v[v0 : v0 + size * self.ev_cnt.shape[1]] = np.asarray(state[key]).reshape(-1)

    def state(self, i, batch):
        """Model state of population ``i``, backend-neutral."""
        key = _STATE_NAMES.get(int(self.pop[i, 0]))
        if key is None:
            return {}
        v0, size = self.pop[i, 9], self.pop[i, 1]
        return {key: self.v[v0 : v0 + batch * size].reshape(batch, size).astype(np.float64)}

    def dense_slot(self, i, s, batch):
        """Outputs of population ``i`` of step ``s`` (still in its ring), dense (B, size)."""
        size, depth, slot0 = self.pop[i, 1], self.pop[i, 2], self.pop[i, 3]
        slot = slot0 + s % depth
        out = np.zeros((batch, size))
        for b in range(batch):
            off = self.slot_off[slot] + b * size
            n = self.ev_cnt[slot, b]
            out[b, self.ev_idx[off : off + n]] = self.ev_val[off : off + n]
        return out


def run_compiled(network, inputs, record, record_steps, initial_state, dtype, threads):
    """Run ``network`` in one compiled call; returns what ``Backend.execute`` returns.

    Parameters
    ----------
    threads : int
        Threads to use (numba's thread count is set by the caller): samples of a
        batch run in parallel; a single sample splits large dense deliveries over
        column blocks.
    """
    B, T = inputs.batch, inputs.steps
    order = network.topological_order()
    tb = _Tables(network, order, inputs, record, record_steps, dtype)
    histories = initial_histories(network, B, initial_state)
    for i, name in enumerate(order):
        saved = (initial_state or {}).get(name, {}).get("state", {})
        tb.load(i, histories[name], saved)
    syn = np.zeros((B, tb.proj.shape[0]), dtype=np.int64)
    act = np.zeros_like(syn)
    ev_in = np.zeros_like(syn)
    ev_out = np.zeros((B, len(order)), dtype=np.int64)
    # table column 6: stored weight values of each projection
    schedule = _schedule(B, threads, int(tb.proj[:, 6].sum()) * tb.ev_val.itemsize)
    runner = {
        "serial": run_batch_serial,
        "lockstep": run_batch_lockstep,
        "samples": run_batch_parallel,
    }[schedule]
    col_chunks = threads if (threads > 1 and B == 1) else 1
    runner(
        T,
        (tb.pop, tb.proj, tb.inc_ptr, tb.inc, tb.theta, tb.bias),
        (tb.ports, tb.v, tb.slot_off, tb.ev_cnt, tb.ev_idx, tb.ev_val),
        (syn, act, ev_in, ev_out),
        record_steps == "all",
        col_chunks,
        MIN_PARALLEL_CONNECTIONS,
    )
    counts = Counts.for_network(network, B, T, fanout_nnz=tb.fan_nnz)
    for k, name in enumerate(network.projections):
        pc = counts.projections[name]
        pc.synops = int(syn[:, k].sum())
        pc.activity_sparse_macs = int(act[:, k].sum())
        pc.events_in = int(ev_in[:, k].sum())
    final = {}
    for i, name in enumerate(order):
        counts.populations[name].events = int(ev_out[:, i].sum())
        d = tb.pop[i, 2] - 1
        history = [tb.dense_slot(i, s, B) for s in range(T - d, T)]
        final[name] = {"state": tb.state(i, B), "history": history}
    recs = {name: tb.recs[name] for name in record}
    info = {
        "dtype": str(np.dtype(dtype)),
        "engine": "compiled",
        "threads": int(threads),
        "schedule": schedule,
    }
    return recs, counts, final, info


def _schedule(batch, threads, weight_bytes) -> str:
    """``serial`` (one thread, lockstep order), ``lockstep`` or ``samples`` (threads)."""
    if threads == 1 or batch == 1:
        return "serial"
    if weight_bytes >= LOCKSTEP_WEIGHT_BYTES:
        return "lockstep"
    return "samples"
