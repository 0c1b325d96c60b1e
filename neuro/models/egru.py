"""EGRU: the event-based gated recurrent unit (Subramoney et al., ICLR 2023).

Semantics of EvNN v0.2.0 (its code is the ground truth, not the paper's equations).
Per unit, with the port inputs ``a = x W + b_x`` (port ``input``) and
``q = y_{t-1} R + b_r`` (port ``recurrent``), gate blocks ordered z | r | g::

    z = σ(a_z + q_z)        r = σ(a_r + q_r)        g = tanh(a_g + r · q_g)
    ĉ = z · c_{t-1} + (1 − z) · g
    event iff ĉ > ϑ (strict);  y = ĉ on an event, else 0
    c_t = ĉ − ϑ on an event, else ĉ;  c_0 = 0

The recurrent weights and the next layer see ``y``, never ``c``: in a network the
recurrent drive is a delay-1 projection of the population onto its own
``recurrent`` port carrying ``b_r`` as its bias, and ``b_x`` is the bias of the
projection into ``input``.  Only units with ``y ≠ 0`` send events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._validate import as_float_param, check_nonnegative
from ..exceptions import ShapeError
from .base import MODELS, NeuronModel, Port, StateField

__all__ = ["EGRU", "egru_gates"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def egru_gates(a: np.ndarray, q: np.ndarray, c: np.ndarray, threshold: np.ndarray):
    """One EGRU step on dense arrays (float64).

    Parameters
    ----------
    a, q : ndarray, shape (B, 3H)
        Input and recurrent drives, biases included, blocks z | r | g.
    c : ndarray, shape (B, H)
        Internal state before the step.
    threshold : ndarray, shape (H,)

    Returns
    -------
    y : ndarray, shape (B, H)
        ĉ where ĉ > ϑ, else 0.
    c_new : ndarray, shape (B, H)
        ĉ − ϑ where an event was sent, else ĉ.
    """
    h = c.shape[1]
    z = _sigmoid(a[:, :h] + q[:, :h])
    r = _sigmoid(a[:, h : 2 * h] + q[:, h : 2 * h])
    g = np.tanh(a[:, 2 * h :] + r * q[:, 2 * h :])
    c_hat = z * c + (1.0 - z) * g
    event = c_hat > threshold
    return np.where(event, c_hat, 0.0), np.where(event, c_hat - threshold, c_hat)


@MODELS.register("egru")
@dataclass(frozen=True)
class EGRU(NeuronModel):
    """Event-based GRU units (EvNN v0.2.0 semantics; see the module docstring).

    Parameters
    ----------
    threshold : ndarray, shape (H,)
        ϑ >= 0 per unit, in the units of the internal state ``c``.

    Notes
    -----
    Ports: ``input`` and ``recurrent``, each ``3H`` wide (gate blocks z | r | g).
    State: ``c`` of shape (B, H), starting at 0.
    """

    type: ClassVar[str] = "egru"
    PORTS: ClassVar[tuple[Port, ...]] = (
        Port(
            "input",
            "feed-forward drive a = x W + b_x, gate blocks z | r | g of one entry per unit",
            per_unit=3,
            layout="blocks",
        ),
        Port(
            "recurrent",
            "recurrent drive q = y_{t-1} R + b_r, gate blocks z | r | g of one entry per unit",
            per_unit=3,
            layout="blocks",
        ),
    )
    STATE: ClassVar[tuple[StateField, ...]] = (
        StateField("c", "internal state c_t (units of the threshold; 0 at the start)"),
    )
    threshold: np.ndarray

    def __post_init__(self):
        object.__setattr__(
            self, "threshold", np.atleast_1d(as_float_param(self.threshold, "egru threshold"))
        )

    def validate(self, where, shape):
        check_nonnegative(self.threshold, f"population {where!r}: egru threshold")
        size = int(np.prod(shape))
        if self.threshold.shape != (size,):
            raise ShapeError(
                f"population {where!r}: egru threshold has shape {self.threshold.shape}, must "
                f"be one value per unit ({size},) for population shape {shape}."
            )

    def step(self, state, inputs):
        y, c = egru_gates(inputs["input"], inputs["recurrent"], state["c"], self.threshold)
        return y, {"c": c}
