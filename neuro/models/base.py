"""The neuron-model interface: parameters + state + a pure step function.

A model instance holds only parameters.  State lives in plain dicts of arrays
that the backends own, and :meth:`NeuronModel.step` is a pure function of
(state, port inputs) → (outputs, new state).  Backends other than ``reference``
implement the same step in their own kernels and are tested against this one.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from .._registry import Registry
from ..exceptions import ValidationError

MODELS = Registry("neuron model", ValidationError)

__all__ = ["MODELS", "NeuronModel", "InputModel"]


class NeuronModel:
    """Base class of neuron models (dataclasses holding parameters)."""

    type: ClassVar[str]
    is_input: ClassVar[bool] = False

    def ports(self, size: int) -> dict[str, int]:
        """Input ports and their widths for a population of ``size`` units."""
        return {"input": size}

    def init_state(self, size: int, batch: int) -> dict[str, np.ndarray]:
        """Initial state arrays, each of shape (batch, ...)."""
        return {}

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

    def ports(self, size: int) -> dict[str, int]:
        return {}

    def sample_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one sample's input for one step."""
        return shape

    def check(self, x: np.ndarray, where: str, shape: tuple[int, ...]) -> np.ndarray:
        """Validate one run's raw input array of shape (T, B, *sample_shape)."""
        return x

    def encode(self, x: np.ndarray, size: int) -> np.ndarray:  # pragma: no cover - interface
        """Turn one step's raw input of shape (B, *sample_shape) into (B, size) outputs."""
        raise NotImplementedError
