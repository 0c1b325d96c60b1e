"""Populations: a named group of units with one neuron model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import ShapeError, ValidationError
from ..models.base import NeuronModel

__all__ = ["Population"]


@dataclass(eq=False)
class Population:
    """A named array of units sharing a neuron model.

    Parameters
    ----------
    name : str
    shape : tuple of int
        Per-sample shape, channels first for convolutional layers: (C, H, W).
    model : NeuronModel
    """

    name: str
    shape: tuple
    model: NeuronModel

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or "/" in self.name:
            raise ValidationError(
                f"population name {self.name!r} is invalid; it must be a non-empty string "
                "without '/'."
            )
        shape = np.atleast_1d(np.asarray(self.shape))
        if shape.dtype.kind not in "iu" or shape.ndim != 1 or np.any(shape < 1):
            raise ShapeError(
                f"population {self.name!r}: shape == {tuple(self.shape)!r}, must be positive ints."
            )
        self.shape = tuple(int(s) for s in shape)
        if not isinstance(self.model, NeuronModel):
            raise ValidationError(
                f"population {self.name!r}: model is a {type(self.model).__name__}, "
                "must be a neuro.models.NeuronModel."
            )

    @property
    def size(self) -> int:
        """Number of units per sample."""
        return int(np.prod(self.shape))

    @property
    def ports(self) -> dict[str, int]:
        """Input port names and widths."""
        return self.model.ports(self.size)

    def validate(self) -> None:
        """Check the model's parameters against this population's shape."""
        self.model.validate(self.name, self.shape)
