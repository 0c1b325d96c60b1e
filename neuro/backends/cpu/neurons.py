"""Neuron-model kernels of the CPU scheduler.

Each class implements one model's step for a batch: read the port buffers,
update state, write the step's events.  The model's declared state fields
(:meth:`neuro.models.base.NeuronModel.state_fields`) are allocated by the base class
as attributes of the same name, in the run's dtype, shape (B, size, ...); they are
exchanged with other backends through :mod:`neuro.backends.state`.

Kernels are found by model type (:func:`cpu_kernel`): registered in
:data:`CPU_NEURONS` (the built-in ones below and the lazy entries), or else in a module
``neuro.backends.cpu.<type>`` that registers its class on import, so a new model needs
only its kernel module here.
"""

from __future__ import annotations

import importlib

import numpy as np

from ..._registry import Registry
from ...exceptions import BackendError
from ...models.fatrelu import event_threshold, unit_values
from ..state import neutral_state
from .kernels import dense_to_events, threshold_events
from .tables import Kind, Pop, compiled_neuron

CPU_NEURONS = Registry("neuron model on backend 'cpu'", BackendError)
# Listed so that error messages name them; cpu_kernel would find these modules anyway.
CPU_NEURONS.register_lazy("egru", "neuro.backends.cpu.egru:CpuEGRU")
CPU_NEURONS.register_lazy("kwta", "neuro.backends.cpu.kwta:CpuKWTA")
CPU_NEURONS.register_lazy("sas", "neuro.backends.cpu.sas:CpuSAS")
CPU_NEURONS.register_lazy("maxpool", "neuro.backends.cpu.maxpool:CpuMaxPool")

__all__ = ["CPU_NEURONS", "CpuNeurons", "cpu_kernel"]


def cpu_kernel(model_type: str) -> type:
    """The cpu kernel class of a model type.

    Looks in :data:`CPU_NEURONS`; a type not registered there is looked for in the
    module ``neuro.backends.cpu.<type>``, which registers its kernel class when
    imported.

    Raises
    ------
    BackendError
        Naming the model type when no kernel exists.
    """
    if model_type not in CPU_NEURONS and model_type.isidentifier():
        try:
            importlib.import_module(f"{__package__}.{model_type}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{model_type}":
                raise
    return CPU_NEURONS.get(model_type)


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
        self.fields = population.model.state_fields()
        for f in self.fields:
            setattr(self, f.name, np.full(f.shape(population.size, batch), f.initial, self.dtype))

    def step(self, ports: dict, events) -> None:  # pragma: no cover - interface
        """Consume the port buffers (B, width) and write this step's events."""
        raise NotImplementedError

    def inject(self, x: np.ndarray, events) -> None:  # pragma: no cover - interface
        """Input populations: encode one step's raw input into events."""
        raise NotImplementedError

    def get_state(self) -> dict:
        """Model state in the backend-neutral form (declared fields and dtypes; copies)."""
        if not self.fields:
            return {}
        return neutral_state(self.pop, {f.name: getattr(self, f.name) for f in self.fields})

    def set_state(self, state: dict) -> None:
        """Load model state saved by any backend (declared fields present in ``state``)."""
        for f in self.fields:
            if f.name in state:
                arr = getattr(self, f.name)
                arr[:] = np.asarray(state[f.name]).reshape(arr.shape)


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
        self.accumulate = population.model.accumulate  # state field ``v`` when accumulating

    def step(self, ports, events):
        x = ports["input"]
        if self.accumulate:
            self.v += x
            x = self.v
        dense_to_events(x, events.ptr, events.idx, events.val)
