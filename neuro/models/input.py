"""Input populations: dense values, or integer tokens (one event each)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._validate import check_finite
from ..exceptions import InputError
from .base import MODELS, InputModel

__all__ = ["Input", "TokenInput"]


@MODELS.register("input")
@dataclass(frozen=True)
class Input(InputModel):
    """Dense input: a sample is an array of the population's shape.

    Encoding: every non-zero value is one graded event (a dense input vector of
    N non-zero values is N events).
    """

    type: ClassVar[str] = "input"

    def check(self, x, where, shape):
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise InputError(f"input {where!r} has dtype {x.dtype}, must be numeric.")
        try:
            check_finite(x, f"input {where!r}")
        except ValueError as exc:
            raise InputError(str(exc)) from None
        return x

    def encode(self, x, size):
        return np.asarray(x, dtype=np.float64).reshape(x.shape[0], size)


@MODELS.register("token")
@dataclass(frozen=True)
class TokenInput(InputModel):
    """Token input for a vocabulary of ``size`` units (population shape ``(V,)``).

    A sample at one step is one integer id in ``[0, V)``; it is encoded as one
    event of value 1.0 at that unit ("one-hot" encoding), so an embedding is a
    dense projection from this population and costs one fan-out row per token.
    """

    type: ClassVar[str] = "token"
    lookup: ClassVar[bool] = True

    def sample_shape(self, shape):
        return ()

    def check(self, x, where, shape):
        x = np.asarray(x)
        if x.dtype.kind not in "iu":
            raise InputError(f"token input {where!r} has dtype {x.dtype}, must be integer ids.")
        if x.size and (x.min() < 0 or x.max() >= shape[0]):
            bad = x.min() if x.min() < 0 else x.max()
            raise InputError(
                f"token input {where!r} holds id {bad}, must lie in [0, {shape[0]}) "
                "(the vocabulary size)."
            )
        return x

    def encode(self, x, size):
        x = np.asarray(x).reshape(-1)
        out = np.zeros((x.size, size))
        out[np.arange(x.size), x] = 1.0
        return out
