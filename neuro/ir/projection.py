"""Projections: weighted, possibly delayed connections into a population's port."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_float_param, as_int_param, check_finite
from ..exceptions import ParameterError, ValidationError
from ..limits import MAX_DELAY
from .weights import WeightOperator

__all__ = ["Projection", "ROLES"]

ROLES = ("synaptic", "pool", "shortcut")
"""Kinds of projection: synaptic (counted as synops) or pooling (counted apart)."""


@dataclass(eq=False)
class Projection:
    """Connection ``pre`` → (``post``, ``port``) through a weight operator.

    Parameters
    ----------
    name : str
    pre, post : str
        Population names.
    weights : WeightOperator
        Maps the ``pre`` population's units onto the port's entries.
    port : str
        Target port of ``post`` (``"input"`` for single-port models).
    delay : int
        Steps between an event and its arrival; 0 within the same step.
        Zero-delay projections must form a DAG; recurrence needs delay >= 1.
    bias : ndarray or None
        Added to the port every step, whether or not events arrive; shape
        (port width,) or, for convolutions, (C_out,).
    role : {"synaptic", "pool", "shortcut"}
        ``"pool"`` marks a non-synaptic projection (average pooling as a depthwise
        operator, max-pool routing): its events count as ``pool_ops`` or comparisons,
        not synops or MACs.  ``"shortcut"`` marks an identity that stands for an
        element-wise add (a residual connection), not a layer: its dense cost is one
        operation per unit, not a dense layer's ``n_in * n_out`` (see
        :mod:`neuro.audit.counts`).
    """

    name: str
    pre: str
    post: str
    weights: WeightOperator
    port: str = "input"
    delay: int = 0
    bias: np.ndarray | None = None
    role: str = "synaptic"

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or "/" in self.name:
            raise ValidationError(
                f"projection name {self.name!r} is invalid; it must be a non-empty string "
                "without '/'."
            )
        if not isinstance(self.weights, WeightOperator):
            raise ValidationError(
                f"projection {self.name!r}: weights is a {type(self.weights).__name__}, must be "
                "a neuro.ir.weights operator (Dense, Sparse, Conv2d, ...)."
            )
        for end in ("pre", "post", "port"):
            if not isinstance(getattr(self, end), str):
                raise ValidationError(
                    f"projection {self.name!r}: {end} == {getattr(self, end)!r}, must be a "
                    "population " + ("port name (str)." if end == "port" else "name (str).")
                )
        self.delay = self._checked_delay()
        if self.role not in ROLES:
            raise ValidationError(
                f"projection {self.name!r}: role == {self.role!r}, must be one of {ROLES}."
            )
        if self.bias is not None:
            self.bias = as_float_param(self.bias, f"projection {self.name!r}: bias")

    def _checked_delay(self) -> int:
        try:
            delay = as_int_param(self.delay, "delay", 0)
        except ParameterError:
            raise ParameterError(
                f"projection {self.name!r}: delay == {self.delay!r}, must be an int >= 0."
            ) from None
        if delay > MAX_DELAY:
            raise ParameterError(
                f"projection {self.name!r}: delay == {delay}, must be <= {MAX_DELAY} steps "
                "(neuro.limits.MAX_DELAY): every step of delay holds a buffer of the "
                f"events of population {self.pre!r} for every sample."
            )
        return delay

    def port_bias(self) -> np.ndarray | None:
        """Bias expanded to one value per port entry, or None."""
        return None if self.bias is None else self.weights.expand_bias(self.bias)

    def validate(self) -> None:
        """Check weights and bias values (shapes are checked by the network)."""
        self.delay = self._checked_delay()  # also when set after construction
        self.weights.validate(f"projection {self.name!r}")
        if self.bias is not None:
            check_finite(self.bias, f"projection {self.name!r}: bias")
