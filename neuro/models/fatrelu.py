"""FATReLU: forced-activation-threshold ReLU (Kurtz et al., ICML 2020).

out = x if x >= θ else 0, with θ >= 0 per layer (scalar) or per channel
(one value per entry of the population's first axis).  θ = 0 is a ReLU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .._validate import as_float_param, check_nonnegative
from ..exceptions import ShapeError
from .base import MODELS, NeuronModel

__all__ = ["FATReLU", "unit_values"]


def unit_values(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Broadcast a per-layer or per-channel parameter to one value per unit.

    Parameters
    ----------
    values : ndarray, shape () or (shape[0],)
    shape : tuple of int
        Population shape; channels are its first axis.

    Returns
    -------
    ndarray, shape (prod(shape),)
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 0:
        return np.full(int(np.prod(shape)), float(values))
    channels = values.reshape(-1, *([1] * (len(shape) - 1)))
    return np.broadcast_to(channels, shape).ravel().copy()


@MODELS.register("fatrelu")
@dataclass(frozen=True)
class FATReLU(NeuronModel):
    """Thresholded ReLU neurons; an event for every non-zero output.

    Parameters
    ----------
    threshold : float or ndarray of shape (C,)
        θ >= 0, per layer or per channel (first axis of the population shape).
    """

    type: ClassVar[str] = "fatrelu"
    threshold: np.ndarray = field(default_factory=lambda: np.float64(0.0))

    def __post_init__(self):
        object.__setattr__(self, "threshold", as_float_param(self.threshold, "fatrelu threshold"))

    def validate(self, where, shape):
        check_nonnegative(self.threshold, f"population {where!r}: fatrelu threshold")
        th = self.threshold
        if th.ndim > 1 or (th.ndim == 1 and th.size != shape[0]):
            raise ShapeError(
                f"population {where!r}: fatrelu threshold has shape {th.shape}, must be a "
                f"scalar or one value per channel ({shape[0]},) for population shape {shape}."
            )

    def step(self, state, inputs):
        x = inputs["input"]
        theta = np.repeat(self.threshold.ravel(), x.shape[1] // self.threshold.size)
        return np.where(x >= theta, x, 0.0), state
