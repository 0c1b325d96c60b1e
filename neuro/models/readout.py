"""Readout: linear units without threshold (logits, decoders)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .._validate import as_bool_param
from .base import MODELS, NeuronModel, StateField

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

    #: State of an accumulating readout (none without ``accumulate``).
    ACCUMULATOR: ClassVar[StateField] = StateField(
        "v", "integrated input v_t = v_{t-1} + input_t (0 at the start)"
    )

    def state_fields(self):
        return (self.ACCUMULATOR,) if self.accumulate else ()

    def step(self, state, inputs):
        v = inputs["input"]
        if self.accumulate:
            v = state["v"] + v
            return v, {"v": v}
        return v, state
