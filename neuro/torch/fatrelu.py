"""Forced-activation-threshold ReLU (FATReLU) as a trainable PyTorch module.

FATReLU (Kurtz et al., 2020, "Inducing and Exploiting Activation Sparsity for
Fast Neural Network Inference", ICML) replaces ``max(0, x)`` by

.. math::

    \\mathrm{FATReLU}_\\theta(x) = \\begin{cases} x & x \\ge \\theta \\\\
                                         0 & \\text{otherwise} \\end{cases}

with a threshold :math:`\\theta \\ge 0`.  Values below the threshold are forced
to zero, which raises activation sparsity; :math:`\\theta = 0` is the ordinary
ReLU.  The threshold is a scalar or one value per channel.

The threshold lives in an attribute named ``threshold`` (a buffer, or a
parameter when trainable), the same name sparseml's ``FATReLU`` uses, so a
single converter can read both.

Gradients
---------
* With respect to ``x``: straight-through where the unit is active,
  :math:`\\partial y / \\partial x = 1[x \\ge \\theta]`.
* With respect to ``threshold`` (only when ``trainable=True``): the exact
  derivative :math:`-x\\,\\delta(x - \\theta)` is a spike, so it is replaced
  by the surrogate :math:`-x \\max(0, 1 - |x - \\theta|)` (a unit-width
  triangle centred on the threshold, in the units of ``x``), summed over
  every axis the threshold is shared along.  Raising the threshold thus
  pays for the activations just above it that would be silenced.  Nothing
  keeps a trained threshold non-negative; clamp it after an optimiser step
  (``module.threshold.data.clamp_(min=0)``) if that matters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..exceptions import ParameterError, ShapeError

__all__ = ["FATReLU", "fatrelu"]


class _FATReLUFunction(torch.autograd.Function):
    """``x * 1[x >= theta]`` with a straight-through and a surrogate gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        active = x >= theta
        ctx.save_for_backward(x, theta, active)
        return torch.where(active, x, torch.zeros((), dtype=x.dtype, device=x.device))

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, theta, active = ctx.saved_tensors
        grad_x = grad_theta = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_out * active.to(grad_out.dtype)
        if ctx.needs_input_grad[1]:
            window = torch.clamp(1.0 - (x - theta).abs(), min=0.0)
            full = -grad_out * x * window
            grad_theta = _sum_to_shape(full, theta.shape)
        return grad_x, grad_theta


def _sum_to_shape(t: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum a broadcast gradient back to ``shape`` (the inverse of broadcasting)."""
    lead = t.dim() - len(shape)
    if lead > 0:
        t = t.sum(dim=tuple(range(lead)))
    dims = tuple(i for i, n in enumerate(shape) if n == 1 and t.shape[i] != 1)
    if dims:
        t = t.sum(dim=dims, keepdim=True)
    return t.reshape(shape)


def _check_threshold_values(values: torch.Tensor) -> None:
    """Raise :class:`ParameterError` unless every threshold is finite and >= 0."""
    flat = values.detach().reshape(-1).tolist()
    for i, v in enumerate(flat):
        if math.isnan(v) or v < 0 or math.isinf(v):
            where = "" if len(flat) == 1 else f" (channel {i})"
            raise ParameterError(
                f"FATReLU threshold{where} is {v!r}; it must be a finite number >= 0 "
                "(threshold 0 is the ordinary ReLU)."
            )


def fatrelu(x: torch.Tensor, threshold: torch.Tensor | float, channel_dim: int = 1) -> torch.Tensor:
    """Apply FATReLU functionally.

    Parameters
    ----------
    x : torch.Tensor
        Input of any shape, e.g. ``[N, C]`` or ``[N, C, H, W]``.
    threshold : torch.Tensor or float
        Scalar threshold, or a 1-D tensor of shape ``[C]`` with one threshold
        per channel, in the units of ``x``; every value must be ``>= 0``.
    channel_dim : int, optional
        Axis of ``x`` the per-channel thresholds run along (default 1;
        negative values count from the end).  Ignored for a scalar threshold.

    Returns
    -------
    torch.Tensor
        Same shape as ``x``: ``x`` where ``x >= threshold``, else 0.

    Raises
    ------
    ParameterError
        A threshold is negative, NaN or infinite.
    ShapeError
        The per-channel threshold does not match ``x.shape[channel_dim]``.
    """
    theta = torch.as_tensor(threshold, dtype=x.dtype, device=x.device)
    _check_threshold_values(theta)
    return _FATReLUFunction.apply(x, _broadcast_threshold(theta, x, channel_dim))


def _broadcast_threshold(theta: torch.Tensor, x: torch.Tensor, channel_dim: int) -> torch.Tensor:
    """Reshape a ``[C]`` threshold so that it broadcasts along ``channel_dim`` of ``x``."""
    if theta.dim() == 0:
        return theta
    if theta.dim() != 1:
        raise ShapeError(
            f"FATReLU threshold must be a scalar or have shape [C]; got shape {tuple(theta.shape)}."
        )
    nd = x.dim()
    axis = channel_dim if channel_dim >= 0 else nd + channel_dim
    if not 0 <= axis < nd:
        raise ShapeError(
            f"FATReLU channel_dim={channel_dim} is out of range for an input of shape "
            f"{tuple(x.shape)} (per-channel thresholds need the channel axis)."
        )
    if x.shape[axis] != theta.shape[0]:
        raise ShapeError(
            f"FATReLU has {theta.shape[0]} per-channel thresholds but the input has "
            f"{x.shape[axis]} channels along axis {channel_dim} (input shape {tuple(x.shape)})."
        )
    return theta.reshape((theta.shape[0],) + (1,) * (nd - axis - 1))


class FATReLU(nn.Module):
    """ReLU with a forced activation threshold, ``y = x if x >= threshold else 0``.

    Parameters
    ----------
    threshold : float or sequence of float or torch.Tensor, optional
        Threshold :math:`\\theta \\ge 0` in the units of the input (default
        0, i.e. ReLU).  A scalar, or one value per channel (shape ``[C]``).
    num_channels : int, optional
        Number of channels ``C``.  With a scalar ``threshold`` it creates
        ``C`` per-channel thresholds all starting at that value; with a
        per-channel ``threshold`` it must equal its length.
    channel_dim : int, optional
        Input axis the per-channel thresholds run along (default 1, the
        ``C`` of ``[N, C]`` and ``[N, C, H, W]``; negative counts from the
        end).
    trainable : bool, optional
        If True, ``threshold`` is an :class:`torch.nn.Parameter` learned with
        the surrogate gradient described in the module docstring; otherwise
        it is a buffer (saved in the state dict, never trained).

    Attributes
    ----------
    threshold : torch.Tensor
        Shape ``[]`` (scalar) or ``[C]``.

    Raises
    ------
    ParameterError
        A threshold is negative, NaN or infinite, or ``num_channels`` does
        not fit the thresholds given.
    """

    def __init__(
        self,
        threshold: float | Sequence[float] | torch.Tensor = 0.0,
        num_channels: int | None = None,
        channel_dim: int = 1,
        trainable: bool = False,
    ) -> None:
        super().__init__()
        theta = torch.as_tensor(threshold, dtype=torch.get_default_dtype()).detach().clone()
        if theta.dim() > 1:
            raise ParameterError(
                "FATReLU threshold must be a scalar or a 1-D sequence with one value per "
                f"channel; got shape {tuple(theta.shape)}."
            )
        _check_threshold_values(theta)
        if num_channels is not None:
            if isinstance(num_channels, bool) or not isinstance(num_channels, int):
                raise ParameterError(
                    f"FATReLU num_channels must be a positive int; got {num_channels!r}."
                )
            if num_channels < 1:
                raise ParameterError(f"FATReLU num_channels must be >= 1; got {num_channels}.")
            if theta.dim() == 0:
                theta = theta.expand(num_channels).clone()
            elif theta.shape[0] != num_channels:
                raise ParameterError(
                    f"FATReLU got {theta.shape[0]} per-channel thresholds but "
                    f"num_channels={num_channels}."
                )
        if not isinstance(channel_dim, int) or isinstance(channel_dim, bool):
            raise ParameterError(f"FATReLU channel_dim must be an int; got {channel_dim!r}.")
        self.channel_dim = channel_dim
        self.trainable = bool(trainable)
        if self.trainable:
            self.threshold = nn.Parameter(theta)
        else:
            self.register_buffer("threshold", theta)

    @property
    def num_channels(self) -> int | None:
        """Number of per-channel thresholds, or None for a scalar threshold."""
        return None if self.threshold.dim() == 0 else int(self.threshold.shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the thresholded ReLU.

        Parameters
        ----------
        x : torch.Tensor
            Input, e.g. ``[N, C]`` or ``[N, C, H, W]``; with per-channel
            thresholds ``x.shape[channel_dim]`` must equal ``C``.

        Returns
        -------
        torch.Tensor
            Same shape and dtype as ``x``.

        Raises
        ------
        ShapeError
            The channel count of ``x`` does not match the thresholds.
        """
        theta = self.threshold.to(dtype=x.dtype)
        return _FATReLUFunction.apply(x, _broadcast_threshold(theta, x, self.channel_dim))

    def extra_repr(self) -> str:
        if self.threshold.dim() == 0:
            thr = f"threshold={float(self.threshold):g}"
        else:
            thr = f"num_channels={self.num_channels}, channel_dim={self.channel_dim}"
        return f"{thr}, trainable={self.trainable}"
