"""Graded, event-driven synapse processes that count synaptic operations inside Lava.

Both behave like ``lava.proc.dense.process.Dense`` / ``lava.proc.sparse.process.Sparse``
with ``num_message_bits > 0`` in floating point: ``a_out = weights @ s_in`` with
``weights`` of shape ``(post, pre)``, sent one time step later (the buffered value of
the previous step is sent first, so recurrent loops do not deadlock).  In addition
they count synaptic operations: for every non-zero input value ``s_in[j]`` delivered,
the number of non-zero weights in column ``j`` (its fan-out).

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

from neuro.backends.lava.processes._common import (
    check_count,
    logical_step,
    step_buffer_shape,
)

__all__ = [
    "CountingDense",
    "CountingSparse",
    "PyCountingDenseModel",
    "PyCountingSparseModel",
]

_PARAMS_DOC = """
    delay : int
        Delay of the *presynaptic* process (its number of one-step hops from the
        source).  Used only to index ``step_synop_count``: the input received at Lava
        time step ``s`` belongs to logical step ``s - 1 - delay``.
    num_steps : int
        Number of logical steps recorded in ``step_synop_count`` (0: none).
    name : str, optional
        Process name.
"""

_ATTRS_DOC = """
    Attributes
    ----------
    s_in : InPort
        Graded input, shape ``(pre,)``.
    a_out : OutPort
        Weighted sums, shape ``(post,)``, one time step after the input.
    weights : Var
        Shape ``(post, pre)``.
    a_buff : Var
        Shape ``(post,)``: the sums that will be sent on the next step.
    synop_count : Var
        Shape ``(1,)``: running total of synaptic operations.
    step_synop_count : Var
        Shape ``(max(num_steps, 1),)``: synaptic operations per logical step.
"""


def _check_weight_shape(shape) -> None:
    if len(shape) != 2 or shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"weights must be a 2-D (post, pre) matrix, got shape {shape}")


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
        delay: int = 0,
        num_steps: int = 0,
        name: str | None = None,
    ) -> None:
        # Lava's __del__ calls stop(), which reads _runtime: set it before a check can raise.
        self._runtime = None
        w = np.asarray(weights, dtype=np.float64)
        _check_weight_shape(w.shape)
        if not np.isfinite(w).all():
            raise ValueError("weights must be finite")
        delay = check_count(delay, "delay")
        num_steps = check_count(num_steps, "num_steps")
        super().__init__(shape=w.shape, delay=delay, num_steps=num_steps, name=name)
        self.s_in = InPort(shape=(w.shape[1],))
        self.a_out = OutPort(shape=(w.shape[0],))
        self.weights = Var(shape=w.shape, init=w.copy())
        self.a_buff = Var(shape=(w.shape[0],), init=0)
        self.synop_count = Var(shape=(1,), init=0)
        self.step_synop_count = Var(shape=step_buffer_shape(num_steps), init=0)


class CountingSparse(AbstractProcess):
    __doc__ = (
        """Sparse graded synapse ``a_out = weights @ s_in`` that counts synaptic operations.

    Only the stored non-zero weights count as synapses (explicit zeros are dropped).

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
        delay: int = 0,
        num_steps: int = 0,
        name: str | None = None,
    ) -> None:
        # Lava's __del__ calls stop(), which reads _runtime: set it before a check can raise.
        self._runtime = None
        w = sp.csr_matrix(weights, dtype=np.float64)
        w.eliminate_zeros()
        _check_weight_shape(w.shape)
        if not np.isfinite(w.data).all():
            raise ValueError("weights must be finite")
        delay = check_count(delay, "delay")
        num_steps = check_count(num_steps, "num_steps")
        super().__init__(shape=w.shape, delay=delay, num_steps=num_steps, name=name)
        self.s_in = InPort(shape=(w.shape[1],))
        self.a_out = OutPort(shape=(w.shape[0],))
        self.weights = Var(shape=w.shape, init=w)
        self.a_buff = Var(shape=(w.shape[0],), init=0)
        self.synop_count = Var(shape=(1,), init=0)
        self.step_synop_count = Var(shape=step_buffer_shape(num_steps), init=0)


class _AbstractCountingSynapseModel(PyLoihiProcessModel):
    """Shared step logic: send the buffer, gather the fan-out of the non-zero inputs."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    a_buff: np.ndarray = LavaPyType(np.ndarray, float)
    synop_count: np.ndarray = LavaPyType(np.ndarray, np.int64)
    step_synop_count: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self._fan_out = None

    def _prepare(self) -> None:
        """Cache the fan-out per input and the layout used by :meth:`_accumulate`."""
        raise NotImplementedError

    def _accumulate(self, idx: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Return ``weights[:, idx] @ values`` as a dense ``(post,)`` array."""
        raise NotImplementedError

    def run_spk(self) -> None:
        """Send last step's sums, then accumulate this step's non-zero inputs."""
        self.a_out.send(self.a_buff)
        s_in = self.s_in.recv()
        if self._fan_out is None:
            self._prepare()
        idx = np.flatnonzero(s_in)
        if idx.size:
            self.a_buff = self._accumulate(idx, s_in[idx])
            n = int(self._fan_out[idx].sum())
        else:
            self.a_buff = np.zeros(self.a_buff.shape)
            n = 0
        self.synop_count[0] += n
        k = logical_step(self.time_step, self.proc_params["delay"])
        if 0 <= k < self.proc_params["num_steps"]:
            self.step_synop_count[k] = n


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
        self._fan_out = np.count_nonzero(self._w_t, axis=1)

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
        self._fan_out = np.diff(csc.indptr)

    def _accumulate(self, idx: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.asarray(self._csc[:, idx] @ values).reshape(-1)
