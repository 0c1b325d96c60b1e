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

import torch
import torch.nn.functional as F
from torch import nn

from ..exceptions import ConversionError, ParameterError, ShapeError
from .egru_ops import (
    _EVNN_LAYER_EXTRAS,
    EVNN_LAYER_KEYS,
    EGRUActivity,
    _check_weights,
    _egru_cell,
    _EGRUSequenceFunction,
)

__all__ = ["EGRU"]


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
