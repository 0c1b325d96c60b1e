"""What a compiled network keeps per batch size between calls, and a run's counts.

:class:`RunBuffers` holds the work buffers of one batch size (the population table with
its offsets scaled by the batch, ports, model state, event rings, counters) and the
runners' argument tuples and entry points, so a call only writes the addresses of its
input and recording; :class:`RunCounts` builds a run's per-layer counts when first read.
"""

from __future__ import annotations

import numpy as np

from ...audit.counts import Counts
from .kernels import dense_row_events
from .tables import Pop

__all__ = ["RunBuffers", "RunCounts"]

_NO_AC = frozenset()


class RunCounts(Counts):
    """Counts of a compiled run whose per-layer records are built when first read
    (a call that only wants the outputs does not pay for them)."""

    def __init__(self, tables, batch, steps, totals, counters_shape):
        # attributes set directly: a call pays for no more than it reads
        self.batch, self.steps, self.lookups = batch, steps, tables.lookups
        self._ac = _NO_AC
        self._source = (tables, totals, counters_shape)
        self._built = None

    def _build(self):
        if self._built is None:
            tables, totals, shape = self._source
            k = int(np.prod(shape))
            counters, ev_out = totals[:k].reshape(shape), totals[k:].reshape(self.batch, -1)
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


class RunBuffers:
    """Work buffers of one batch size: the population table with its offsets scaled by
    the batch, ports, model state, and the event rings."""

    def __init__(self, net, batch):
        self.pop = net.pop.copy()
        self.pop[:, Pop.PORTS] *= batch
        self.pop[:, Pop.STATE] *= batch
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
        self.proj = None  # the projection table of this batch size (fastpath)
        self.conv_f = self.conv_i = None  # convolution work space (fastpath)
        self.tiling = None  # the tile settings its projection table was built for
        self._args = None
        self._frame = None  # (the net tuple it was built from, the frame)
        self._entries = {}

    def arguments(self, net, proj):
        """The runners' ``net``, ``buf`` and ``cnt`` tuples (see :mod:`.runloop`), built
        once per batch size (``proj``: its projection table): only table entries
        (addresses) change from call to call."""
        if self._args is None or self._args[0][1] is not proj or self._args[3] != net.nonfinite:
            bad = self.bad_off if net.nonfinite == "ignore" else self.bad
            c = self.counters
            self._args = (
                (self.pop, proj, net.inc_ptr, net.inc, net.theta, net.bias),
                (self.ports, self.v, self.slot_off, self.ev_cnt, self.ev_idx, self.ev_val),
                (c[0], c[1], c[2], self.ev_out, bad),
                net.nonfinite,
            )
        return self._args[:3]

    def frame(self, net, proj):
        """The call frame of :func:`.runloop.run_call_frame` (address and two dimensions
        of each array of :meth:`arguments`, in order), built with them."""
        args = self.arguments(net, proj)
        if self._frame is None or self._frame[0] is not args[0]:
            arrays = [a for group in args for a in group]
            frame = np.zeros(3 * len(arrays), dtype=np.int64)
            for j, a in enumerate(arrays):
                assert a.flags.c_contiguous and a.ndim <= 2
                frame[3 * j] = a.ctypes.data
                frame[3 * j + 1 : 3 * j + 1 + a.ndim] = a.shape
            self._frame = (args[0], frame)
        return self._frame[1]

    def runner(self, schedule, dispatcher, args):
        """The compiled runner of ``schedule`` for these buffers' argument types: the
        machine-code entry point of its specialisation when numba exposes it (a call
        then skips the dispatcher's type resolution of the 17 arrays, about 5 us),
        else the dispatcher itself."""
        entry = self._entries.get(schedule)
        if entry is None:
            entry = dispatcher
            try:
                key = tuple(dispatcher.typeof_pyval(a) for a in args)
                if key not in dispatcher.overloads:
                    dispatcher.compile(key)
                entry = dispatcher.overloads[key].entry_point
            except Exception:  # pragma: no cover - numba internals moved: dispatch normally
                entry = dispatcher
            self._entries[schedule] = entry
        return entry

    def load(self, net, i, history, state):
        """Put saved recent outputs and model state of population ``i`` in place, as
        the step-by-step scheduler does."""
        size, depth, slot0 = self.pop[i, Pop.SIZE], self.pop[i, Pop.DEPTH], self.pop[i, Pop.SLOT0]
        d = depth - 1
        for j, h in enumerate(history[-d:] if d else []):
            slot = slot0 + (j - d) % depth
            h = np.ascontiguousarray(h, dtype=self.ev_val.dtype)
            for b in range(h.shape[0]):
                off = self.slot_off[slot] + b * size
                self.ev_cnt[slot, b] = dense_row_events(h[b], self.ev_idx, self.ev_val, off)
        key = net.state_names[i]
        if key is not None and key in state:
            v0 = self.pop[i, Pop.STATE]
            self.v[v0 : v0 + size * self.ev_cnt.shape[1]] = np.asarray(state[key]).reshape(-1)

    def dense_slot(self, i, s, batch):
        """Outputs of population ``i`` of step ``s`` (still in its ring), dense (B, size)."""
        size, depth, slot0 = self.pop[i, Pop.SIZE], self.pop[i, Pop.DEPTH], self.pop[i, Pop.SLOT0]
        slot = slot0 + s % depth
        out = np.zeros((batch, size))
        for b in range(batch):
            off = self.slot_off[slot] + b * size
            n = self.ev_cnt[slot, b]
            out[b, self.ev_idx[off : off + n]] = self.ev_val[off : off + n]
        return out
