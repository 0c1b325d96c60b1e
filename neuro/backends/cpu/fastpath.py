"""The compiled fast path of the CPU scheduler: whole runs in one numba call.

A network whose populations all use built-in kernels (input, token, fatrelu,
readout, egru, maxpool) and whose projections all use built-in weight operators (dense,
sparse, conv2d) is flattened into the tables of :mod:`.runloop` and run there: no
Python per step, layer or event.  Other networks (k-WTA, SAS, complementary,
custom kernels) go through the step-by-step scheduler; both give identical
outputs, counts and final state.

Threads: a single sample splits large dense deliveries over column blocks and
large convolutions over output pixels (or, with groups, output channels); a
batch runs its samples on parallel threads, each sample's whole run on one thread
when the weights fit in cache, else in lockstep (all samples of one
population-step, then the next).  Large dense deliveries of a batch run tile by
tile (threads take column tiles), so weights read from memory once serve every
sample active on their rows.
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
from .conv import conv_geometry, work_sizes
from .egru import CpuEGRU  # noqa: F401 - registers the compiled EGRU branch
from .kernels import all_finite, count_nonzero_rows
from .maxpool import CpuMaxPool  # noqa: F401 - registers the compiled max-pool branch
from .runbuffers import RunBuffers, RunCounts
from .runloop import (
    data_address,
    run_batch_lockstep,
    run_batch_parallel,
    run_batch_serial,
    run_call_frame,
)
from .sample_split import independent_group
from .tables import COMPILED_NEURONS, Kind, Pop, Proj, WeightKind

__all__ = [
    "supports",
    "CompiledNetwork",
    "compile_network",
    "run_compiled",
    "column_block",
    "dense_tile",
    "MIN_PARALLEL_CONNECTIONS",
    "LOCKSTEP_WEIGHT_BYTES",
    "COLUMN_BLOCK_BYTES",
    "TILED_WEIGHT_BYTES",
    "TILE_MIN_BATCH",
    "TILE_COLUMNS",
    "TILE_BYTES",
]

_WEIGHT_KINDS = {
    "dense": WeightKind.DENSE,
    "sparse": WeightKind.SPARSE,
    "conv2d": WeightKind.CONV2D,
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
# Dense deliveries of a batch through larger weight matrices run column block by column
# block, each block's rows at most this many bytes (a quarter of the last-level cache).
COLUMN_BLOCK_BYTES = 8 << 20
# On one thread, batches of at least TILE_MIN_BATCH samples deliver such matrices tile
# by tile instead (runloop.deliver_tiles): TILE_COLUMNS columns by as many rows as fit
# TILE_BYTES (about half of one core's L2 cache), so a tile read once from memory serves
# every sample active on its rows.  Smaller batches reuse a tile too little to pay for
# the shorter rows (a 10-stream EGRU language model runs 29 % slower tiled), and the
# threaded lockstep schedule keeps the column blocks (11 % faster on that model).
TILED_WEIGHT_BYTES = 8 << 20
TILE_MIN_BATCH = 32
TILE_COLUMNS = 512
TILE_BYTES = 256 << 10
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
        if t not in COMPILED_NEURONS or neurons.CPU_NEURONS.get(t) is not COMPILED_NEURONS[t].cls:
            return False
        if getattr(pop.model, "clip", None) is not None:  # clipped FATReLU: step by step
            return False
    for proj in network.projections.values():
        t = proj.weights.type
        if t not in _BUILTIN_SYNAPSES or synapses.CPU_SYNAPSES.get(t) is not _BUILTIN_SYNAPSES[t]:
            return False
        pooled = network.populations[proj.post].model.type == "maxpool"
        if pooled and (t != "sparse" or proj.bias is not None):  # routes only
            return False
    return True


def column_block(kind: str, n_pre: int, width: int, itemsize: int, shared: bool) -> int:
    """Columns per block of a dense delivery: all of them unless rows are ``shared``
    (several samples read the same rows: a batch, not a token lookup) and the weights
    exceed ``COLUMN_BLOCK_BYTES``; then a multiple of 16 columns whose rows fit."""
    if kind != "dense" or not shared or n_pre * width * itemsize <= COLUMN_BLOCK_BYTES:
        return max(1, width)
    return max(16, COLUMN_BLOCK_BYTES // (n_pre * itemsize) // 16 * 16)


def dense_tile(kind: str, n_pre: int, width: int, itemsize: int, shared: bool) -> tuple[int, int]:
    """(columns, rows) of the tiles of a dense delivery: the whole matrix unless rows are
    ``shared`` (several samples read the same rows: a batch, not a token lookup) and the
    weights exceed ``TILED_WEIGHT_BYTES``; then ``TILE_COLUMNS`` columns (a multiple of
    16, at least 16) by as many rows as fit ``TILE_BYTES`` (at least one)."""
    if kind != "dense" or not shared or n_pre * width * itemsize <= TILED_WEIGHT_BYTES:
        return max(1, width), max(1, n_pre)
    columns = min(width, max(16, TILE_COLUMNS // 16 * 16))
    return columns, min(n_pre, max(1, TILE_BYTES // (columns * itemsize)))


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
        # columns PORTS, STATE and the slot offsets are per sample here: a batch of B
        # multiplies them by B (every block is B samples of the same size)
        self.pop = np.zeros((len(order), len(Pop)), dtype=np.int64)
        self.state_names = [None] * len(order)  # name of each population's STATE column
        theta, bias, slot_off = [], [], []
        n_theta = n_bias = port_len = v_len = ev_len = 0
        self.inputs, self.stateful, self.delayed = [], [], []
        for i, name in enumerate(order):
            pop = pops[name]
            size = pop.size
            mtype = pop.model.type
            compiled = COMPILED_NEURONS[mtype]
            kind = compiled.kind_for(pop.model)
            columns = compiled.columns_for(kind)
            depth = network.max_delay(name) + 1
            row = self.pop[i]
            row[Pop.KIND], row[Pop.SIZE], row[Pop.DEPTH] = kind, size, depth
            row[Pop.SLOT0] = len(slot_off)
            for _ in range(depth):
                slot_off.append(ev_len)
                ev_len += size
            if depth > 1:
                self.delayed.append((i, name, depth - 1))
            if pop.model.is_input:
                self.inputs.append((i, name, mtype, size))
            else:
                widths = pop.ports
                if kind == Kind.MAXPOOL:  # running maxima and counts, not one slot per tap
                    widths = {port: 2 * size for port in widths}
                width = next(iter(widths.values()))
                self.port_index[name] = {port: j for j, port in enumerate(widths)}
                row[Pop.PORTS], row[Pop.WIDTH], row[Pop.N_PORTS] = port_len, width, len(widths)
                port_len += len(widths) * width
                b = {port: np.zeros(width, dtype=dtype) for port in widths}
                for proj in network.incoming(name):
                    if proj.bias is not None:
                        what = f"projection {proj.name!r}: bias"
                        b[proj.port] += self._cast(proj.port_bias(), what)
                if kind == Kind.MAXPOOL:
                    b["input"][:size] = -np.inf
                row[Pop.BIAS] = n_bias
                n_bias += len(widths) * width
                bias.extend(b.values())
            if kind == Kind.MAXPOOL:  # the THETA column holds the valid taps per window
                row[Pop.THETA] = n_theta
                n_theta += size
                theta.append(pop.model.valid_taps().sum(axis=1).astype(dtype))
            elif Pop.THETA in columns:
                row[Pop.THETA] = n_theta
                n_theta += size
                th = event_threshold(pop.model, pop.shape, dtype)
                if self.nonfinite != "ignore" and not _finite(th):  # beyond the dtype's range
                    values = neurons.unit_values(pop.model.threshold, pop.shape)
                    self._cast(values, f"population {name!r}: {mtype} threshold")  # reports
                theta.append(th)
            if Pop.STATE in columns:
                row[Pop.STATE] = v_len
                v_len += size
                self.state_names[i] = compiled.state
                self.stateful.append((i, name, compiled.state))
        self.slot_off = np.asarray(slot_off, dtype=np.int64)
        self.sizes = self.pop[:, Pop.SIZE].tolist()  # population sizes as Python ints
        self.theta = np.concatenate([np.zeros(0, dtype), *theta]).astype(dtype)
        self.bias = np.concatenate([np.zeros(0, dtype), *bias]).astype(dtype)
        self.port_len, self.v_len, self.ev_len = port_len, v_len, ev_len
        self._projections(network, dtype)
        self._counting(network)
        self._buffers = {}
        self._plains = {}  # batch size -> its plain call (.plaincall), with the buffers

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
        self.proj = np.zeros((len(projs), len(Proj)), dtype=np.int64)
        incoming = [[] for _ in self.order]
        self.dense_shared = []  # (k, n_pre, width) of dense projections whose rows a batch shares
        self.conv_rows = []  # conv projections: their rows get a batch's work space
        self.conv_work = (0, 0)  # per sample: float and int work space of the largest conv
        geoms = []
        for k, p in enumerate(projs):
            op = p.weights
            row = self.proj[k]
            row[Proj.KIND], row[Proj.PRE], row[Proj.DELAY] = (
                _WEIGHT_KINDS[op.type],
                self.index[p.pre],
                p.delay,
            )
            row[Proj.N_PRE], row[Proj.WIDTH] = op.n_pre, op.n_out
            where = f"projection {p.name!r}: {op.type} weights"
            if op.type == "dense":
                w = self._cast(op.weight, where)
                row[Proj.WEIGHTS], row[Proj.WEIGHTS_LEN] = self._pair(w)
                fan_nnz = count_nonzero_rows(w)  # = op.fanout_nnz(), one pass, no temporaries
            elif op.type == "sparse" and self.pop[self.index[p.post], Pop.KIND] == Kind.MAXPOOL:
                row[Proj.KIND] = WeightKind.ROUTE
                row[Proj.WEIGHTS], row[Proj.WEIGHTS_LEN] = self._pair(self._cast(op.data, where))
                indptr = np.ascontiguousarray(op.indptr, dtype=np.int64)
                row[Proj.INTS], row[Proj.INTS_LEN] = self._pair(indptr)
                taps = op.n_out // network.populations[p.post].size
                window = np.ascontiguousarray(op.indices // taps, dtype=np.int64)
                row[Proj.INTS2], row[Proj.INTS2_LEN] = self._pair(window)
                row[Proj.GROUP] = independent_group(indptr, window, op.n_pre)  # batch-1 splits
                fan_nnz = op.fanout_nnz()
            elif op.type == "sparse":
                row[Proj.WEIGHTS], row[Proj.WEIGHTS_LEN] = self._pair(self._cast(op.data, where))
                indptr = np.ascontiguousarray(op.indptr, dtype=np.int64)
                row[Proj.INTS], row[Proj.INTS_LEN] = self._pair(indptr)
                indices = np.ascontiguousarray(op.indices, dtype=np.int64)
                row[Proj.INTS2], row[Proj.INTS2_LEN] = self._pair(indices)
                row[Proj.GROUP] = independent_group(indptr, indices, op.n_pre)
                fan_nnz = op.fanout_nnz()
            else:
                with np.errstate(over="ignore"):
                    wt = synapses.conv2d_layout(op, dtype)
                if self.nonfinite != "ignore" and not _finite(wt):
                    self._cast(op.weight, where)  # reports
                geom = conv_geometry(op, wt.shape)
                n_s, n_start, n_c, n_v = work_sizes(geom)
                self.conv_work = (
                    max(self.conv_work[0], n_s + n_v),
                    max(self.conv_work[1], n_start + n_c),
                )
                geoms.append(geom)
                self.conv_rows.append(k)
                row[Proj.WEIGHTS], row[Proj.WEIGHTS_LEN] = self._pair(wt)
                fan_nnz = op.fanout_nnz()
            self.fan_nnz[p.name] = np.ascontiguousarray(fan_nnz, dtype=np.int64)
            row[Proj.FAN_NNZ] = self._address(self.fan_nnz[p.name])
            self.fan_tot[p.name] = fanouts(op)[1]  # dense-layer connections
            row[Proj.FAN_TOT] = self._address(self.fan_tot[p.name])
            row[Proj.PORT] = self.port_index[p.post][p.port]
            row[Proj.BLOCK], row[Proj.ROWS] = max(1, op.n_out), max(1, op.n_pre)
            row[Proj.TILE] = max(1, op.n_out)
            lookup = self.pop[self.index[p.pre], Pop.KIND] == Kind.TOKEN
            if op.type == "dense" and not lookup:
                self.dense_shared.append((k, op.n_pre, op.n_out))
            incoming[self.index[p.post]].append(k)
        for k, geom in zip(self.conv_rows, geoms):  # + the work space lengths per sample
            full = np.concatenate([geom, np.asarray(self.conv_work, dtype=np.int64)])
            self.proj[k, Proj.INTS], self.proj[k, Proj.INTS_LEN] = self._pair(full)
        self.inc_ptr = np.cumsum([0] + [len(c) for c in incoming]).astype(np.int64)
        self.inc = np.asarray([k for c in incoming for k in c], dtype=np.int64)
        self.weight_bytes = int(self.proj[:, Proj.WEIGHTS_LEN].sum()) * self.dtype.itemsize

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
            buf = RunBuffers(self, batch)
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
        if (
            initial_state is None
            and len(record) == 1
            and len(self.inputs) == 1
            and self.inputs[0][2] == "input"
            and (threads == 1 or B == 1)
            and (progress is False or (progress is None and T < PROGRESS_MIN_STEPS))
        ):
            x = inputs.arrays[self.inputs[0][1]]
            if x.dtype == dtype and x.flags.c_contiguous:
                return self._call(tb, x, record, record_steps, threads, B, T)
        pop = tb.pop  # this call's addresses go into the batch's own table
        if tb.recorded != record:
            pop[:, Pop.RECORD] = pop[:, Pop.RECORD_STEPS] = 0
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
            pop[i, Pop.INPUT] = data_address(x)
            pop[i, Pop.INPUT_STEPS] = 1 if inputs.static[name] else T
        kept = T if record_steps == "all" else 1
        recs = {}
        for name in record:
            i = self.index[name]
            # every kept step of every sample is written in full by the loop
            recs[name] = rec = np.empty((kept, B, self.sizes[i]), dtype=dtype)
            pop[i, Pop.RECORD] = data_address(rec)
            pop[i, Pop.RECORD_STEPS] = kept
        tb.ev_cnt.fill(0)
        if tb.v.size:
            tb.v.fill(0)
        if initial_state is not None:
            histories = initial_histories(self.network, B, initial_state)
            for i, name in enumerate(self.order):
                saved = initial_state.get(name, {}).get("state", {})
                tb.load(self, i, histories[name], saved)
        tb.scratch.fill(0)
        net, buf, cnt = tb.arguments(self, _projection_table(self, tb))
        bad = cnt[4]
        schedule = _schedule(B, threads, self.weight_bytes)
        col_chunks = threads if (threads > 1 and B == 1) else 1
        all_steps = record_steps == "all"
        runner = tb.runner(
            schedule, _RUNNERS[schedule], (0, T, T, net, buf, cnt, all_steps, col_chunks)
        )
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
        if bad.size and np.count_nonzero(bad):
            self._nonfinite(bad)
        counts, final = self._outcome(tb, B, T)
        info = {
            "dtype": self.dtype_name,
            "engine": "compiled",
            "threads": int(threads),
            "schedule": schedule,
        }
        return recs, counts, final, info

    def _call(self, tb, x, record, record_steps, threads, B, T, check=False):
        """:meth:`run` of the common call in one compiled entry (:func:`run_call_frame`):
        one dense input already in the run's dtype, one recording, no initial state, the
        serial schedule, no progress bar; same results as the general path.  With
        ``check``, None when an input value is not finite."""
        i_in, _, _, size = self.inputs[0]
        if tb.recorded != record:
            tb.pop[:, Pop.RECORD] = tb.pop[:, Pop.RECORD_STEPS] = 0
            tb.recorded = list(record)
        (name,) = record
        i_rec = self.index[name]
        kept = T if record_steps == "all" else 1
        rec = np.empty((kept, B, self.sizes[i_rec]), dtype=self.dtype)  # written in full
        x = x.reshape(-1, B, size)
        frame = tb.frame(self, _projection_table(self, tb))
        col_chunks = threads if (threads > 1 and B == 1) else 1
        args = (x, i_in, rec, i_rec, T, frame, record_steps == "all", col_chunks)
        args += (MIN_PARALLEL_CONNECTIONS, check)
        code = tb.runner("call", run_call_frame, args)(*args)  # 2 n_bad + ternary, or -1
        if code < 0:
            return None
        if code > 1:
            self._nonfinite(tb.arguments(self, tb.proj)[2][4])
        counts, final = self._outcome(tb, B, T)
        info = {"dtype": self.dtype_name, "engine": "compiled", "threads": int(threads)}
        info["schedule"] = "serial"
        return {record[0]: rec}, counts, final, info

    def _outcome(self, tb, B, T):
        """Counts and final state of the run that just filled the buffers ``tb``."""
        # the counters and event counts, copied: the next call reuses the buffer
        totals = tb.scratch[: tb.counters.size + tb.ev_out.size].copy()
        counts = RunCounts(self, B, T, totals, tb.counters.shape)
        final = {name: {"state": {}, "history": []} for name in self.order}
        for i, name, key in self.stateful:
            v0, size = tb.pop[i, Pop.STATE], tb.pop[i, Pop.SIZE]
            state = tb.v[v0 : v0 + B * size].reshape(B, size).astype(np.float64)
            final[name]["state"] = {key: state}
        for i, name, d in self.delayed:
            final[name]["history"] = [tb.dense_slot(i, s, B) for s in range(T - d, T)]
        return counts, final

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


def _projection_table(net: CompiledNetwork, tb: RunBuffers):
    """The projection table of the batch size of ``tb``, with its tiles and the
    convolutions' work space (kept on ``tb`` while the tile settings are unchanged)."""
    tiling = tiling_settings()
    if tb.proj is None or tb.tiling != tiling:
        proj = net.proj.copy()
        if net.conv_rows:  # the convolutions' work space of this batch size
            nf, ni = net.conv_work
            tb.conv_f = np.zeros(nf * tb.batch, dtype=net.dtype)
            tb.conv_i = np.zeros(ni * tb.batch, dtype=np.int64)
            proj[net.conv_rows, Proj.INTS2] = data_address(tb.conv_f)
            proj[net.conv_rows, Proj.INTS2_LEN] = data_address(tb.conv_i)
        if tb.batch > 1:
            for k, n_pre, width in net.dense_shared:
                item = net.dtype.itemsize
                proj[k, Proj.BLOCK] = column_block("dense", n_pre, width, item, True)
                if tb.batch >= TILE_MIN_BATCH:
                    proj[k, Proj.TILE], proj[k, Proj.ROWS] = dense_tile(
                        "dense", n_pre, width, item, True
                    )
        tb.proj, tb.tiling = proj, tiling
    return tb.proj


def tiling_settings() -> tuple:
    """The tile settings a batch's projection table is built for (module constants)."""
    return (COLUMN_BLOCK_BYTES, TILED_WEIGHT_BYTES, TILE_MIN_BATCH, TILE_COLUMNS, TILE_BYTES)


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
