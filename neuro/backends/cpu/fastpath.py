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

import os
import sys
import warnings

import numpy as np

from ..._progress import _Silent, progress_bar
from ...audit.counts import Counts, count_plan
from ...audit.tally import fanouts
from ...exceptions import NonFiniteWarning, NumericalError
from ...models.fatrelu import event_threshold
from ..state import initial_histories
from . import neurons, synapses
from .egru import CpuEGRU
from .kernels import all_finite, count_nonzero_rows, dense_row_events
from .runloop import (
    KIND_CODES,
    WEIGHT_CODES,
    run_batch_lockstep,
    run_batch_parallel,
    run_batch_serial,
)

__all__ = [
    "supports",
    "CompiledNetwork",
    "compile_network",
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
# Batch sizes whose work buffers a compiled network keeps between calls.
BUFFER_SIZES = 4
# A run with a progress bar is cut into this many chunks of steps (one bar update each);
# by default runs of at least PROGRESS_MIN_STEPS steps on a terminal show one.
PROGRESS_CHUNKS = 100
PROGRESS_MIN_STEPS = 200


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


class CompiledNetwork:
    """The flattened network (see :mod:`.runloop`), built once per program.

    Everything here depends on the network and dtype only: weights in the run's
    dtype and layout, fan-out tables, biases, thresholds and the population and
    projection tables with their per-sample offsets.  :meth:`run` adds what depends
    on a call (buffers sized by the batch, kept per batch size; inputs; recordings).
    Every array whose address enters a table is held in ``self.keep``.

    Parameters
    ----------
    network : Network
        Validated.
    dtype : numpy dtype
    nonfinite : {"raise", "warn", "ignore"}
        What a weight, bias or threshold outside the dtype's range does here, and a
        non-finite value in a run does in :meth:`run`.
    """

    def __init__(self, network, dtype, nonfinite="raise"):
        self.dtype = np.dtype(dtype)
        self.dtype_name = str(self.dtype)
        self.nonfinite = nonfinite
        self.name = network.name
        self.network = network
        pops = network.populations
        order = network.topological_order()
        self.order = order
        self.keep = []
        self.port_index = {}
        self.index = {name: i for i, name in enumerate(order)}
        # columns 6 (ports), 9 (state) and the slot offsets are per sample here: a
        # batch of B multiplies them by B (every block is B samples of the same size)
        self.pop = np.zeros((len(order), 14), dtype=np.int64)
        theta, bias, slot_off = [], [], []
        n_theta = n_bias = port_len = v_len = ev_len = 0
        self.inputs, self.stateful, self.delayed = [], [], []
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
                ev_len += size
            if depth > 1:
                self.delayed.append((i, name, depth - 1))
            if pop.model.is_input:
                self.inputs.append((i, name, mtype, size))
            else:
                widths = pop.ports
                width = next(iter(widths.values()))
                self.port_index[name] = {port: j for j, port in enumerate(widths)}
                row[6], row[12], row[13] = port_len, width, len(widths)
                port_len += len(widths) * width
                b = {port: np.zeros(width, dtype=dtype) for port in widths}
                for proj in network.incoming(name):
                    if proj.bias is not None:
                        what = f"projection {proj.name!r}: bias"
                        b[proj.port] += self._cast(proj.port_bias(), what)
                row[7] = n_bias
                n_bias += len(widths) * width
                bias.extend(b.values())
            if mtype in ("fatrelu", "egru"):
                row[8] = n_theta
                n_theta += size
                th = neurons.unit_values(pop.model.threshold, pop.shape)
                self._cast(th, f"population {name!r}: {mtype} threshold")  # range check
                theta.append(event_threshold(pop.model, pop.shape, dtype))
            if kind in (KIND_CODES["readout_acc"], KIND_CODES["egru"]):
                row[9] = v_len
                v_len += size
                self.stateful.append((i, name, _STATE_NAMES[kind]))
        self.slot_off = np.asarray(slot_off, dtype=np.int64)
        self.theta = np.concatenate([np.zeros(0, dtype), *theta]).astype(dtype)
        self.bias = np.concatenate([np.zeros(0, dtype), *bias]).astype(dtype)
        self.port_len, self.v_len, self.ev_len = port_len, v_len, ev_len
        self._projections(network, dtype)
        self._counting(network)
        self._buffers = {}

    def _cast(self, values, what):
        """``values`` in the run's dtype; values beyond its range are reported."""
        with np.errstate(over="ignore"):
            out = np.ascontiguousarray(values, dtype=self.dtype)
        if self.nonfinite != "ignore" and out.size and not _finite(out):
            big = float(np.max(np.abs(np.asarray(values, dtype=np.float64))))
            message = (
                f"{what}: values up to {big:.3g} in magnitude exceed the {self.dtype} range "
                f"(largest finite {np.finfo(self.dtype).max:.3g}) and become inf; run with "
                'dtype="float64" or rescale them.'
            )
            _report(message, self.nonfinite)
        return out

    def _address(self, array) -> int:
        """Address of a C-contiguous array's data; the array stays alive with the tables."""
        self.keep.append(array)
        return array.ctypes.data

    def _pair(self, array):
        return self._address(array), array.size

    def _projections(self, network, dtype):
        projs = list(network.projections.values())
        self.fan_nnz = {}  # projection name → non-zero weights per pre-synaptic unit
        self.fan_tot = {}  # projection name → all connections per pre-synaptic unit
        self.proj = np.zeros((len(projs), 15), dtype=np.int64)
        incoming = [[] for _ in self.order]
        self.dense_shared = []  # (k, n_pre, width) of dense projections whose rows a batch shares
        for k, p in enumerate(projs):
            op = p.weights
            row = self.proj[k]
            row[:5] = WEIGHT_CODES[op.type], self.index[p.pre], p.delay, op.n_pre, op.n_out
            where = f"projection {p.name!r}: {op.type} weights"
            if op.type == "dense":
                w = self._cast(op.weight, where)
                row[5:7] = self._pair(w)
                fan_nnz = count_nonzero_rows(w)  # = op.fanout_nnz(), one pass, no temporaries
            elif op.type == "sparse":
                row[5:7] = self._pair(self._cast(op.data, where))
                row[7:9] = self._pair(np.ascontiguousarray(op.indptr, dtype=np.int64))
                row[9:11] = self._pair(np.ascontiguousarray(op.indices, dtype=np.int64))
                fan_nnz = op.fanout_nnz()
            else:
                with np.errstate(over="ignore"):
                    wt = synapses.conv2d_layout(op, dtype)
                if self.nonfinite != "ignore" and not _finite(wt):
                    self._cast(op.weight, where)  # reports
                _, h, w_in = op.in_shape
                _, h_out, w_out = op.out_shape
                geom = [h, w_in, h_out, w_out, *op.stride, *op.padding, *wt.shape]
                row[5:7] = self._pair(wt)
                row[7:9] = self._pair(np.asarray(geom, dtype=np.int64))
                fan_nnz = op.fanout_nnz()
            self.fan_nnz[p.name] = np.ascontiguousarray(fan_nnz, dtype=np.int64)
            row[11] = self._address(self.fan_nnz[p.name])
            self.fan_tot[p.name] = fanouts(op)[1]  # dense-layer connections
            row[12] = self._address(self.fan_tot[p.name])
            row[13] = self.port_index[p.post][p.port]
            row[14] = max(1, op.n_out)
            lookup = self.pop[self.index[p.pre], 0] == KIND_CODES["token"]
            if op.type == "dense" and not lookup:
                self.dense_shared.append((k, op.n_pre, op.n_out))
            incoming[self.index[p.post]].append(k)
        self.inc_ptr = np.cumsum([0] + [len(c) for c in incoming]).astype(np.int64)
        self.inc = np.asarray([k for c in incoming for k in c], dtype=np.int64)
        # table column 6: stored weight values of each projection
        self.weight_bytes = int(self.proj[:, 6].sum()) * self.dtype.itemsize

    def _counting(self, network):
        """What the counts of a run need besides the loop's tallies, kept once."""
        fans = {name: (self.fan_nnz[name], self.fan_tot[name]) for name in self.fan_nnz}
        self.count_plan = count_plan(network, fans)
        self.lookups = self.count_plan.lookups
        self.count_order = [self.index[row[0]] for row in self.count_plan.populations]

    def counts(self, batch, steps, counters, ev_out) -> Counts:
        """Counts of a run from the loop's tallies ((3, B, n_proj): non-zero and dense
        fan-out reached, events in; (B, n_pop): events out)."""
        events = (ev_out[0] if batch == 1 else ev_out.sum(axis=0)).tolist()
        syn, act, ev_in = (counters[:, 0] if batch == 1 else counters.sum(axis=1)).tolist()
        plan = self.count_plan
        out = [events[i] for i in self.count_order]
        return Counts.from_lists(plan, batch, steps, ev_in, syn, act, out)

    def buffers(self, batch):
        """Work buffers of a batch size, kept for the next call with that size."""
        buf = self._buffers.get(batch)
        if buf is None:
            buf = _Buffers(self, batch)
            self._buffers[batch] = buf
            while len(self._buffers) > BUFFER_SIZES:
                self._buffers.pop(next(iter(self._buffers)))
        return buf

    def run(self, inputs, record, record_steps, initial_state, threads, progress):
        """Run in one compiled call (chunks of steps with a progress bar); returns what
        ``Backend.execute`` returns.

        Parameters
        ----------
        threads : int
            Threads requested (numba's thread count is set by the caller): samples
            of a batch run in parallel; a single sample splits large dense
            deliveries over column blocks.
        progress : bool or None
            A progress bar, updated per chunk of steps (see :func:`progress_bar`).
        """
        B, T = inputs.batch, inputs.steps
        dtype = self.dtype
        tb = self.buffers(B)
        pop = tb.pop  # this call's addresses go into the batch's own table
        if tb.recorded != record:
            pop[:, 10:12] = 0
            tb.recorded = list(record)
        held = []  # inputs in the run's dtype, alive during the call
        for i, name, mtype, size in self.inputs:
            raw = inputs.arrays[name]
            if mtype != "input":
                x = np.ascontiguousarray(raw.reshape(-1, B), dtype=np.int64)
            elif raw.dtype == dtype:
                x = np.ascontiguousarray(raw.reshape(-1, B, size))
            else:
                with np.errstate(over="ignore"):  # beyond the dtype's range: found in the run
                    x = np.ascontiguousarray(raw.reshape(-1, B, size), dtype=dtype)
            held.append(x)
            pop[i, 4], pop[i, 5] = _address(x), 1 if inputs.static[name] else T
        kept = T if record_steps == "all" else 1
        recs = {}
        for name in record:
            i = self.index[name]
            recs[name] = np.zeros((kept, B, int(pop[i, 1])), dtype=dtype)
            pop[i, 10], pop[i, 11] = _address(recs[name]), kept
        tb.ev_cnt.fill(0)
        if tb.v.size:
            tb.v.fill(0)
        if initial_state is not None:
            histories = initial_histories(self.network, B, initial_state)
            for i, name in enumerate(self.order):
                saved = initial_state.get(name, {}).get("state", {})
                tb.load(self, i, histories[name], saved)
        proj = tb.projections(self)
        tb.scratch.fill(0)
        counters, ev_out = tb.counters, tb.ev_out
        bad = tb.bad_off if self.nonfinite == "ignore" else tb.bad
        schedule = _schedule(B, threads, self.weight_bytes)
        runner = _RUNNERS[schedule]
        col_chunks = threads if (threads > 1 and B == 1) else 1
        net = (pop, proj, self.inc_ptr, self.inc, self.theta, self.bias)
        buf = (tb.ports, tb.v, tb.slot_off, tb.ev_cnt, tb.ev_idx, tb.ev_val)
        cnt = (counters[0], counters[1], counters[2], ev_out, bad)
        all_steps = record_steps == "all"
        if progress is False or (progress is None and T < PROGRESS_MIN_STEPS):
            runner(0, T, T, net, buf, cnt, all_steps, col_chunks, MIN_PARALLEL_CONNECTIONS)
        else:
            bar = progress_bar(T, f"cpu {self.name}", progress, min_total=PROGRESS_MIN_STEPS)
            chunk = T if isinstance(bar, _Silent) else max(1, -(-T // PROGRESS_CHUNKS))
            for t0 in range(0, T, chunk):
                t1 = min(T, t0 + chunk)
                runner(t0, t1, T, net, buf, cnt, all_steps, col_chunks, MIN_PARALLEL_CONNECTIONS)
                bar.update(t1 - t0)
            bar.close()
        del held
        if bad.size and bad.any():
            self._nonfinite(bad)
        k = counters.size
        totals = tb.scratch[: k + ev_out.size].copy()  # the next call reuses the buffer
        counts = _RunCounts(self, B, T, totals[:k].reshape(counters.shape), totals[k:])
        final = {}
        for name in self.order:
            final[name] = {"state": {}, "history": []}
        for i, name, key in self.stateful:
            v0, size = tb.pop[i, 9], tb.pop[i, 1]
            state = tb.v[v0 : v0 + B * size].reshape(B, size).astype(np.float64)
            final[name]["state"] = {key: state}
        for i, name, d in self.delayed:
            final[name]["history"] = [tb.dense_slot(i, s, B) for s in range(T - d, T)]
        info = {
            "dtype": self.dtype_name,
            "engine": "compiled",
            "threads": int(threads),
            "schedule": schedule,
        }
        return recs, counts, final, info

    def _nonfinite(self, bad):
        first = np.where(bad[:, 0] > 0, bad[:, 0], np.iinfo(np.int64).max)
        b = int(np.argmin(first))  # the sample that went first
        t, i = int(bad[b, 0]) - 1, int(bad[b, 1])
        name = self.order[i]
        if self.dtype == np.float32:
            hint = (
                "float32 arithmetic overflowed (largest finite 3.4e38) or met inf - inf; run "
                'with dtype="float64" (float64 is the reference\'s arithmetic)'
            )
        else:
            hint = (
                "float64 arithmetic overflowed (largest finite 1.8e308); rescale the inputs "
                "or weights"
            )
        message = (
            f"population {name!r} of network {self.name!r}: non-finite values (inf or NaN) "
            f"at step {t}, sample {b}, on backend 'cpu' ({self.dtype}); {hint}.  "
            "Option nonfinite='warn' or 'ignore' lets such runs finish."
        )
        _report(message, self.nonfinite)


class _RunCounts(Counts):
    """Counts of a compiled run whose per-layer records are built when first read
    (a call that only wants the outputs does not pay for them)."""

    def __init__(self, tables, batch, steps, counters, ev_out):
        self.batch, self.steps, self.lookups = int(batch), int(steps), tables.lookups
        self.ac = frozenset()
        self._source = (tables, counters, ev_out.reshape(batch, -1))
        self._built = None

    def _build(self):
        if self._built is None:
            tables, counters, ev_out = self._source
            full = tables.counts(self.batch, self.steps, counters, ev_out)
            self._built = [full.populations, full.projections]
            self._source = None
        return self._built

    @property
    def populations(self):
        return self._build()[0]

    @populations.setter
    def populations(self, value):
        self._build()[0] = value

    @property
    def projections(self):
        return self._build()[1]

    @projections.setter
    def projections(self, value):
        self._build()[1] = value

    def __reduce__(self):  # copies and pickles are plain Counts
        return (
            Counts,
            (self.batch, self.steps, self.populations, self.projections, self.lookups, self.ac),
        )


class _Buffers:
    """Work buffers of one batch size: the population table with its offsets scaled by
    the batch, ports, model state, and the event rings."""

    def __init__(self, net: CompiledNetwork, batch):
        self.pop = net.pop.copy()
        self.pop[:, 6] *= batch
        self.pop[:, 9] *= batch
        self.slot_off = net.slot_off * batch
        self.ports = np.zeros(net.port_len * batch, dtype=net.dtype)
        self.v = np.zeros(net.v_len * batch, dtype=net.dtype)
        self.ev_cnt = np.zeros((len(net.slot_off), batch), dtype=np.int64)
        self.ev_idx = np.zeros(net.ev_len * batch, dtype=np.int64)
        self.ev_val = np.zeros(net.ev_len * batch, dtype=net.dtype)
        self.batch = batch
        n_proj, n_pop = net.proj.shape[0], net.pop.shape[0]
        # counters of a run, zeroed together: (3, B, n_proj), (B, n_pop), (B, 2)
        self.scratch = np.zeros(batch * (3 * n_proj + n_pop + 2), dtype=np.int64)
        k = 3 * batch * n_proj
        self.counters = self.scratch[:k].reshape(3, batch, n_proj)
        self.ev_out = self.scratch[k : k + batch * n_pop].reshape(batch, n_pop)
        self.bad = self.scratch[k + batch * n_pop :].reshape(batch, 2)
        self.bad_off = np.zeros((batch, 0), dtype=np.int64)  # nonfinite="ignore"
        self.recorded = None
        self._proj = None
        self._block_bytes = None

    def projections(self, net):
        """The projection table with the column blocks of this batch size."""
        if self._proj is None or self._block_bytes != COLUMN_BLOCK_BYTES:
            proj = net.proj.copy()
            if self.batch > 1:
                for k, n_pre, width in net.dense_shared:
                    proj[k, 14] = column_block("dense", n_pre, width, net.dtype.itemsize, True)
            self._proj, self._block_bytes = proj, COLUMN_BLOCK_BYTES
        return self._proj

    def load(self, net, i, history, state):
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


def _address(array) -> int:
    """Address of the data of a C-contiguous array (the caller keeps it alive)."""
    return array.__array_interface__["data"][0]


def _finite(a) -> bool:
    a = np.ascontiguousarray(a).reshape(-1)
    return bool(all_finite(a)) if a.dtype.kind == "f" else True


def _report(message, mode):
    if mode == "warn":
        warn_user(message, NonFiniteWarning)
    elif mode == "raise":
        raise NumericalError(message)


_PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def warn_user(message: str, category: type[Warning]) -> None:
    """Warn, pointing at the first caller outside the neuro package."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level + 1)


def compile_network(network, dtype, nonfinite="raise") -> CompiledNetwork:
    """The compiled tables of ``network`` (validated) for runs in ``dtype``."""
    return CompiledNetwork(network, dtype, nonfinite)


def run_compiled(
    network, inputs, record, record_steps, initial_state, dtype, threads, progress=None
):
    """Compile ``network`` and run it once; returns what ``Backend.execute`` returns."""
    return compile_network(network, dtype).run(
        inputs, record, record_steps, initial_state, threads, progress
    )


_RUNNERS = {
    "serial": run_batch_serial,
    "lockstep": run_batch_lockstep,
    "samples": run_batch_parallel,
}


def _schedule(batch, threads, weight_bytes) -> str:
    """``serial`` (one thread, lockstep order), ``lockstep`` or ``samples`` (threads)."""
    if threads == 1 or batch == 1:
        return "serial"
    if weight_bytes >= LOCKSTEP_WEIGHT_BYTES:
        return "lockstep"
    return "samples"
