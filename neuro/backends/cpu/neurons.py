"""Neuron-model kernels of the CPU scheduler.

Each class implements one model's step for a batch: read the port buffers,
update state, write the step's events.  State is exposed as float64 arrays in
the backend-neutral layout of :meth:`neuro.models.base.NeuronModel.init_state`.
"""

from __future__ import annotations

import numpy as np

from ..._registry import Registry
from ...exceptions import BackendError
from ...models.fatrelu import event_threshold, unit_values
from .kernels import dense_to_events, threshold_events
from .tables import Kind, Pop, compiled_neuron

CPU_NEURONS = Registry("neuron model on backend 'cpu'", BackendError)
CPU_NEURONS.register_lazy("egru", "neuro.backends.cpu.egru:CpuEGRU")
CPU_NEURONS.register_lazy("kwta", "neuro.backends.cpu.kwta:CpuKWTA")
CPU_NEURONS.register_lazy("sas", "neuro.backends.cpu.sas:CpuSAS")
CPU_NEURONS.register_lazy("maxpool", "neuro.backends.cpu.maxpool:CpuMaxPool")

__all__ = ["CPU_NEURONS", "CpuNeurons"]


class CpuNeurons:
    """Base: a population's kernel state for one run.

    Parameters
    ----------
    population : neuro.ir.Population
    batch : int
    dtype : numpy dtype
    """

    def __init__(self, population, batch: int, dtype):
        self.pop = population
        self.batch = batch
        self.dtype = np.dtype(dtype)

    def step(self, ports: dict, events) -> None:  # pragma: no cover - interface
        """Consume the port buffers (B, width) and write this step's events."""
        raise NotImplementedError

    def inject(self, x: np.ndarray, events) -> None:  # pragma: no cover - interface
        """Input populations: encode one step's raw input into events."""
        raise NotImplementedError

    def get_state(self) -> dict:
        """Model state as float64 arrays (backend-neutral)."""
        return {}

    def set_state(self, state: dict) -> None:
        """Load model state saved by any backend."""


@compiled_neuron("input", Kind.INPUT)
@CPU_NEURONS.register("input")
class CpuInput(CpuNeurons):
    """Dense input: one event per non-zero value."""

    def inject(self, x, events):
        events.from_dense(np.asarray(x).reshape(self.batch, self.pop.size))


@compiled_neuron("token", Kind.TOKEN)
@CPU_NEURONS.register("token")
class CpuTokenInput(CpuNeurons):
    """Token ids: one event of value 1 per sample."""

    def inject(self, x, events):
        ids = np.asarray(x).reshape(self.batch)
        events.ptr[:] = np.arange(self.batch + 1)
        events.idx[: self.batch] = ids
        events.val[: self.batch] = 1.0


@compiled_neuron("fatrelu", Kind.FATRELU, columns=(Pop.THETA,))
@CPU_NEURONS.register("fatrelu")
class CpuFATReLU(CpuNeurons):
    """out = x if x >= θ (x > θ when strict) else 0, clipped to the upper ``clip``."""

    def __init__(self, population, batch, dtype):
        super().__init__(population, batch, dtype)
        self.theta = event_threshold(population.model, population.shape, self.dtype)
        clip = population.model.clip
        self.clip = None if clip is None else unit_values(clip, population.shape).astype(self.dtype)

    def step(self, ports, events):
        n = threshold_events(ports["input"], self.theta, events.ptr, events.idx, events.val)
        if self.clip is not None:
            np.minimum(events.val[:n], self.clip[events.idx[:n]], out=events.val[:n])


@compiled_neuron(
    "readout",
    Kind.READOUT,
    columns={Kind.READOUT_ACC: (Pop.STATE,)},
    state="v",
    kind_of=lambda model: Kind.READOUT_ACC if model.accumulate else Kind.READOUT,
)
@CPU_NEURONS.register("readout")
class CpuReadout(CpuNeurons):
    """Linear readout, optionally accumulating over steps."""

    def __init__(self, population, batch, dtype):
        super().__init__(population, batch, dtype)
        self.accumulate = population.model.accumulate
        self.v = np.zeros((batch, population.size), dtype=self.dtype)

    def step(self, ports, events):
        x = ports["input"]
        if self.accumulate:
            self.v += x
            x = self.v
        dense_to_events(x, events.ptr, events.idx, events.val)

    def get_state(self):
        return {"v": self.v.astype(np.float64)} if self.accumulate else {}

    def set_state(self, state):
        if self.accumulate and "v" in state:
            self.v[:] = state["v"]
