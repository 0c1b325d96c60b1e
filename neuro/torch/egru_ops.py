"""EGRU arithmetic in PyTorch: the spike function with its pseudo-derivative, one
step of the cell, the fused sequence autograd function and the weight checks.

The equations and the EvNN v0.2.0 semantics they follow are written out in
:mod:`neuro.torch.egru`; :class:`neuro.torch.egru.EGRU` is the module built on them.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..exceptions import ShapeError

__all__ = [
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
