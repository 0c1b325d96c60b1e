"""Max pooling as an event operation (1-d and 2-d; stride, padding, dilation, ceil_mode).

A ``MaxPool`` population of shape (C, *out) holds one unit per pooling window.  Its
``input`` port has K slots per unit (K = the window's taps): slot ``(o, k)`` receives
the input unit at tap k of window o through a routing projection (weight 1, built by
:func:`routing`), so an input event reaches every window containing it.  At each step
a unit sends the maximum over its window's taps (taps on padding or beyond the input
are left out, as PyTorch pads with −∞); a window whose taps received nothing holds
zeros, the value of silent units, so its maximum is 0 and it sends nothing when all
its inputs are <= 0.

Counts: a delivered event is one *comparison* per window it enters (not a synaptic
operation): projections into a pooling population count in the population's
``comparisons`` (see :mod:`neuro.audit.counts`), never in synops or MACs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..exceptions import ParameterError, ShapeError
from ..ir.conv_geometry import output_size, window_inputs
from .base import MODELS, NeuronModel, Port

__all__ = ["MaxPool", "pool_output_size", "routing"]


def pool_output_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """Output length of a max pool along one axis (PyTorch's rule)."""
    return output_size(n, k, s, p, d, ceil_mode)


def _tuple(v, n: int, what: str) -> tuple:
    v = (v,) * n if np.isscalar(v) else tuple(np.asarray(v).ravel().tolist())
    if len(v) != n:
        raise ParameterError(f"maxpool {what} == {v!r}, must have {n} value(s).")
    return tuple(int(a) for a in v)


@MODELS.register("maxpool")
@dataclass(frozen=True)
class MaxPool(NeuronModel):
    """Units that send the maximum of their pooling window.

    Parameters
    ----------
    in_shape : tuple of int
        (C, L) or (C, H, W): the pooled population's shape (channels first).
    kernel, stride, padding, dilation : tuple of int
        One value per spatial axis.
    ceil_mode : bool
        PyTorch's ``ceil_mode`` (a partial last window when the input does not divide).

    Notes
    -----
    Population shape: (C, *out) (see :meth:`out_shape`), or a view of the same units
    (``(C,)`` for a global pool); ``input`` port width
    ``size * K`` with K = prod(kernel).
    """

    type: ClassVar[str] = "maxpool"
    #: projections into this model route events (comparisons, not synaptic operations)
    routes: ClassVar[bool] = True
    in_shape: tuple
    kernel: tuple
    stride: tuple
    padding: tuple = (0,)
    dilation: tuple = (1,)
    ceil_mode: bool = False

    def __post_init__(self):
        in_shape = tuple(int(s) for s in np.asarray(self.in_shape).ravel())
        n = len(in_shape) - 1
        if n not in (1, 2):
            raise ShapeError(
                f"maxpool in_shape {in_shape}: only (C, L) and (C, H, W) inputs are pooled."
            )
        object.__setattr__(self, "in_shape", in_shape)
        object.__setattr__(self, "kernel", _tuple(self.kernel, n, "kernel"))
        object.__setattr__(self, "stride", _tuple(self.stride, n, "stride"))
        pad = self.padding if len(np.atleast_1d(self.padding)) == n else self.padding[0]
        dil = self.dilation if len(np.atleast_1d(self.dilation)) == n else self.dilation[0]
        object.__setattr__(self, "padding", _tuple(pad, n, "padding"))
        object.__setattr__(self, "dilation", _tuple(dil, n, "dilation"))
        object.__setattr__(self, "ceil_mode", bool(self.ceil_mode))

    @property
    def taps(self) -> int:
        """K: input slots per window."""
        return math.prod(self.kernel)

    def out_shape(self) -> tuple:
        """(C, *out): one unit per window."""
        sizes = [
            pool_output_size(n, k, s, p, d, self.ceil_mode)
            for n, k, s, p, d in zip(
                self.in_shape[1:], self.kernel, self.stride, self.padding, self.dilation
            )
        ]
        return (self.in_shape[0], *sizes)

    def windows(self) -> np.ndarray:
        """Input unit of every tap of every window, −1 for taps outside the input.

        Returns
        -------
        ndarray of int64, shape (size, K)
            Row ``o`` lists window o's taps in row-major kernel order.
        """
        c = self.in_shape[0]
        spatial_in = self.in_shape[1:]
        out = self.out_shape()[1:]
        axes = []
        for n, o, k, s, p, d in zip(
            spatial_in, out, self.kernel, self.stride, self.padding, self.dilation
        ):
            axes.append(window_inputs(n, k, s, p, o, d))  # (o, k)
        if len(axes) == 1:
            idx = axes[0]  # (L_out, K)
        else:
            (ph, pw), w = axes, spatial_in[1]
            rows = ph[:, None, :, None]  # (Ho, 1, kh, 1)
            cols = pw[None, :, None, :]  # (1, Wo, 1, kw)
            flat = rows * w + cols
            idx = np.where((rows >= 0) & (cols >= 0), flat, -1)
            idx = idx.reshape(out[0] * out[1], -1)
        per_channel = math.prod(spatial_in)
        offsets = (np.arange(c) * per_channel)[:, None, None]
        full = np.where(idx[None] >= 0, idx[None] + offsets, -1)
        return full.reshape(-1, idx.shape[1]).astype(np.int64)

    def port_specs(self):
        return (
            Port(
                "input",
                "routed inputs, K = prod(kernel) window taps per unit in row-major kernel order",
                per_unit=self.taps,
                layout="slots",
            ),
        )

    def validate(self, where, shape):
        if math.prod(shape) != math.prod(self.out_shape()):
            raise ShapeError(
                f"population {where!r}: maxpool of {self.in_shape} with kernel {self.kernel}, "
                f"stride {self.stride}, padding {self.padding} has shape {self.out_shape()}, "
                f"not {tuple(shape)} (the population may be a view of the same units)."
            )
        if min(self.kernel + self.stride + self.dilation) < 1 or min(self.padding) < 0:
            raise ParameterError(
                f"population {where!r}: maxpool kernel {self.kernel}, stride {self.stride}, "
                f"dilation {self.dilation} must be >= 1 and padding {self.padding} >= 0."
            )
        if any(2 * p > k for p, k in zip(self.padding, self.kernel)):
            raise ParameterError(
                f"population {where!r}: maxpool padding {self.padding} must be at most half "
                f"the kernel {self.kernel} (PyTorch's rule)."
            )

    def valid_taps(self) -> np.ndarray:
        """Boolean (size, K): taps inside the input."""
        return self.windows() >= 0

    def step(self, state, inputs):
        x = inputs["input"]
        b = x.shape[0]
        valid = self.valid_taps()
        taps = x.reshape(b, valid.shape[0], valid.shape[1])
        out = np.where(valid[None], taps, -np.inf).max(axis=2)
        return np.where(np.isfinite(out), out, 0.0), state


def routing(model: MaxPool):
    """The projection routing every input unit to the slots of the windows holding it.

    Returns
    -------
    neuro.ir.weights.Sparse
        ``prod(in_shape)`` → ``size * K``, weight 1 per (unit, window tap).
    """
    from ..ir.weights import Sparse

    win = model.windows().ravel()
    slots = np.flatnonzero(win >= 0)
    units = win[slots]
    order = np.argsort(units, kind="stable")
    n_in = math.prod(model.in_shape)
    indptr = np.zeros(n_in + 1, dtype=np.int64)
    np.add.at(indptr, units + 1, 1)
    return Sparse(np.cumsum(indptr), slots[order], np.ones(slots.size), win.size)
