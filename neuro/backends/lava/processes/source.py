"""Graded source: injects one row of a (T, N) array per Lava time step and counts events."""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

__all__ = ["GradedSource", "PyGradedSourceModel"]


class GradedSource(AbstractProcess):
    """Send row ``k`` of ``data`` at Lava time step ``k + 1`` as graded values.

    Zero entries are "no event"; every non-zero entry is one event.  After the last
    row the source sends zeros.  Each Dense/Sparse/CountingDense hop downstream adds
    one time step of delay.

    Parameters
    ----------
    data : numpy.ndarray
        Input array of shape ``(T, N)``: one row per logical time step.
    name : str, optional
        Process name.

    Attributes
    ----------
    s_out : OutPort
        Graded output, shape ``(N,)``.
    data : Var
        The input array, shape ``(T, N)``.
    event_count : Var
        Shape ``(1,)``: running total of non-zero values sent.
    step_event_count : Var
        Shape ``(T,)``: non-zero values sent per logical step.

    Raises
    ------
    ValueError
        If ``data`` is not a finite two-dimensional array with ``T, N >= 1``.
    """

    def __init__(self, *, data: np.ndarray, name: str | None = None) -> None:
        # Lava's __del__ calls stop(), which reads _runtime: set it before a check can raise.
        self._runtime = None
        arr = np.asarray(data, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
            raise ValueError(f"data must have shape (T, N) with T, N >= 1, got {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError("data must be finite")
        num_steps, size = arr.shape
        super().__init__(shape=(size,), num_steps=num_steps, name=name)
        self.s_out = OutPort(shape=(size,))
        self.data = Var(shape=arr.shape, init=arr.copy())
        self.event_count = Var(shape=(1,), init=0)
        self.step_event_count = Var(shape=(num_steps,), init=0)

    @property
    def shape(self) -> tuple[int]:
        """Shape ``(N,)`` of the output port."""
        return self.proc_params["shape"]


@implements(proc=GradedSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyGradedSourceModel(PyLoihiProcessModel):
    """Floating-point model of :class:`GradedSource`."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    data: np.ndarray = LavaPyType(np.ndarray, float)
    event_count: np.ndarray = LavaPyType(np.ndarray, np.int64)
    step_event_count: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def run_spk(self) -> None:
        """Send the row of the current step and count its non-zero values."""
        k = self.time_step - 1
        if k < self.data.shape[0]:
            row = self.data[k]
            n = int(np.count_nonzero(row))
            self.event_count[0] += n
            self.step_event_count[k] = n
            self.s_out.send(row.copy())
        else:
            self.s_out.send(np.zeros(self.data.shape[1]))
