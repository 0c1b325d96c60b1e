"""The plain call of a compiled network: one static batch in, one recording out.

``program.run(x)`` with default options on a network with one dense input population
and one output, on one thread, is the call a feed-forward inference makes, often with
one sample.  Its fixed cost is what a user pays per sample, so everything that does not
depend on the values of ``x`` is prepared once per batch size (:class:`PlainCall`, kept
with the batch's :class:`~.runbuffers.RunBuffers`): the call frame, the shapes of the
input view and of the recording, the counters' view, the result's constant parts.  A
call checks that ``x`` is such a batch, runs the one compiled entry
(:func:`.runloop.run_call_frame`, whose one pass over the input checks that every value
is finite and decides the counts' AC/MAC split), copies the counters and builds the
result; the per-layer counts and (for networks without model state or delays) the final
state are built when first read.
The results are those of the general path, bit for bit.
"""

from __future__ import annotations

import time

import numpy as np

from ...audit.tally import accumulate_projections
from ..base import LazyRunResult
from . import fastpath
from .runbuffers import RunCounts
from .runloop import run_call_frame
from .tables import Pop

__all__ = ["PlainCall", "plain_call"]

_perf_counter = time.perf_counter
_new = object.__new__


class PlainCall:
    """What a plain call of ``batch`` samples needs, prepared once.

    Parameters
    ----------
    net : CompiledNetwork
    tb : RunBuffers
        The work buffers of ``batch`` samples.
    record : list of str
        The one population recorded (the network's output).

    Notes
    -----
    Calling it with ``x`` ((batch, size) in the run's dtype, C-contiguous) returns the
    :class:`~neuro.backends.base.RunResult` of the run, or None when ``x`` is not such
    an array or holds a value that is not finite (the general path then converts it or
    names the value).
    """

    __slots__ = (
        "net",
        "tb",
        "record",
        "name",
        "dtype",
        "strides",
        "x_shape",
        "rec_shape",
        "out_shape",
        "i_in",
        "i_rec",
        "frame",
        "proj",
        "entry",
        "totals",
        "batch",
        "flat_out",
        "network",
        "info",
        "eager_state",
        "stateless",
        "ac",
    )

    def __init__(self, net, tb, record):
        self.net, self.tb = net, tb
        self.record = list(record)
        (self.name,) = self.record
        self.network = net.network
        batch = tb.batch
        i_in, _, _, size = net.inputs[0]
        self.i_in = i_in
        self.i_rec = net.index[self.name]
        self.dtype = net.dtype
        self.strides = (size * net.dtype.itemsize, net.dtype.itemsize)
        self.x_shape = (1, batch, size)
        self.rec_shape = (1, batch, net.sizes[self.i_rec])
        self.out_shape = (batch, *self.network.populations[self.name].shape)
        self.flat_out = len(self.out_shape) == 2
        self.batch = batch
        # the counters and events out, copied after each call (the next one reuses them)
        self.totals = tb.scratch[: tb.counters.size + tb.ev_out.size]
        self.info = {"dtype": net.dtype_name, "engine": "compiled", "threads": 1}
        self.info["schedule"] = "serial"
        self.eager_state = bool(net.stateful or net.delayed)
        self.stateless = tuple(net.order)
        # the AC/MAC split for an input with graded values, and for one in {-1, 0, 1}
        name_in = net.inputs[0][1]
        self.ac = tuple(
            accumulate_projections(self.network, None, {name_in: ternary})
            for ternary in (False, True)
        )
        self.proj = self.frame = self.entry = None
        self._refresh()

    def _refresh(self):
        """The call frame and the entry point, for the projection table in use."""
        net, tb = self.net, self.tb
        proj = fastpath._projection_table(net, tb)
        self.frame = tb.frame(net, proj)
        self.proj = proj
        if self.entry is None:
            x = np.zeros(self.x_shape, self.dtype)
            rec = np.empty(self.rec_shape, self.dtype)
            args = (x, self.i_in, rec, self.i_rec, 1, self.frame, True, 1, 0, True)
            self.entry = tb.runner("call", run_call_frame, args)

    def __call__(self, x):
        dtype = x.dtype
        if (dtype is not self.dtype and dtype != self.dtype) or (
            x.strides != self.strides and not x.flags.c_contiguous
        ):
            return None
        tb = self.tb
        if tb.recorded != self.record:  # another call recorded other populations
            tb.pop[:, Pop.RECORD] = tb.pop[:, Pop.RECORD_STEPS] = 0
            tb.recorded = list(self.record)
        # batches share the projection table only while the tile settings hold
        if tb.proj is not self.proj or (self.batch > 1 and tb.tiling != fastpath.tiling_settings()):
            self._refresh()
        start = _perf_counter()
        rec = np.empty(self.rec_shape, self.dtype)  # written in full by the loop
        code = self.entry(  # 2 n_bad + ternary, or -1
            x[None] if x.ndim == 2 else x.reshape(self.x_shape),
            self.i_in,
            rec,
            self.i_rec,
            1,
            self.frame,
            True,
            1,
            fastpath.MIN_PARALLEL_CONNECTIONS,
            True,
        )
        if code != 0 and code != 1:
            if code < 0:
                return None
            net = self.net
            net._nonfinite(tb.arguments(net, tb.proj)[2][4])
        result = _new(LazyRunResult)  # RunResult's fields, set in its order
        result.outputs = outputs = rec[0] if self.flat_out else rec.reshape(self.out_shape)
        result.recordings = {self.name: outputs}
        result._counts = None
        # the counters and events out, copied (the next call reuses the buffers)
        result._count_source = (
            _counts,
            self.net,
            self.batch,
            self.totals.tobytes(),
            self.ac[code & 1],
        )
        result._final = self.net._outcome(tb, self.batch, 1)[1] if self.eager_state else None
        result.backend = "cpu"
        result.network = self.network
        result.wall_time_s = _perf_counter() - start
        result.info = self.info.copy()
        result.program = None
        result._stateless = self.stateless
        return result


def _counts(net, batch, totals, ac):
    """The counts of a plain call from its copied counters (``totals``, bytes) and AC/MAC
    split (``ac``, decided during the call), per-layer records built when first read."""
    totals = np.frombuffer(totals, dtype=np.int64)
    counts = RunCounts(net, batch, 1, totals, (3, batch, net.proj.shape[0]))
    counts._ac = ac
    return counts


def plain_call(net, x, record):
    """Run the plain call of ``x`` on ``net`` (a :class:`.fastpath.CompiledNetwork`):
    the :class:`PlainCall` of its batch size, prepared on first use and kept while the
    network keeps that batch size's buffers."""
    batch = x.shape[0]
    call = net._plains.get(batch)
    if call is None or call.tb is not net._buffers.get(batch) or call.record != record:
        call = PlainCall(net, net.buffers(batch), record)
        net._plains = {b: c for b, c in net._plains.items() if c.tb is net._buffers.get(b)}
        net._plains[batch] = call
    return call(x)
