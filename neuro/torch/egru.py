"""Event-based gated recurrent unit (EGRU) as a trainable PyTorch module.

The EGRU (Subramoney et al., 2023, "Efficient recurrent architectures through
activity sparsity and sparse back-propagation through time", ICLR) is a GRU
whose units communicate only when their internal state crosses a threshold.
This module is a plain-PyTorch reference of the layer in EvNN v0.2.0.

Equations
---------
Gate blocks in ``kernel`` ``[I, 3H]``, ``recurrent_kernel`` ``[H, 3H]``, ``bias``
``[3H]`` and ``recurrent_bias`` ``[3H]`` are ordered ``z | r | g``.  Per step,
with input :math:`x_t` ``[B, I]``, previous output :math:`y_{t-1}` and
previous internal state :math:`c_{t-1}` (both ``[B, H]``)::

    a     = x_t W + b_x                 q = y_{t-1} R + b_r
    z     = sigmoid(a_z + q_z)          r = sigmoid(a_r + q_r)
    g     = tanh(a_g + r * q_g)
    c_hat = z * c_{t-1} + (1 - z) * g
    e     = 1 if c_hat > thr else 0     (strict: c_hat == thr is no event)
    y_t   = e * c_hat                   (the event carries the value c_hat)
    c_t   = c_hat - e * thr             (subtractive reset)

The recurrent weights and the next layer see :math:`y`, never :math:`c`.

Training: the step :math:`e = H(\\hat c - \\vartheta)` gets the pseudo-derivative
``dampening_factor * max(0, 1 - pseudo_derivative_support * |c_hat - thr|)``;
all other gradients (including the direct ``-e`` term of ``c_t`` with respect
to ``thr``) are exact.  DropConnect drops entries of ``recurrent_kernel`` in
training only.

What EvNN v0.2.0 does (read in ``Efficient-Scalable-Machine-Learning/EvNN``:
``frameworks/pytorch/egru.py``, ``lib/egru_forward_cpu.cc``,
``lib/egru_backward_cpu.cc``, ``lib/inline_ops.h``, ``setup.py`` version 0.2.0)
--------------------------------------------------------------------------
* ``thr`` enters the equations raw (no sigmoid, no abs).  EvNN does, however,
  clamp the *parameter data* in place to ``[0, 1]`` at the start of every
  forward call.  This module keeps ``forward`` free of side effects instead:
  call :meth:`EGRU.clamp_thresholds_` after each optimiser step to reproduce
  that projection; :meth:`EGRU.load_evnn_state_dict` clamps on load.
* EvNN's Heaviside returns 0 at exactly 0, so the comparison is strict, and
  its pseudo-derivative is the damped triangle above, applied to
  ``c_hat - thr``; the hand-written backward pass equals autograd through
  ``y = e * c_hat`` and ``c = c_hat - e * thr``.
* DropConnect is ``F.dropout`` on the whole ``recurrent_kernel``: an
  element-wise Bernoulli mask with inverted scaling ``1 / (1 - p)``, drawn
  once per forward call (shared by all time steps) and absent in eval mode.
  Biases are not dropped.
* Initialisation: ``xavier_normal_`` (with a gain, default 1) on ``kernel`` and
  ``recurrent_kernel`` (PyTorch's fan convention on the ``[in, 3H]`` layout),
  zeros for both biases, and ``thr`` drawn per unit from
  ``Beta(3 m / (1 - m), 3)`` whose mean is ``m = thr_init_mean`` (EvNN's layer
  default is 0.3; its PTB script passes 0.2).
* Initial state: EvNN's ``state`` argument is ``y_0`` only; its internal
  state restarts at ``c_0 = 0`` on every call.  Here the state is the pair
  ``(y_0, c_0)``; passing ``c_0=None`` (or a bare tensor as ``y_0``)
  reproduces EvNN.
* Not reproduced: zoneout, gradient-norm clipping inside the backward pass,
  and the smoothed "trace" output (``0.9 * trace + 0.1 * y``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..exceptions import ConversionError, ParameterError, ShapeError

__all__ = [
    "EGRU",
    "EGRUActivity",
    "EGRUStepResult",
    "egru_step",
    "spike",
    "EVNN_LAYER_KEYS",
]

#: Parameter names of one EGRU layer, shared with EvNN's checkpoints.
EVNN_LAYER_KEYS = ("kernel", "recurrent_kernel", "bias", "recurrent_bias", "thr")

# EvNN stores these as (frozen) parameters; they are plain floats here.
_EVNN_LAYER_EXTRAS = ("dampening_factor", "pseudo_derivative_support", "_max_norm")


class _SpikeFunction(torch.autograd.Function):
    """Heaviside step ``1[u > 0]`` with a damped triangular pseudo-derivative."""

    @staticmethod
    def forward(ctx, u: torch.Tensor, dampening_factor: float, support: float) -> torch.Tensor:
        ctx.save_for_backward(u)
        ctx.dampening_factor = dampening_factor
        ctx.support = support
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        (u,) = ctx.saved_tensors
        pseudo = ctx.dampening_factor * torch.clamp(1.0 - ctx.support * u.abs(), min=0.0)
        return grad_out * pseudo, None, None


def spike(
    u: torch.Tensor, dampening_factor: float = 0.7, pseudo_derivative_support: float = 1.0
) -> torch.Tensor:
    """Strict Heaviside step with a pseudo-derivative for training.

    Parameters
    ----------
    u : torch.Tensor
        Distance to threshold, ``c_hat - thr``, any shape.
    dampening_factor : float, optional
        Height of the pseudo-derivative at ``u = 0`` (default 0.7).
    pseudo_derivative_support : float, optional
        Inverse half-width ``s`` of the triangle: the pseudo-derivative is
        zero for ``|u| >= 1 / s`` (default 1.0).

    Returns
    -------
    torch.Tensor
        Same shape and dtype as ``u``; 1 where ``u > 0``, else 0.  Its
        gradient is ``dampening_factor * max(0, 1 - s * |u|)``.
    """
    return _SpikeFunction.apply(u, float(dampening_factor), float(pseudo_derivative_support))


class EGRUStepResult(NamedTuple):
    """Outputs of one EGRU time step; every field is ``[B, H]``.

    Attributes
    ----------
    y : torch.Tensor
        Output ``e * c_hat`` (zero where there is no event).
    c : torch.Tensor
        Internal state after the reset, ``c_hat - e * thr``.
    c_hat : torch.Tensor
        Internal state before the threshold test.
    events : torch.Tensor
        Event indicator ``1[c_hat > thr]`` (differentiable via the
        pseudo-derivative).
    """

    y: torch.Tensor
    c: torch.Tensor
    c_hat: torch.Tensor
    events: torch.Tensor


class EGRUActivity(NamedTuple):
    """Per-step activity of an EGRU run, for regularisers and monitoring.

    Every field is ``[T, B, H]`` (``[B, T, H]`` when the layer is
    ``batch_first``).

    Attributes
    ----------
    c_hat : torch.Tensor
        Internal state before the threshold test.
    events : torch.Tensor
        Event indicators ``1[c_hat > thr]`` with the pseudo-derivative.
    c : torch.Tensor
        Internal state after the reset (EvNN's ``h`` output).
    """

    c_hat: torch.Tensor
    events: torch.Tensor
    c: torch.Tensor


def _egru_cell(
    a: torch.Tensor,
    y_prev: torch.Tensor,
    c_prev: torch.Tensor,
    recurrent_kernel: torch.Tensor,
    recurrent_bias: torch.Tensor,
    thr: torch.Tensor,
    dampening_factor: float,
    pseudo_derivative_support: float,
) -> EGRUStepResult:
    """One step given the precomputed input drive ``a = x W + b_x`` (``[B, 3H]``)."""
    q = y_prev @ recurrent_kernel + recurrent_bias
    a_z, a_r, a_g = a.chunk(3, dim=-1)
    q_z, q_r, q_g = q.chunk(3, dim=-1)
    z = torch.sigmoid(a_z + q_z)
    r = torch.sigmoid(a_r + q_r)
    g = torch.tanh(a_g + r * q_g)
    c_hat = z * c_prev + (1.0 - z) * g
    events = spike(c_hat - thr, dampening_factor, pseudo_derivative_support)
    y = events * c_hat
    c = c_hat - events * thr
    return EGRUStepResult(y=y, c=c, c_hat=c_hat, events=events)


class _EGRUSequenceFunction(torch.autograd.Function):
    """Whole-sequence EGRU with a hand-written backward pass (the training fast path).

    Inputs: ``drive`` ``[T, B, 3H]`` (``x W + b_x``), ``y0`` and ``c0`` ``[B, H]``,
    ``recurrent_kernel`` ``[H, 3H]`` (after DropConnect), ``recurrent_bias``
    ``[3H]``, ``thr`` ``[H]`` and the two pseudo-derivative floats.  Outputs
    ``y``, ``c``, ``c_hat`` and ``events``, each ``[T, B, H]``.

    The forward pass performs the same floating-point operations as
    :func:`_egru_cell` (so events and outputs are bit-identical); the backward
    pass is its chain rule written out -- the same damped-triangle
    pseudo-derivative of the strict step and the same exact ``-e`` / ``-thr``
    terms -- with no autograd graph per step, and the recurrent-weight and bias
    gradients accumulated as one matrix product over all steps.
    """

    @staticmethod
    def forward(ctx, drive, y0, c0, recurrent_kernel, recurrent_bias, thr, damp, support):
        steps, batch, h3 = drive.shape
        hidden = h3 // 3
        ys = drive.new_empty(steps, batch, hidden)
        cs, c_hats, zs, rs, gs, qgs = (torch.empty_like(ys) for _ in range(6))
        y, c = y0, c0
        for t in range(steps):
            q = y @ recurrent_kernel + recurrent_bias
            a_z, a_r, a_g = drive[t].chunk(3, dim=-1)
            q_z, q_r, q_g = q.chunk(3, dim=-1)
            z = torch.sigmoid(a_z + q_z)
            r = torch.sigmoid(a_r + q_r)
            g = torch.tanh(a_g + r * q_g)
            c_hat = torch.add(z * c, (1.0 - z) * g, out=c_hats[t])
            e = (c_hat - thr > 0).to(drive.dtype)
            y = torch.mul(e, c_hat, out=ys[t])
            c = torch.sub(c_hat, e * thr, out=cs[t])
            zs[t], rs[t], gs[t], qgs[t] = z, r, g, q_g
        events = (c_hats - thr > 0).to(drive.dtype)
        ctx.save_for_backward(y0, c0, recurrent_kernel, thr, ys, cs, c_hats, zs, rs, gs, qgs)
        ctx.damp, ctx.support = damp, support
        return ys, cs, c_hats, events

    @staticmethod
    def backward(ctx, d_ys, d_cs, d_chats, d_events):
        y0, c0, kernel_r, thr, ys, cs, c_hats, zs, rs, gs, qgs = ctx.saved_tensors
        steps, batch, hidden = ys.shape
        damp, support = ctx.damp, ctx.support
        d_drive = ys.new_empty(steps, batch, 3 * hidden)
        d_q = torch.empty_like(d_drive)
        kernel_rt = kernel_r.t()
        dy = ys.new_zeros(batch, hidden)
        dc = ys.new_zeros(batch, hidden)
        d_thr = ys.new_zeros(batch, hidden)
        for t in range(steps - 1, -1, -1):
            dy = dy + d_ys[t]
            dc = dc + d_cs[t]
            c_hat, z, r, g = c_hats[t], zs[t], rs[t], gs[t]
            u = c_hat - thr
            e = (u > 0).to(ys.dtype)
            # y = e * c_hat, c = c_hat - e * thr, e = H(u) with the pseudo-derivative
            du = (dy * c_hat - dc * thr + d_events[t]) * (
                damp * torch.clamp(1.0 - support * u.abs(), min=0.0)
            )
            d_chat = dy * e + dc + du + d_chats[t]
            d_thr -= dc * e + du
            c_prev = cs[t - 1] if t > 0 else c0
            dc = d_chat * z
            d_pre_g = (d_chat - dc) * (1.0 - g * g)
            d_pre_z = d_chat * (c_prev - g) * z * (1.0 - z)
            d_pre_r = d_pre_g * qgs[t] * r * (1.0 - r)
            da, dq = d_drive[t], d_q[t]
            da[:, :hidden] = d_pre_z
            da[:, hidden : 2 * hidden] = d_pre_r
            da[:, 2 * hidden :] = d_pre_g
            dq[:, : 2 * hidden] = da[:, : 2 * hidden]
            torch.mul(d_pre_g, r, out=dq[:, 2 * hidden :])
            dy = dq @ kernel_rt
        y_prev = torch.cat([y0.unsqueeze(0), ys[:-1]]).reshape(-1, hidden)
        flat_dq = d_q.reshape(-1, 3 * hidden)
        d_kernel_r = y_prev.t() @ flat_dq
        d_bias_r = flat_dq.sum(0)
        return d_drive, dy, dc, d_kernel_r, d_bias_r, d_thr.sum(0), None, None


def egru_step(
    x_t: torch.Tensor,
    y_prev: torch.Tensor,
    c_prev: torch.Tensor,
    kernel: torch.Tensor,
    recurrent_kernel: torch.Tensor,
    bias: torch.Tensor,
    recurrent_bias: torch.Tensor,
    thr: torch.Tensor,
    dampening_factor: float = 0.7,
    pseudo_derivative_support: float = 1.0,
) -> EGRUStepResult:
    """Advance an EGRU by one time step (pure function, no dropout).

    Parameters
    ----------
    x_t : torch.Tensor
        Input at this step, ``[B, I]``.
    y_prev : torch.Tensor
        Previous output ``y_{t-1}``, ``[B, H]``.
    c_prev : torch.Tensor
        Previous internal state ``c_{t-1}``, ``[B, H]``.
    kernel : torch.Tensor
        Input weights ``W``, ``[I, 3H]``, gate blocks ``z | r | g``.
    recurrent_kernel : torch.Tensor
        Recurrent weights ``R``, ``[H, 3H]``, gate blocks ``z | r | g``.
    bias : torch.Tensor
        Input bias ``b_x``, ``[3H]``.
    recurrent_bias : torch.Tensor
        Recurrent bias ``b_r``, ``[3H]`` (inside the reset gate product for
        the ``g`` block).
    thr : torch.Tensor
        Thresholds ``[H]``, used raw.
    dampening_factor, pseudo_derivative_support : float, optional
        Shape of the pseudo-derivative, see :func:`spike`.

    Returns
    -------
    EGRUStepResult
        ``y``, ``c``, ``c_hat`` and ``events``, each ``[B, H]``.

    Raises
    ------
    ShapeError
        The operands' shapes do not fit together.
    """
    hidden = recurrent_kernel.shape[0] if recurrent_kernel.dim() == 2 else -1
    _check_weights(kernel, recurrent_kernel, bias, recurrent_bias, thr, x_t.shape[-1], hidden)
    if x_t.dim() != 2:
        raise ShapeError(f"egru_step: x_t must be [B, I]; got shape {tuple(x_t.shape)}.")
    batch = x_t.shape[0]
    for name, t in (("y_prev", y_prev), ("c_prev", c_prev)):
        if tuple(t.shape) != (batch, hidden):
            raise ShapeError(
                f"egru_step: {name} must be [B, H] = [{batch}, {hidden}]; "
                f"got shape {tuple(t.shape)}."
            )
    a = x_t @ kernel + bias
    return _egru_cell(
        a,
        y_prev,
        c_prev,
        recurrent_kernel,
        recurrent_bias,
        thr,
        dampening_factor,
        pseudo_derivative_support,
    )


def _check_weights(kernel, recurrent_kernel, bias, recurrent_bias, thr, input_size, hidden):
    """Raise :class:`ShapeError` unless the five EGRU tensors have consistent shapes."""
    expected = {
        "kernel": (input_size, 3 * hidden),
        "recurrent_kernel": (hidden, 3 * hidden),
        "bias": (3 * hidden,),
        "recurrent_bias": (3 * hidden,),
        "thr": (hidden,),
    }
    given = {
        "kernel": kernel,
        "recurrent_kernel": recurrent_kernel,
        "bias": bias,
        "recurrent_bias": recurrent_bias,
        "thr": thr,
    }
    for name, shape in expected.items():
        if tuple(given[name].shape) != shape:
            raise ShapeError(
                f"EGRU {name} must have shape {list(shape)} (I={input_size}, H={hidden}); "
                f"got {list(given[name].shape)}."
            )


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"EGRU {name} must be a positive int; got {value!r}.")
    return value


def _finite(name: str, value, rule: str, ok) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"EGRU {name} must be a number; got {value!r}.") from None
    if math.isnan(v) or math.isinf(v) or not ok(v):
        raise ParameterError(f"EGRU {name} is {v!r}; it must be {rule}.")
    return v


class EGRU(nn.Module):
    """Event-based GRU layer (EvNN v0.2.0 semantics; see the module docstring).

    Parameters
    ----------
    input_size : int
        Input features ``I``.
    hidden_size : int
        Units ``H``.
    dropconnect : float, optional
        Probability in ``[0, 1)`` of dropping each entry of
        ``recurrent_kernel`` during training (inverted scaling, one mask per
        forward call).  Default 0.
    dampening_factor : float, optional
        Peak of the pseudo-derivative, ``>= 0`` (default 0.7).
    pseudo_derivative_support : float, optional
        Inverse half-width of the pseudo-derivative, ``> 0`` (default 1.0).
    thr_init_mean : float, optional
        Mean of the Beta distribution the thresholds are drawn from, in
        ``(0, 1)`` (default 0.3, EvNN's layer default).
    batch_first : bool, optional
        If True, inputs and outputs are ``[B, T, F]`` instead of ``[T, B, F]``.
    weight_init_gain : float, optional
        Gain of the Xavier-normal initialisation of both kernels (default 1).

    Attributes
    ----------
    kernel : torch.nn.Parameter
        ``[I, 3H]``, gate blocks ``z | r | g``.
    recurrent_kernel : torch.nn.Parameter
        ``[H, 3H]``, gate blocks ``z | r | g``.
    bias : torch.nn.Parameter
        ``[3H]``.
    recurrent_bias : torch.nn.Parameter
        ``[3H]``.
    thr : torch.nn.Parameter
        ``[H]``, thresholds in the units of the internal state.

    Raises
    ------
    ParameterError
        A size or hyper-parameter is out of range.
    """

    #: Run sequences through the fused whole-sequence autograd function (True)
    #: or the step-by-step reference built from :func:`egru_step`'s cell (False).
    #: Both give bit-identical forward outputs; gradients agree to rounding.
    fused: bool = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        dropconnect: float = 0.0,
        dampening_factor: float = 0.7,
        pseudo_derivative_support: float = 1.0,
        thr_init_mean: float = 0.3,
        batch_first: bool = False,
        weight_init_gain: float = 1.0,
    ) -> None:
        super().__init__()
        self.input_size = _positive_int("input_size", input_size)
        self.hidden_size = _positive_int("hidden_size", hidden_size)
        self.dropconnect = _finite("dropconnect", dropconnect, "in [0, 1)", lambda v: 0 <= v < 1)
        self.dampening_factor = _finite(
            "dampening_factor", dampening_factor, "finite and >= 0", lambda v: v >= 0
        )
        self.pseudo_derivative_support = _finite(
            "pseudo_derivative_support",
            pseudo_derivative_support,
            "finite and > 0",
            lambda v: v > 0,
        )
        self.thr_init_mean = _finite(
            "thr_init_mean", thr_init_mean, "strictly between 0 and 1", lambda v: 0 < v < 1
        )
        self.weight_init_gain = _finite(
            "weight_init_gain", weight_init_gain, "finite and > 0", lambda v: v > 0
        )
        self.batch_first = bool(batch_first)
        h3 = 3 * self.hidden_size
        self.kernel = nn.Parameter(torch.empty(self.input_size, h3))
        self.recurrent_kernel = nn.Parameter(torch.empty(self.hidden_size, h3))
        self.bias = nn.Parameter(torch.empty(h3))
        self.recurrent_bias = nn.Parameter(torch.empty(h3))
        self.thr = nn.Parameter(torch.empty(self.hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw all parameters as EvNN does (Xavier-normal, zero biases, Beta thresholds)."""
        with torch.no_grad():
            nn.init.xavier_normal_(self.kernel, gain=self.weight_init_gain)
            nn.init.xavier_normal_(self.recurrent_kernel, gain=self.weight_init_gain)
            nn.init.zeros_(self.bias)
            nn.init.zeros_(self.recurrent_bias)
            beta = 3.0
            alpha = beta * self.thr_init_mean / (1.0 - self.thr_init_mean)
            dist = torch.distributions.Beta(torch.tensor(alpha), torch.tensor(beta))
            self.thr.copy_(dist.sample((self.hidden_size,)))

    def clamp_thresholds_(self, low: float = 0.0, high: float = 1.0) -> EGRU:
        """Project ``thr`` in place onto ``[low, high]`` (EvNN clamps to ``[0, 1]``).

        Call it after each optimiser step to reproduce EvNN's training.

        Returns
        -------
        EGRU
            ``self``.
        """
        with torch.no_grad():
            self.thr.clamp_(min=low, max=high)
        return self

    def init_state(
        self, batch: int, dtype: torch.dtype | None = None, device: torch.device | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero initial state ``(y_0, c_0)``, each ``[batch, H]``.

        Parameters
        ----------
        batch : int
            Batch size ``B``.
        dtype, device : optional
            Default to those of ``kernel``.

        Returns
        -------
        tuple of torch.Tensor
            ``(y_0, c_0)``.
        """
        dtype = self.kernel.dtype if dtype is None else dtype
        device = self.kernel.device if device is None else device
        z = torch.zeros(batch, self.hidden_size, dtype=dtype, device=device)
        return z, z.clone()

    def _initial_state(self, state, batch: int, like: torch.Tensor):
        if state is None:
            y0 = c0 = None
        elif isinstance(state, torch.Tensor):
            y0, c0 = state, None
        else:
            try:
                y0, c0 = state
            except (TypeError, ValueError):
                raise ShapeError(
                    "EGRU state must be None, a tensor y0, or a pair (y0, c0) of [B, H] tensors; "
                    f"got {type(state).__name__}."
                ) from None
        out = []
        for name, t in (("y0", y0), ("c0", c0)):
            if t is None:
                t = like.new_zeros(batch, self.hidden_size)
            elif tuple(t.shape) != (batch, self.hidden_size):
                raise ShapeError(
                    f"EGRU initial state {name} must be [B, H] = [{batch}, {self.hidden_size}]; "
                    f"got shape {tuple(t.shape)}."
                )
            out.append(t)
        return out[0], out[1]

    def forward(
        self,
        input: torch.Tensor,
        state: tuple[torch.Tensor | None, torch.Tensor | None] | torch.Tensor | None = None,
        return_activity: bool = False,
    ):
        """Run the layer over a sequence.

        Parameters
        ----------
        input : torch.Tensor
            ``[T, B, I]`` (``[B, T, I]`` if ``batch_first``).
        state : tuple or torch.Tensor, optional
            Initial ``(y_0, c_0)``, each ``[B, H]``; either may be None for
            zeros.  A bare tensor is taken as ``y_0`` with ``c_0 = 0``
            (EvNN's convention).  Default: both zero.
        return_activity : bool, optional
            If True, also return an :class:`EGRUActivity` with the per-step
            ``c_hat``, ``events`` and ``c``.

        Returns
        -------
        y_seq : torch.Tensor
            Outputs ``[T, B, H]`` (``[B, T, H]`` if ``batch_first``).
        state : tuple of torch.Tensor
            Final ``(y_T, c_T)``, each ``[B, H]``.
        activity : EGRUActivity
            Only when ``return_activity`` is True.

        Raises
        ------
        ShapeError
            The input or the state has the wrong shape.
        """
        if input.dim() != 3:
            layout = "[B, T, I]" if self.batch_first else "[T, B, I]"
            raise ShapeError(f"EGRU input must be {layout}; got shape {tuple(input.shape)}.")
        x = input.transpose(0, 1) if self.batch_first else input
        steps, batch, features = x.shape
        if features != self.input_size:
            raise ShapeError(
                f"EGRU input has {features} features but input_size={self.input_size}."
            )
        y, c = self._initial_state(state, batch, x)
        recurrent = self.recurrent_kernel
        if self.training and self.dropconnect > 0:
            recurrent = F.dropout(recurrent, p=self.dropconnect, training=True)
        drive = x @ self.kernel + self.bias  # [T, B, 3H]
        if self.fused and steps > 0:
            y_seq, c_seq, c_hat_seq, e_seq = _EGRUSequenceFunction.apply(
                drive,
                y,
                c,
                recurrent,
                self.recurrent_bias,
                self.thr,
                self.dampening_factor,
                self.pseudo_derivative_support,
            )
            final = (y_seq[-1], c_seq[-1])
            if self.batch_first:
                y_seq, c_seq, c_hat_seq, e_seq = (
                    t.transpose(0, 1) for t in (y_seq, c_seq, c_hat_seq, e_seq)
                )
            if not return_activity:
                return y_seq, final
            return y_seq, final, EGRUActivity(c_hat=c_hat_seq, events=e_seq, c=c_seq)
        ys, c_hats, events, cs = [], [], [], []
        for t in range(steps):
            step = _egru_cell(
                drive[t],
                y,
                c,
                recurrent,
                self.recurrent_bias,
                self.thr,
                self.dampening_factor,
                self.pseudo_derivative_support,
            )
            y, c = step.y, step.c
            ys.append(y)
            if return_activity:
                c_hats.append(step.c_hat)
                events.append(step.events)
                cs.append(step.c)

        def stack(seq):
            out = torch.stack(seq) if seq else x.new_zeros(0, batch, self.hidden_size)
            return out.transpose(0, 1) if self.batch_first else out

        y_seq = stack(ys)
        if not return_activity:
            return y_seq, (y, c)
        return y_seq, (y, c), EGRUActivity(c_hat=stack(c_hats), events=stack(events), c=stack(cs))

    def load_evnn_state_dict(self, state_dict: Mapping[str, torch.Tensor], clamp_thr: bool = True):
        """Load one EvNN ``EGRU`` layer's parameters.

        Parameters
        ----------
        state_dict : Mapping[str, torch.Tensor]
            Must hold ``kernel``, ``recurrent_kernel``, ``bias``,
            ``recurrent_bias`` and ``thr`` (EvNN's names and layouts, which
            are ours).  EvNN's frozen ``dampening_factor`` and
            ``pseudo_derivative_support`` are adopted if present;
            ``_max_norm`` is ignored.
        clamp_thr : bool, optional
            Clamp the loaded thresholds to ``[0, 1]`` as EvNN does before
            every forward pass (default True).

        Returns
        -------
        EGRU
            ``self``.

        Raises
        ------
        ConversionError
            A key is missing or unknown.
        ShapeError
            A tensor has the wrong shape.
        """
        keys = set(state_dict)
        missing = [k for k in EVNN_LAYER_KEYS if k not in keys]
        unknown = sorted(keys - set(EVNN_LAYER_KEYS) - set(_EVNN_LAYER_EXTRAS))
        if missing or unknown:
            raise ConversionError(
                f"EvNN EGRU layer state: missing keys {missing}, unknown keys {unknown}; "
                f"expected {list(EVNN_LAYER_KEYS)} (plus optional {list(_EVNN_LAYER_EXTRAS)})."
            )
        tensors = {k: torch.as_tensor(state_dict[k]) for k in EVNN_LAYER_KEYS}
        _check_weights(*tensors.values(), self.input_size, self.hidden_size)
        with torch.no_grad():
            for k, v in tensors.items():
                getattr(self, k).copy_(v)
        if "dampening_factor" in keys:
            self.dampening_factor = float(
                torch.as_tensor(state_dict["dampening_factor"]).flatten()[0]
            )
        if "pseudo_derivative_support" in keys:
            support = torch.as_tensor(state_dict["pseudo_derivative_support"]).flatten()[0]
            self.pseudo_derivative_support = float(support)
        if clamp_thr:
            self.clamp_thresholds_()
        return self

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, dropconnect={self.dropconnect}, "
            f"dampening_factor={self.dampening_factor}, "
            f"pseudo_derivative_support={self.pseudo_derivative_support}, "
            f"batch_first={self.batch_first}"
        )
