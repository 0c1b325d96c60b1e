"""SAS 1:M structured activation sparsification (Sekikawa & Yashima, ICLR 2024).

SAS projects every activation into M slots of which exactly one may be non-zero, so the
population's output is M times wider than its input and the next layer's weights are M
times wider too, while each input still costs one fan-out (the same synaptic operations
as the narrow dense layer; Sekikawa & Yashima 2024, Sec. 1).

Rule (M = 2, as in the authors' reference code ``DensoITLab/sas_``): a positive input x
goes to slot 0 with value x; any other input goes to slot 1 with value |x| (an input of
exactly 0 sends nothing).

General M = 2**g (our generalisation; the reference code implements M = 2 only): the
input channels are split into groups of g consecutive channels (at each spatial
position).  The sign pattern of a group picks one slot for all its members,

    slot = sum_j [x_j <= 0] * 2**j,     j = 0 .. g-1 over the group's members,

and each member sends |x| into that slot.  For g = 1 this is the M = 2 rule.  M = 1 is
the identity.

Layout: an input of shape (C, *rest) gives an output of shape (C * M, *rest) whose
channel ``c * M + slot`` holds the projection of channel c (the slot axis is innermost
in the channel axis, as in the reference code).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._validate import as_int_param
from ..exceptions import ParameterError, ShapeError
from .base import MODELS, NeuronModel, Port

__all__ = ["SAS", "sas_project", "sas_group_size"]


def sas_group_size(m: int) -> int:
    """g = log2(M): channels whose signs choose the slot (0 for M = 1)."""
    return int(m).bit_length() - 1


def sas_project(x: np.ndarray, m: int, channels: int) -> np.ndarray:
    """The SAS 1:M projection of a batch.

    Parameters
    ----------
    x : ndarray, shape (B, channels * positions)
        Inputs laid out channels first.
    m : int
        Slots per input, a power of two.
    channels : int
        Input channels C.

    Returns
    -------
    ndarray, shape (B, channels * m * positions)
    """
    x = np.asarray(x, dtype=np.float64)
    if m == 1:
        return x.copy()
    b = x.shape[0]
    g = sas_group_size(m)
    xr = x.reshape(b, channels // g, g, -1)  # (B, groups, g, positions)
    bits = (xr <= 0).astype(np.int64) << np.arange(g).reshape(1, 1, g, 1)
    slot = bits.sum(axis=2)  # (B, groups, positions)
    out = np.zeros((b, channels // g, g, m, xr.shape[3]))
    onehot = slot[:, :, None, None, :] == np.arange(m).reshape(1, 1, 1, m, 1)
    out[:] = np.where(onehot, np.abs(xr)[:, :, :, None, :], 0.0)
    return out.reshape(b, -1)


@MODELS.register("sas")
@dataclass(frozen=True)
class SAS(NeuronModel):
    """SAS 1:M projection: each input sends |x| into one of M slots chosen by signs.

    Parameters
    ----------
    m : int
        Slots per input, a power of two (M = 2: positive part to slot 0, |negative part|
        to slot 1).
    channels : int or None
        Input channels C of a (C, H, W) input; None for a flat input (C = input width,
        one position).

    Notes
    -----
    The population's shape is the *output* shape (C * M, *rest); its input port is
    ``size // M`` wide.  C must be a multiple of log2(M).
    """

    type: ClassVar[str] = "sas"
    m: int = 2
    channels: int | None = None

    def __post_init__(self):
        m = self.m
        try:
            m = as_int_param(m, "sas m", 1)
        except ParameterError:
            m = 0
        if m < 1 or m & (m - 1):
            raise ParameterError(f"sas m == {self.m!r}, must be a power of two >= 1.")
        object.__setattr__(self, "m", m)
        if self.channels is not None:
            object.__setattr__(self, "channels", as_int_param(self.channels, "sas channels", 1))

    def port_specs(self):
        return (
            Port(
                "input",
                "the C * positions inputs x (channels first), M times narrower than the output",
                divisor=self.m,
                layout="custom",
            ),
        )

    def port_entries(self, port, size):
        """Input (c, p) belongs to the unit of its slot 0, ``c * M * P + p``
        (P = positions); its part is its position in the slot-choosing group."""
        self.port_spec(port)
        width = size // self.m
        channels = self.in_channels(width)
        positions = width // channels
        j = np.arange(width, dtype=np.int64)
        c, p = np.divmod(j, positions)
        g = max(1, sas_group_size(self.m))
        return c * self.m * positions + p, c % g

    def in_channels(self, in_width: int) -> int:
        """Input channels C for an input port of ``in_width`` entries."""
        return in_width if self.channels is None else self.channels

    def validate(self, where, shape):
        g = max(1, sas_group_size(self.m))
        c = shape[0] // self.m
        what = f"population {where!r}: sas m == {self.m}"
        if shape[0] % self.m or c % g:
            raise ShapeError(
                f"{what} needs an output shape (C * {self.m}, ...) with C a multiple of "
                f"log2(m) == {g}; got shape {shape}."
            )
        expected = c if len(shape) > 1 else shape[0] // self.m
        if self.channels is None and len(shape) > 1:
            raise ParameterError(
                f"{what}: shape {shape} has {len(shape) - 1} spatial axes, so channels must be "
                f"given (C == {c})."
            )
        if self.channels is not None and self.channels != expected:
            raise ParameterError(
                f"{what}: channels == {self.channels}, the shape {shape} has C == {expected} "
                f"input channels (first axis / m)."
            )

    def step(self, state, inputs):
        x = inputs["input"]
        return sas_project(x, self.m, self.in_channels(x.shape[1])), state
