"""Readout: linear units without threshold (logits, decoders)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._validate import as_bool_param
from .base import MODELS, NeuronModel

__all__ = ["Readout"]


@MODELS.register("readout")
@dataclass(frozen=True)
class Readout(NeuronModel):
    """Output = summed input (plus biases), no threshold.

    Parameters
    ----------
    accumulate : bool
        If True the value integrates over steps (v_t = v_{t-1} + input_t, v_0 = 0);
        if False (default) it is the current step's input only.
    """

    type: ClassVar[str] = "readout"
    accumulate: bool = False

    def __post_init__(self):
        object.__setattr__(self, "accumulate", as_bool_param(self.accumulate, "readout accumulate"))

    def init_state(self, size, batch):
        return {"v": np.zeros((batch, size))} if self.accumulate else {}

    def step(self, state, inputs):
        v = inputs["input"]
        if self.accumulate:
            v = state["v"] + v
            return v, {"v": v}
        return v, state
