"""FATReLU: forced-activation-threshold ReLU (Kurtz et al., ICML 2020).

out = x if x >= θ else 0 (``strict=False``, the default) or x if x > θ else 0
(``strict=True``: ``nn.Threshold``, ``F.threshold`` and sparseml's FATReLU zero the
ties ``x == θ``), with θ >= 0 per layer (scalar) or per channel (one value per entry of
the population's first axis).  θ = 0 is a ReLU.  An optional upper ``clip`` c > 0 sends
min(out, c) instead: ``ReLU6`` is θ = 0, c = 6; ``Hardtanh(0, c)`` the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .._validate import as_float_param, check_nonnegative
from ..exceptions import ParameterError, ShapeError
from .base import MODELS, NeuronModel

__all__ = ["FATReLU", "unit_values", "event_threshold"]


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


def event_threshold(model, shape: tuple[int, ...], dtype) -> np.ndarray:
    """Per-unit threshold θ' in ``dtype`` such that ``x >= θ'`` is the model's rule.

    For a strict model (``x > θ``) θ' is the next value of ``dtype`` above θ, so kernels
    that compare with ``>=`` implement both rules exactly in that dtype.

    Parameters
    ----------
    model : FATReLU
    shape : tuple of int
        Population shape.
    dtype : numpy dtype

    Returns
    -------
    ndarray of ``dtype``, shape (prod(shape),)
    """
    dtype = np.dtype(dtype)
    theta = unit_values(model.threshold, shape).astype(dtype)
    if getattr(model, "strict", False):
        theta = np.nextafter(theta, np.asarray(np.inf, dtype=dtype))
    return theta


@MODELS.register("fatrelu")
@dataclass(frozen=True)
class FATReLU(NeuronModel):
    """Thresholded ReLU neurons; an event for every non-zero output.

    Parameters
    ----------
    threshold : float or ndarray of shape (C,)
        θ >= 0, per layer or per channel (first axis of the population shape).
    strict : bool
        False (default): an event where x >= θ; True: where x > θ.
    clip : float or ndarray of shape (C,) or None
        Upper clip c > θ of the value sent (``min(x, c)``), per layer or per channel;
        None (default): no clip.
    """

    type: ClassVar[str] = "fatrelu"
    threshold: np.ndarray = field(default_factory=lambda: np.float64(0.0))
    strict: bool = False
    clip: np.ndarray | None = None

    def __post_init__(self):
        object.__setattr__(self, "threshold", as_float_param(self.threshold, "fatrelu threshold"))
        object.__setattr__(self, "strict", bool(self.strict))
        if self.clip is not None:
            object.__setattr__(self, "clip", np.asarray(self.clip, dtype=np.float64))

    def to_dict(self) -> dict:
        data = {"threshold": self.threshold}
        if self.strict:  # defaults are left out: files stay readable by older versions
            data["strict"] = True
        if self.clip is not None:
            data["clip"] = self.clip
        return data

    def validate(self, where, shape):
        check_nonnegative(self.threshold, f"population {where!r}: fatrelu threshold")
        th = self.threshold
        if th.ndim > 1 or (th.ndim == 1 and th.size != shape[0]):
            raise ShapeError(
                f"population {where!r}: fatrelu threshold has shape {th.shape}, must be a "
                f"scalar or one value per channel ({shape[0]},) for population shape {shape}."
            )
        if self.clip is not None:
            c = self.clip
            check_nonnegative(c, f"population {where!r}: fatrelu clip")
            if c.ndim > 1 or (c.ndim == 1 and c.size != shape[0]):
                raise ShapeError(
                    f"population {where!r}: fatrelu clip has shape {c.shape}, must be a "
                    f"scalar or one value per channel ({shape[0]},) for population shape {shape}."
                )
            if np.any(unit_values(c, shape) <= unit_values(th, shape)):
                raise ParameterError(
                    f"population {where!r}: fatrelu clip == {c!r} with threshold {th!r}; the "
                    "clip must be greater than the threshold."
                )

    def step(self, state, inputs):
        x = inputs["input"]
        theta = np.repeat(self.threshold.ravel(), x.shape[1] // self.threshold.size)
        out = np.where(x > theta if self.strict else x >= theta, x, 0.0)
        if self.clip is not None:
            out = np.minimum(out, np.repeat(self.clip.ravel(), x.shape[1] // self.clip.size))
        return out, state
