"""Event-based GRU (EGRU) neuron population with graded events and event counting."""

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

__all__ = ["EGRUNeuron", "PyEGRUNeuronModel"]


class EGRUNeuron(AbstractProcess):
    """EGRU units fed by an input port and a recurrent port (gate blocks ``z | r | g``).

    With ``a = a_in_input + bias_x`` and ``q = a_in_recurrent + bias_r`` (each ``3H``
    wide), every active step computes::

        z = sigmoid(a_z + q_z)        r = sigmoid(a_r + q_r)
        g = tanh(a_g + r * q_g)
        c_hat = z * c + (1 - z) * g
        event = c_hat > theta         (strict)
        y = c_hat on an event, else 0
        c <- c_hat - theta on an event, else c_hat

    and sends ``y``.  The recurrent port is meant to receive ``y`` of the previous
    step through a synapse process (``s_out -> CountingDense(R.T) -> a_in_recurrent``);
    that hop's one-step delay is exactly the ``t - 1`` of the recurrence.

    Parameters
    ----------
    hidden_size : int
        Number of units ``H``.
    theta : float or array-like
        Thresholds, scalar or ``H`` values.
    bias_x, bias_r : array-like, optional
        Input and recurrent biases, ``3H`` values each (zeros by default).
    c_init : array-like, optional
        Initial internal state ``c`` (``H`` values, zeros by default).
    delay : int
        Number of one-step synapse hops between the source and this process (on the
        input path).  During the first ``delay`` Lava time steps the process is idle:
        it drains both ports, sends zeros, keeps ``c`` and counts nothing.  Logical
        step ``k`` is handled at Lava time step ``k + 1 + delay``.
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
    a_in_input, a_in_recurrent : InPort
        Shape ``(3H,)``.
    s_out : OutPort
        Shape ``(H,)``: ``y``.
    bias_x, bias_r : Var
        Shape ``(3H,)``.
    theta, c : Var
        Shape ``(H,)``.
    event_count : Var
        Shape ``(1,)``: running total of events (units with ``c_hat > theta``).
    step_event_count : Var
        Shape ``(max(num_steps, 1),)``: events per logical step.
    trace : Var
        Shape ``(max(trace_steps, 1), H)``: ``y`` of recent logical steps.
    """

    def __init__(
        self,
        *,
        hidden_size: int,
        theta,
        bias_x=None,
        bias_r=None,
        c_init=None,
        delay: int = 0,
        num_steps: int = 0,
        stride: int = 1,
        trace_steps: int = 0,
        name: str | None = None,
    ) -> None:
        # Lava's __del__ calls stop(), which reads _runtime: set it before a check can raise.
        self._runtime = None
        hidden = check_size(hidden_size, "hidden_size")
        delay = check_count(delay, "delay")
        num_steps = check_count(num_steps, "num_steps")
        stride = check_stride(stride)
        trace_steps = check_count(trace_steps, "trace_steps")
        theta = as_unit_vector(theta, hidden, "theta")
        bias_x = as_unit_vector(bias_x, 3 * hidden, "bias_x")
        bias_r = as_unit_vector(bias_r, 3 * hidden, "bias_r")
        c_init = as_unit_vector(c_init, hidden, "c_init")
        super().__init__(
            shape=(hidden,),
            delay=delay,
            num_steps=num_steps,
            stride=stride,
            trace_steps=trace_steps,
            name=name,
        )
        self.a_in_input = InPort(shape=(3 * hidden,))
        self.a_in_recurrent = InPort(shape=(3 * hidden,))
        self.s_out = OutPort(shape=(hidden,))
        self.bias_x = Var(shape=(3 * hidden,), init=bias_x)
        self.bias_r = Var(shape=(3 * hidden,), init=bias_r)
        self.theta = Var(shape=(hidden,), init=theta)
        self.c = Var(shape=(hidden,), init=c_init)
        self.event_count = Var(shape=(1,), init=0)
        self.step_event_count = Var(shape=step_buffer_shape(num_steps), init=0)
        self.trace = Var(shape=trace_shape(trace_steps, hidden), init=0)

    @property
    def shape(self) -> tuple[int]:
        """Shape ``(H,)`` of the population (and of ``s_out``)."""
        return self.proc_params["shape"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, overflow-free."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@implements(proc=EGRUNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyEGRUNeuronModel(PyLoihiProcessModel):
    """Floating-point model of :class:`EGRUNeuron`."""

    a_in_input: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_in_recurrent: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    bias_x: np.ndarray = LavaPyType(np.ndarray, float)
    bias_r: np.ndarray = LavaPyType(np.ndarray, float)
    theta: np.ndarray = LavaPyType(np.ndarray, float)
    c: np.ndarray = LavaPyType(np.ndarray, float)
    event_count: np.ndarray = LavaPyType(np.ndarray, np.int64)
    step_event_count: np.ndarray = LavaPyType(np.ndarray, np.int64)
    trace: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self) -> None:
        """Advance the EGRU by one step and send ``y``."""
        x_in = self.a_in_input.recv()
        h_in = self.a_in_recurrent.recv()
        k = logical_step(self.time_step, self.proc_params["delay"], self.proc_params["stride"])
        if not is_active(k, self.proc_params["num_steps"]):
            self.s_out.send(np.zeros(self.c.shape))
            return
        hidden = self.c.shape[0]
        a = x_in + self.bias_x
        q = h_in + self.bias_r
        z = _sigmoid(a[:hidden] + q[:hidden])
        r = _sigmoid(a[hidden : 2 * hidden] + q[hidden : 2 * hidden])
        g = np.tanh(a[2 * hidden :] + r * q[2 * hidden :])
        c_hat = z * self.c + (1.0 - z) * g
        event = c_hat > self.theta
        y = np.where(event, c_hat, 0.0)
        self.c[:] = np.where(event, c_hat - self.theta, c_hat)
        n = int(np.count_nonzero(event))
        self.event_count[0] += n
        if self.proc_params["num_steps"]:
            self.step_event_count[k] = n
        if self.proc_params["trace_steps"]:
            self.trace[k % self.proc_params["trace_steps"]] = y
        self.s_out.send(y)
