"""The neuron-model interface: parameters + declared ports and state + a pure step.

A model instance holds only parameters.  It *declares* what every backend needs to
know about it:

* its input ports (:class:`Port`: name, width per unit, and which unit each port entry
  belongs to — :meth:`NeuronModel.port_units`);
* its state fields (:class:`StateField`: name, dtype, per-unit shape, initial value,
  documentation) — :meth:`NeuronModel.init_state` is derived from them, and
  ``final_state`` / ``initial_state`` of every backend are checked and exchanged by
  them (:mod:`neuro.backends.state`).

State lives in plain dicts of arrays that the backends own, and
:meth:`NeuronModel.step` is a pure function of (state, port inputs) → (outputs, new
state).  Backends other than ``reference`` implement the same step in their own
kernels and are tested against this one.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from .._registry import Registry
from ..exceptions import ValidationError

MODELS = Registry("neuron model", ValidationError)

__all__ = ["MODELS", "NeuronModel", "InputModel", "Port", "StateField", "INPUT_PORT"]


@dataclasses.dataclass(frozen=True)
class StateField:
    """One named state variable of a neuron model.

    Parameters
    ----------
    name : str
        Key in the state dict (``final_state[pop]["state"][name]``).
    doc : str
        What the variable holds, with its unit.
    dtype : str
        Dtype of the backend-neutral array (``"float64"``); backends may keep it in the
        run's dtype internally and convert on exchange.
    per_unit_shape : tuple of int
        Shape held per unit; the array is (batch, size, *per_unit_shape), flattened to
        (batch, size) when ``per_unit_shape == ()``.
    initial : float
        Value of every entry at the start of a fresh run.
    """

    name: str
    doc: str
    dtype: str = "float64"
    per_unit_shape: tuple = ()
    initial: float = 0.0

    def shape(self, size: int, batch: int) -> tuple[int, ...]:
        """Array shape for a population of ``size`` units and ``batch`` samples."""
        return (batch, size, *self.per_unit_shape)

    def zeros(self, size: int, batch: int) -> np.ndarray:
        """The fresh-run array, shape :meth:`shape`."""
        return np.full(self.shape(size, batch), self.initial, dtype=self.dtype)


@dataclasses.dataclass(frozen=True)
class Port:
    """One input port of a neuron model.

    A port of a population of ``size`` units is ``size * per_unit // divisor`` entries
    wide.  ``layout`` says which unit each entry ``j`` belongs to (where a chip stores
    the synapses onto it) and which part of that unit it feeds:

    * ``"unit"``: entry j is unit j (``per_unit == divisor == 1``); part 0;
    * ``"blocks"``: ``per_unit`` consecutive blocks of one entry per unit (EGRU gate
      blocks z | r | g): unit ``j % size``, part (block) ``j // size``;
    * ``"slots"``: ``per_unit`` consecutive entries per unit (max-pool window taps):
      unit ``j // per_unit``, part (slot) ``j % per_unit``;
    * ``"custom"``: the model overrides :meth:`NeuronModel.port_entries`.

    Parameters
    ----------
    name : str
    doc : str
    per_unit, divisor : int
    layout : {"unit", "blocks", "slots", "custom"}
    """

    name: str
    doc: str
    per_unit: int = 1
    layout: str = "unit"
    divisor: int = 1

    def width(self, size: int) -> int:
        """Entries of the port for ``size`` units."""
        return size * self.per_unit // self.divisor


#: The single ``input`` port one entry per unit wide (FATReLU, Readout, k-WTA).
INPUT_PORT = Port("input", "summed synaptic input plus projection biases, one entry per unit")


class NeuronModel:
    """Base class of neuron models (dataclasses holding parameters).

    A model declares :meth:`port_specs` (default: one ``input`` port, one entry per
    unit) and :meth:`state_fields` (default: none); :meth:`ports`,
    :meth:`port_units` and :meth:`init_state` follow from them.
    """

    type: ClassVar[str]
    is_input: ClassVar[bool] = False
    #: Declared ports (models whose ports depend on parameters override :meth:`port_specs`).
    PORTS: ClassVar[tuple[Port, ...]] = (INPUT_PORT,)
    #: Declared state fields (models whose state depends on parameters override
    #: :meth:`state_fields`).
    STATE: ClassVar[tuple[StateField, ...]] = ()

    def port_specs(self) -> tuple[Port, ...]:
        """The model's input ports, in order."""
        return self.PORTS

    def state_fields(self) -> tuple[StateField, ...]:
        """The model's state variables, in order."""
        return self.STATE

    def ports(self, size: int) -> dict[str, int]:
        """Input ports and their widths for a population of ``size`` units."""
        return {p.name: p.width(size) for p in self.port_specs()}

    def port_entries(self, port: str, size: int) -> tuple[np.ndarray, np.ndarray]:
        """The unit each entry of ``port`` belongs to, and the part of it it feeds.

        Parameters
        ----------
        port : str
        size : int
            Units of the population.

        Returns
        -------
        units : ndarray of int64, shape (width,)
            Values in ``[0, size)``.
        parts : ndarray of int64, shape (width,)
            Block (gate) or slot index within the unit, see :class:`Port`.
        """
        spec = self.port_spec(port)
        j = np.arange(spec.width(size), dtype=np.int64)
        if spec.layout == "unit":
            return j, np.zeros_like(j)
        if spec.layout == "blocks":
            return j % size, j // size
        if spec.layout == "slots":
            return j // spec.per_unit, j % spec.per_unit
        raise NotImplementedError(  # pragma: no cover - "custom" models override this
            f"neuron model {self.type!r}: port {port!r} has a custom layout; the model must "
            "override port_entries."
        )

    def port_units(self, port: str, size: int) -> np.ndarray:
        """The unit each entry of ``port`` belongs to: ``port_entries(port, size)[0]``."""
        return self.port_entries(port, size)[0]

    def port_spec(self, port: str) -> Port:
        """The declaration of ``port``."""
        for spec in self.port_specs():
            if spec.name == port:
                return spec
        raise ValidationError(
            f"neuron model {self.type!r} has no port {port!r}; its ports are "
            f"{[p.name for p in self.port_specs()]}."
        )

    def init_state(self, size: int, batch: int) -> dict[str, np.ndarray]:
        """Initial state arrays, one per :meth:`state_fields` entry, each (batch, size, ...)."""
        return {f.name: f.zeros(size, batch) for f in self.state_fields()}

    def step(
        self, state: dict[str, np.ndarray], inputs: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:  # pragma: no cover - interface
        """Advance one step.

        Parameters
        ----------
        state : dict of ndarray
            As returned by :meth:`init_state` or a previous step (not modified).
        inputs : dict of ndarray
            One (batch, width) float64 array per port: the summed synaptic input
            plus projection biases for this step.

        Returns
        -------
        out : ndarray, shape (batch, size)
            The population's output; every non-zero entry is an event.
        new_state : dict of ndarray
        """
        raise NotImplementedError

    def validate(self, where: str, shape: tuple[int, ...]) -> None:
        """Raise a :class:`ValidationError` naming ``where`` if a parameter is invalid."""

    def to_dict(self) -> dict:
        """Parameters as plain scalars and arrays (for files)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict) -> NeuronModel:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


class InputModel(NeuronModel):
    """A population fed from outside: its output at each step is the encoded input."""

    is_input: ClassVar[bool] = True
    #: A projection from this population reads one fan-out row per event instead of
    #: multiplying a dense input vector (an embedding lookup): its dense and weight-sparse
    #: MACs are the rows read, not the full matrix.
    lookup: ClassVar[bool] = False

    PORTS: ClassVar[tuple[Port, ...]] = ()

    def sample_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one sample's input for one step."""
        return shape

    def check(self, x: np.ndarray, where: str, shape: tuple[int, ...]) -> np.ndarray:
        """Validate one run's raw input array of shape (T, B, *sample_shape)."""
        return x

    def encode(self, x: np.ndarray, size: int) -> np.ndarray:  # pragma: no cover - interface
        """Turn one step's raw input of shape (B, *sample_shape) into (B, size) outputs."""
        raise NotImplementedError
