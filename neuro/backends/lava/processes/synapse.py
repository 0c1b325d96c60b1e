"""Graded, event-driven synapse processes that count synaptic operations inside Lava.

Both behave like ``lava.proc.dense.process.Dense`` / ``lava.proc.sparse.process.Sparse``
with ``num_message_bits > 0`` in floating point: ``a_out = weights @ s_in`` with
``weights`` of shape ``(post, pre)``, sent one time step later (the buffered value of
the previous step is sent first, so recurrent loops do not deadlock), or
``1 + latency`` time steps later.  In addition they count, for every non-zero input
value ``s_in[j]`` delivered: one event in, the number of non-zero weights in column
``j`` (its fan-out: synaptic operations) and the number of connections of ``j``
(``fan_total[j]``, zero weights included: activity-sparse MACs).  A network run passes
both fan-outs from :func:`neuro.audit.tally.fanouts`, the one definition of what an
event costs; stand-alone processes default to that of their own matrix.

Weights are treated as static: the models cache a transposed / column-compressed copy
on the first step, so setting ``weights`` while running has no effect on the output.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from scipy import sparse as sp

from neuro.audit.tally import fanouts, tally_events
from neuro.backends.lava.processes._common import (
    check_count,
    check_stride,
    logical_step,
    step_buffer_shape,
)
from neuro.ir.weights import Dense

__all__ = [
    "CountingDense",
    "CountingSparse",
    "PyCountingDenseModel",
    "PyCountingSparseModel",
]

_PARAMS_DOC = """
    fan_nnz : array-like of int, optional
        Non-zero weights per presynaptic unit, shape ``(pre,)`` (the synaptic
        operations of one event; default: those of ``weights``).
    fan_total : array-like of int, optional
        Connections per presynaptic unit, shape ``(pre,)``, zero weights included
        (default: ``post`` for :class:`CountingDense`, the stored entries of each
        column for :class:`CountingSparse`).
    latency : int
        Extra time steps between input and output beyond the intrinsic one
        (default 0): the sums of the input received at time step ``s`` are sent at
        ``s + 1 + latency``.
    preload : array-like, optional
        Presynaptic values, shape ``(n, pre)``, delivered as if received at the Lava
        time steps ``preload_steps`` (used to replay the recent outputs a run
        continues from).  A step ``<= 0`` lies before the run: its sums are placed in
        the output queue (``preload_steps >= -latency``).  Preloaded values are
        counted like received ones.
    preload_steps : array-like of int, optional
        Shape ``(n,)``.
    deliver_until : int
        Last Lava time step whose output the postsynaptic process uses (0, the
        default: no limit).  Inputs whose sums would be sent later are not counted,
        so the counts cover exactly the deliveries of the run.
    delay : int
        Delay of the *presynaptic* process (its number of one-step hops from the
        source).  Used only to index ``step_synop_count``: the input received at Lava
        time step ``s`` belongs to logical step ``(s - 1 - delay) / stride``.
    num_steps : int
        Number of logical steps recorded in ``step_synop_count`` (0: none).
    stride : int
        Lava time steps per logical step (default 1).
    name : str, optional
        Process name.
"""

_ATTRS_DOC = """
    Attributes
    ----------
    s_in : InPort
        Graded input, shape ``(pre,)``.
    a_out : OutPort
        Weighted sums, shape ``(post,)``, ``1 + latency`` time steps after the input.
    weights : Var
        Shape ``(post, pre)``.
    fan_total : Var
        Shape ``(pre,)``: connections per presynaptic unit.
    a_buff : Var
        Shape ``(post,)``: the sums of the latest input.
    synop_count : Var
        Shape ``(1,)``: running total of synaptic operations.
    mac_count : Var
        Shape ``(1,)``: running total of ``fan_total`` over the non-zero inputs.
    event_count : Var
        Shape ``(1,)``: running total of non-zero inputs delivered.
    step_synop_count : Var
        Shape ``(max(num_steps, 1),)``: synaptic operations per logical step.
"""


def _check_weight_shape(shape) -> None:
    if len(shape) != 2 or shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"weights must be a 2-D (post, pre) matrix, got shape {shape}")


def _fan_total(value, default: np.ndarray) -> np.ndarray:
    """Check ``fan_total`` against the number of presynaptic units."""
    if value is None:
        return default.astype(np.int64)
    arr = np.asarray(value).reshape(-1)
    if arr.shape != default.shape or arr.dtype.kind not in "iu" or (arr < 0).any():
        raise ValueError(
            f"fan_total must hold {default.size} non-negative ints (one per presynaptic "
            f"unit), got shape {arr.shape} and dtype {arr.dtype}"
        )
    return arr.astype(np.int64)


def _preload(values, steps, n_pre: int, latency: int):
    """Check ``preload`` / ``preload_steps``; return them as float64 / int64 arrays."""
    if values is None:
        return np.zeros((0, n_pre)), np.zeros(0, dtype=np.int64)
    rows = np.asarray(values, dtype=np.float64)
    at = np.asarray(steps).reshape(-1)
    if rows.ndim != 2 or rows.shape[1] != n_pre or at.shape != (rows.shape[0],):
        raise ValueError(
            f"preload must have shape (n, {n_pre}) and preload_steps shape (n,), got "
            f"{rows.shape} and {at.shape}"
        )
    if at.size and (at.dtype.kind not in "iu" or at.min() < -latency):
        raise ValueError(f"preload_steps must be ints >= -latency == {-latency}, got {at}")
    if not np.isfinite(rows).all():
        raise ValueError("preload must be finite")
    return rows, at.astype(np.int64)


def _init_synapse(proc, shape, w, fan_total, fan_nnz, options: dict) -> None:
    """Shared constructor body of the counting synapses (``options``: their keyword args)."""
    latency, preload, preload_steps = (options[k] for k in ("latency", "preload", "preload_steps"))
    delay, num_steps, stride, name = (options[k] for k in ("delay", "num_steps", "stride", "name"))
    deliver_until = check_count(options["deliver_until"], "deliver_until")
    delay = check_count(delay, "delay")
    num_steps = check_count(num_steps, "num_steps")
    latency = check_count(latency, "latency")
    stride = check_stride(stride)
    rows, at = _preload(preload, preload_steps, shape[1], latency)
    AbstractProcess.__init__(
        proc,
        shape=shape,
        delay=delay,
        num_steps=num_steps,
        stride=stride,
        latency=latency,
        preload=rows,
        preload_steps=at,
        deliver_until=deliver_until,
        name=name,
    )
    proc.s_in = InPort(shape=(shape[1],))
    proc.a_out = OutPort(shape=(shape[0],))
    proc.weights = Var(shape=shape, init=w)
    proc.fan_total = Var(shape=(shape[1],), init=fan_total)
    proc.fan_nnz = Var(shape=(shape[1],), init=fan_nnz)
    proc.a_buff = Var(shape=(shape[0],), init=0)
    proc.synop_count = Var(shape=(1,), init=0)
    proc.mac_count = Var(shape=(1,), init=0)
    proc.event_count = Var(shape=(1,), init=0)
    proc.step_synop_count = Var(shape=step_buffer_shape(num_steps), init=0)


class CountingDense(AbstractProcess):
    __doc__ = (
        """Dense graded synapse ``a_out = weights @ s_in`` that counts synaptic operations.

    Parameters
    ----------
    weights : numpy.ndarray
        Matrix of shape ``(post, pre)`` (the orientation of Lava's ``Dense``).
"""
        + _PARAMS_DOC
        + _ATTRS_DOC
    )

    def __init__(
        self,
        *,
        weights: np.ndarray,
        fan_total=None,
        fan_nnz=None,
        latency: int = 0,
        preload=None,
        preload_steps=None,
        deliver_until: int = 0,
        delay: int = 0,
        num_steps: int = 0,
        stride: int = 1,
        name: str | None = None,
    ) -> None:
        # Lava's __del__ calls stop(), which reads _runtime: set it before a check can raise.
        self._runtime = None
        options = {
            "latency": latency,
            "preload": preload,
            "preload_steps": preload_steps,
            "deliver_until": deliver_until,
            "delay": delay,
            "num_steps": num_steps,
            "stride": stride,
            "name": name,
        }
        w = np.asarray(weights, dtype=np.float64)
        _check_weight_shape(w.shape)
        if not np.isfinite(w).all():
            raise ValueError("weights must be finite")
        total = _fan_total(fan_total, np.full(w.shape[1], w.shape[0]))
        nnz = _fan_total(fan_nnz, fanouts(Dense(w.T))[0])
        _init_synapse(self, w.shape, w.copy(), total, nnz, options)


class CountingSparse(AbstractProcess):
    __doc__ = (
        """Sparse graded synapse ``a_out = weights @ s_in`` that counts synaptic operations.

    Only the stored non-zero weights count as synaptic operations (explicit zeros are
    dropped from ``weights`` but stay in the default ``fan_total``).

    Parameters
    ----------
    weights : scipy.sparse matrix or numpy.ndarray
        Matrix of shape ``(post, pre)``; stored as CSR like Lava's ``Sparse``.
"""
        + _PARAMS_DOC
        + _ATTRS_DOC
    )

    def __init__(
        self,
        *,
        weights,
        fan_total=None,
        fan_nnz=None,
        latency: int = 0,
        preload=None,
        preload_steps=None,
        deliver_until: int = 0,
        delay: int = 0,
        num_steps: int = 0,
        stride: int = 1,
        name: str | None = None,
    ) -> None:
        # Lava's __del__ calls stop(), which reads _runtime: set it before a check can raise.
        self._runtime = None
        options = {
            "latency": latency,
            "preload": preload,
            "preload_steps": preload_steps,
            "deliver_until": deliver_until,
            "delay": delay,
            "num_steps": num_steps,
            "stride": stride,
            "name": name,
        }
        w = sp.csr_matrix(weights, dtype=np.float64)
        _check_weight_shape(w.shape)
        if not np.isfinite(w.data).all():
            raise ValueError("weights must be finite")
        stored = np.bincount(w.indices, minlength=w.shape[1])
        total = _fan_total(fan_total, stored)
        w.eliminate_zeros()
        nnz = _fan_total(fan_nnz, fanouts(Dense(w.T.toarray()))[0])
        _init_synapse(self, w.shape, w, total, nnz, options)


class _AbstractCountingSynapseModel(PyLoihiProcessModel):
    """Shared step logic: send the oldest queued sums, gather the fan-out of the inputs."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    fan_total: np.ndarray = LavaPyType(np.ndarray, np.int64)
    fan_nnz: np.ndarray = LavaPyType(np.ndarray, np.int64)
    a_buff: np.ndarray = LavaPyType(np.ndarray, float)
    synop_count: np.ndarray = LavaPyType(np.ndarray, np.int64)
    mac_count: np.ndarray = LavaPyType(np.ndarray, np.int64)
    event_count: np.ndarray = LavaPyType(np.ndarray, np.int64)
    step_synop_count: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self._queue = None

    def _prepare(self) -> None:
        """Cache the layout used by :meth:`_accumulate`."""
        raise NotImplementedError

    def _accumulate(self, idx: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Return ``weights[:, idx] @ values`` as a dense ``(post,)`` array."""
        raise NotImplementedError

    def _deliver(self, s_in: np.ndarray, time_step: int) -> np.ndarray:
        """Sums of one input vector; counts its events, synops and MACs."""
        idx = np.flatnonzero(s_in)
        if not idx.size:
            return np.zeros(self.a_buff.shape)
        p = self.proc_params
        if p["deliver_until"] and time_step + 1 + p["latency"] > p["deliver_until"]:
            return self._accumulate(idx, s_in[idx])
        n, macs = tally_events(idx, 0, idx.size, self.fan_nnz, self.fan_total)
        self.synop_count[0] += n
        self.mac_count[0] += macs
        self.event_count[0] += idx.size
        k = logical_step(time_step, p["delay"], p["stride"])
        if 0 <= k < p["num_steps"]:
            self.step_synop_count[k] += n
        return self._accumulate(idx, s_in[idx])

    def _start(self) -> None:
        """Build the output queue, with the preloaded inputs of steps <= 0 in it."""
        self._prepare()
        latency = self.proc_params["latency"]
        self._queue = [np.zeros(self.a_buff.shape) for _ in range(latency + 1)]
        self._later = {}
        for row, at in zip(self.proc_params["preload"], self.proc_params["preload_steps"]):
            if at <= 0:
                self._queue[at + latency] = self._queue[at + latency] + self._deliver(row, at)
            else:
                self._later[int(at)] = self._later.get(int(at), 0.0) + row

    def run_spk(self) -> None:
        """Send the sums due now, then accumulate this step's non-zero inputs."""
        if self._queue is None:
            self._start()
        self.a_out.send(self._queue.pop(0))
        s_in = self.s_in.recv()
        if self.time_step in self._later:
            s_in = s_in + self._later.pop(self.time_step)
        self.a_buff = self._deliver(s_in, self.time_step)
        self._queue.append(self.a_buff)


@implements(proc=CountingDense, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyCountingDenseModel(_AbstractCountingSynapseModel):
    """Floating-point, event-driven model of :class:`CountingDense`."""

    weights: np.ndarray = LavaPyType(np.ndarray, float)

    def _prepare(self) -> None:
        # Rows of the transposed matrix are the fan-outs: gathering the rows of the
        # active inputs reads contiguous memory.
        self._w_t = np.ascontiguousarray(self.weights.T)

    def _accumulate(self, idx: np.ndarray, values: np.ndarray) -> np.ndarray:
        return values @ self._w_t[idx]


@implements(proc=CountingSparse, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyCountingSparseModel(_AbstractCountingSynapseModel):
    """Floating-point, event-driven model of :class:`CountingSparse`."""

    weights: sp.csr_matrix = LavaPyType(sp.csr_matrix, float)

    def _prepare(self) -> None:
        csc = sp.csc_matrix(self.weights)
        csc.eliminate_zeros()
        self._csc = csc

    def _accumulate(self, idx: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.asarray(self._csc[:, idx] @ values).reshape(-1)
