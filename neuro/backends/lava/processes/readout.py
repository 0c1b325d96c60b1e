"""Readout neuron: sends its (optionally integrated) input sum, no threshold; counts non-zeros."""

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

from neuro.backends.lava.processes._common import (
    as_unit_vector,
    check_count,
    check_size,
    check_stride,
    is_active,
    logical_step,
    step_buffer_shape,
    trace_shape,
)

__all__ = ["ReadoutNeuron", "PyReadoutNeuronModel"]


class ReadoutNeuron(AbstractProcess):
    """Graded output unit: ``out = a_in + bias`` every step, optionally integrated.

    With ``accumulate`` the unit integrates, ``v <- v + a_in + bias``, and sends ``v``.

    Parameters
    ----------
    shape : int or tuple of int
        Number of units ``N`` (or ``(N,)``).
    bias : float or array-like, optional
        Added to the input sum every active step; zero by default.
    accumulate : bool
        Integrate over steps (default False: send the current step's sum only).
    v_init : float or array-like, optional
        Initial integrator value (zeros by default; used with ``accumulate``).
    delay : int
        Number of one-step synapse hops between the source and this process.  During
        the first ``delay`` Lava time steps the process is idle (drains its input,
        sends zeros, counts nothing).  Logical step ``k`` is handled at Lava time step
        ``k + 1 + delay``.
    num_steps : int
        Number of logical steps to process (0: no bound).  When positive, the process
        goes idle again after logical step ``num_steps - 1`` (so running a network for
        ``T + D`` Lava steps does not feed zeros through it) and records events per
        logical step in ``step_event_count``.
    stride : int
        Lava time steps per logical step (default 1).  With ``stride > 1`` logical
        step ``k`` is handled at Lava time step ``k * stride + 1 + delay`` and the
        steps in between are idle (used when a delayed projection runs backwards
        through the pipeline).
    trace_steps : int
        Keep the values sent in the last ``trace_steps`` logical steps in ``trace``
        (row ``k % trace_steps`` holds step ``k``); 0 (default) keeps none.
    name : str, optional
        Process name.

    Attributes
    ----------
    a_in : InPort
        Graded input, shape ``(N,)``.
    s_out : OutPort
        Graded output, shape ``(N,)``; connect it to a sink to read the values.
    bias : Var
        Shape ``(N,)``.
    v : Var
        Shape ``(N,)``: the last value sent (the integrator with ``accumulate``).
    event_count : Var
        Shape ``(1,)``: running total of non-zero values sent.
    step_event_count : Var
        Shape ``(max(num_steps, 1),)``: non-zero values sent per logical step.
    trace : Var
        Shape ``(max(trace_steps, 1), N)``: the values sent in recent logical steps.
    """

    def __init__(
        self,
        *,
        shape,
        bias=None,
        accumulate: bool = False,
        v_init=None,
        delay: int = 0,
        num_steps: int = 0,
        stride: int = 1,
        trace_steps: int = 0,
        name: str | None = None,
    ) -> None:
        # Lava's __del__ calls stop(), which reads _runtime: set it before a check can raise.
        self._runtime = None
        size = check_size(shape)
        delay = check_count(delay, "delay")
        num_steps = check_count(num_steps, "num_steps")
        stride = check_stride(stride)
        trace_steps = check_count(trace_steps, "trace_steps")
        bias = as_unit_vector(bias, size, "bias")
        v_init = as_unit_vector(v_init, size, "v_init")
        super().__init__(
            shape=(size,),
            delay=delay,
            num_steps=num_steps,
            stride=stride,
            trace_steps=trace_steps,
            accumulate=bool(accumulate),
            name=name,
        )
        self.a_in = InPort(shape=(size,))
        self.s_out = OutPort(shape=(size,))
        self.bias = Var(shape=(size,), init=bias)
        self.v = Var(shape=(size,), init=v_init)
        self.event_count = Var(shape=(1,), init=0)
        self.step_event_count = Var(shape=step_buffer_shape(num_steps), init=0)
        self.trace = Var(shape=trace_shape(trace_steps, size), init=0)

    @property
    def shape(self) -> tuple[int]:
        """Shape ``(N,)`` of the population."""
        return self.proc_params["shape"]


@implements(proc=ReadoutNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyReadoutNeuronModel(PyLoihiProcessModel):
    """Floating-point model of :class:`ReadoutNeuron`."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    bias: np.ndarray = LavaPyType(np.ndarray, float)
    v: np.ndarray = LavaPyType(np.ndarray, float)
    event_count: np.ndarray = LavaPyType(np.ndarray, np.int64)
    step_event_count: np.ndarray = LavaPyType(np.ndarray, np.int64)
    trace: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self) -> None:
        """Send this step's input sum (or the integrator)."""
        a_in = self.a_in.recv()
        k = logical_step(self.time_step, self.proc_params["delay"], self.proc_params["stride"])
        if not is_active(k, self.proc_params["num_steps"]):
            self.s_out.send(np.zeros(self.v.shape))
            return
        v = a_in + self.bias
        if self.proc_params["accumulate"]:
            v = v + self.v
        self.v[:] = v
        n = int(np.count_nonzero(v))
        self.event_count[0] += n
        if self.proc_params["num_steps"]:
            self.step_event_count[k] = n
        if self.proc_params["trace_steps"]:
            self.trace[k % self.proc_params["trace_steps"]] = v
        self.s_out.send(v)
