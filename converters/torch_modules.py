"""Mapping functions: one small function per torch module type.

Each function has the signature ``func(ctx, module, x, name) -> Value`` (see
:mod:`converters.registry`) and registers itself with
:func:`~converters.registry.register_module_converter`.  Supported:

* ``Linear`` → a Dense (or Sparse, if mostly zero) projection, weight transposed to
  pre-synaptic major ``[in, out]``;
* ``Conv2d`` (stride, padding, groups, bias; dilation 1, zero padding) → a Conv2d
  projection on channel-first populations;
* ``BatchNorm1d``/``BatchNorm2d`` (eval mode) → folded into the preceding operator
  (or, after an activation, into the next one: :meth:`GraphBuilder.apply`);
* ``ReLU`` → ``FATReLU(0)``; ``nn.Threshold(θ, 0)`` → ``FATReLU(θ, strict=True)``;
  ``ReLU6``/``Hardtanh(0, c)`` → ``FATReLU(0, clip=c)``; FATReLU-like modules
  (``neuro.torch.FATReLU``, sparseml's ``FATReLU``: a ``threshold`` attribute, scalar
  or per channel along ``channel_dim`` = 1) → ``FATReLU(θ)`` with the rule
  (``>=`` or ``>``) measured on inputs at the threshold;
* ``AvgPool2d``/``AdaptiveAvgPool2d`` → a fixed-weight depthwise Conv2d projection;
* ``Flatten``/``Unflatten`` → a reshape (no unit changes); ``Dropout*``/``Identity``/
  ``StochasticDepth`` → dropped.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from neuro.exceptions import ConversionError
from neuro.ir.weights import Conv2d, Dense
from neuro.models import FATReLU

from .fold import batchnorm_scale_shift
from .graph_builder import GraphBuilder, Term, Value
from .registry import ModuleMatcher, register_module_converter

__all__ = ["threshold_of", "is_fatrelu_like", "avg_pool_value", "flatten_shape"]


def _np(t) -> np.ndarray:
    return t.detach().cpu().double().numpy()


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _need_shape(x: Value, ndim: int, name: str, module, what: str) -> None:
    if len(x.shape) != ndim:
        raise ConversionError(
            f"module {name!r} ({type(module).__name__}) receives per-sample shape {x.shape}; "
            f"it converts only {what}."
        )


# -- weights ------------------------------------------------------------------------------
@register_module_converter(nn.Linear)
def linear(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """``y = x W^T + b`` → Dense weight ``W^T`` of shape [in, out]."""
    lead = tuple(x.shape[:-1])
    if len(x.shape) > 1 and math.prod(lead) == 1:  # (1, ..., features): one row per sample
        flat = linear(ctx, module, ctx.reshape(x, (x.shape[-1],), name), name)
        return ctx.reshape(flat, (*lead, module.out_features), name)
    _need_shape(x, 1, name, module, "(features,) inputs; flatten first")
    bias = None if module.bias is None else _np(module.bias)
    weight = _np(module.weight).T

    def part(v, lo, hi, k):  # a concatenation of populations: split the weights
        b = bias if k == 0 else None
        return ctx.apply(v, Dense(weight[lo:hi]), b, (module.out_features,), name)

    from .rearrange import split_consumer

    split = split_consumer(ctx, x, part, name)
    if split is not None:
        return split
    return ctx.apply(x, Dense(weight), bias, (module.out_features,), name)


def _conv_padding(module, name: str) -> tuple[int, int]:
    kh, kw = _pair(module.kernel_size)
    if module.padding == "valid":
        return (0, 0)
    if module.padding == "same":
        if kh % 2 == 0 or kw % 2 == 0 or _pair(module.stride) != (1, 1):
            raise ConversionError(
                f"module {name!r} (Conv2d): padding='same' converts only with odd kernels and "
                f"stride 1; kernel {(kh, kw)}, stride {module.stride}."
            )
        return ((kh - 1) // 2, (kw - 1) // 2)
    return _pair(module.padding)


@register_module_converter(nn.Conv2d)
def conv2d(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """2-D convolution → a Conv2d projection (weights kept in PyTorch layout)."""
    _need_shape(x, 3, name, module, "(C, H, W) inputs")
    if _pair(module.dilation) != (1, 1):
        raise ConversionError(
            f"module {name!r} (Conv2d) has dilation {module.dilation}; only dilation 1 converts."
        )
    if module.padding_mode != "zeros":
        raise ConversionError(
            f"module {name!r} (Conv2d) has padding_mode {module.padding_mode!r}; only 'zeros' "
            "converts."
        )
    weight = _np(module.weight)
    stride, padding = _pair(module.stride), _conv_padding(module, name)
    op = Conv2d(weight, x.shape, stride, padding, module.groups)
    c_out, h_out, w_out = op.out_shape
    bias = None if module.bias is None else np.repeat(_np(module.bias), h_out * w_out)

    def part(v, lo, hi, k):  # a concatenation of populations: split the weights
        part_op = Conv2d(weight[:, lo:hi], v.shape, stride, padding, 1)
        return ctx.apply(v, part_op, bias if k == 0 else None, op.out_shape, name)

    if module.groups == 1:
        from .rearrange import split_consumer

        split = split_consumer(ctx, x, part, name)
        if split is not None:
            return split
    return ctx.apply(x, op, bias, op.out_shape, name)


@register_module_converter(nn.BatchNorm1d, nn.BatchNorm2d)
def batchnorm(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """Eval-mode BatchNorm → folded into the operators producing ``x``."""
    scale, shift = batchnorm_scale_shift(module, name)
    if x.shape[0] != scale.size:
        raise ConversionError(
            f"module {name!r} ({type(module).__name__}) has {scale.size} channels, its input "
            f"has per-sample shape {x.shape} (channels first)."
        )
    per = x.size // scale.size
    return ctx.scale(x, np.repeat(scale, per), np.repeat(shift, per), name)


# -- pooling ------------------------------------------------------------------------------
def avg_pool_value(
    ctx: GraphBuilder,
    x: Value,
    kernel,
    stride,
    padding,
    name: str,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override=None,
) -> Value:
    """Average pooling as a depthwise Conv2d with fixed weights ``1 / (kh * kw)``."""
    if len(x.shape) != 3:
        raise ConversionError(
            f"{name!r}: average pooling converts only (C, H, W) inputs, got {x.shape}."
        )
    kh, kw = _pair(kernel)
    sh, sw = _pair(kernel if stride is None or stride == [] else stride)
    ph, pw = _pair(padding)
    c, h, w = x.shape
    if ceil_mode and ((h + 2 * ph - kh) % sh or (w + 2 * pw - kw) % sw):
        raise ConversionError(
            f"{name!r}: average pooling with ceil_mode=True and partial windows does not convert."
        )
    if not count_include_pad and (ph or pw):
        raise ConversionError(
            f"{name!r}: average pooling with count_include_pad=False and padding {(ph, pw)} "
            "has position-dependent weights; use count_include_pad=True or no padding."
        )
    divisor = float(divisor_override) if divisor_override else float(kh * kw)
    weight = np.full((c, 1, kh, kw), 1.0 / divisor)
    op = Conv2d(weight, x.shape, (sh, sw), (ph, pw), groups=c)
    pooled = ctx.apply(x, op, None, op.out_shape, name)
    pooled.terms = [Term(t.source, t.op, "pool") for t in pooled.terms]  # pool_ops, not synops
    return pooled


@register_module_converter(nn.AvgPool2d)
def avgpool2d(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """``AvgPool2d`` → depthwise Conv2d projection with weights 1/(kh·kw)."""
    return avg_pool_value(
        ctx,
        x,
        module.kernel_size,
        module.stride,
        module.padding,
        name,
        module.ceil_mode,
        module.count_include_pad,
        module.divisor_override,
    )


def adaptive_kernel(x: Value, output_size, name: str) -> tuple[int, int]:
    """Kernel (= stride) of an adaptive average pool that divides the input evenly."""
    if len(x.shape) != 3:
        raise ConversionError(
            f"{name!r}: adaptive average pooling converts only (C, H, W) inputs, got {x.shape}."
        )
    _, h, w = x.shape
    oh, ow = _pair(output_size) if output_size is not None else (h, w)
    oh, ow = oh or h, ow or w
    if h % oh or w % ow:
        raise ConversionError(
            f"{name!r}: adaptive average pooling of {h}x{w} to {oh}x{ow} has unequal windows; "
            "only output sizes that divide the input convert."
        )
    return h // oh, w // ow


@register_module_converter(nn.AdaptiveAvgPool2d)
def adaptive_avgpool2d(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """``AdaptiveAvgPool2d`` with evenly dividing windows → AvgPool (kernel = stride)."""
    kernel = adaptive_kernel(x, module.output_size, name)
    return avg_pool_value(ctx, x, kernel, kernel, 0, name)


# -- shape and no-ops ---------------------------------------------------------------------
def flatten_shape(shape: tuple, start_dim: int, end_dim: int, name: str) -> tuple:
    """Per-sample shape after ``torch.flatten(x, start_dim, end_dim)`` on (B, *shape)."""
    nd = len(shape) + 1
    s = start_dim % nd
    e = end_dim % nd
    if s == 0:
        raise ConversionError(
            f"{name!r}: flatten with start_dim=0 merges the batch axis; use start_dim >= 1."
        )
    full = (None, *shape)
    return tuple(full[1:s]) + (math.prod(full[s : e + 1]),) + tuple(full[e + 1 :])


@register_module_converter(nn.Flatten)
def flatten(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """``Flatten`` → the same units with a flat shape."""
    return ctx.reshape(x, flatten_shape(x.shape, module.start_dim, module.end_dim, name), name)


@register_module_converter(nn.Unflatten)
def unflatten(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """``Unflatten`` → the same units with the unflattened shape."""
    shape = tuple(module(torch.zeros(1, *x.shape)).shape[1:])
    return ctx.reshape(x, shape, name)


@register_module_converter(
    nn.Identity,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
    ModuleMatcher(
        "StochasticDepth (torchvision.ops; identity in eval mode)",
        lambda m: type(m).__name__ == "StochasticDepth" and hasattr(m, "p") and not m.training,
    ),
)
def passthrough(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """Identity and (eval-mode) dropout: nothing to convert."""
    return x


# -- activations --------------------------------------------------------------------------
def is_fatrelu_like(module) -> bool:
    """A module recognised by a ``threshold`` attribute as a thresholded ReLU.

    ``neuro.torch.FATReLU``, ``nn.Threshold`` with ``value == 0`` and modules shaped like
    sparseml's ``FATReLU`` (a ``threshold`` parameter, scalar or per channel).  Which
    comparison such a module makes (``x >= θ`` or ``x > θ``) is not read off its type but
    measured by :func:`probe_threshold_rule`.  sparseml's piecewise/sigmoid/exponential
    variants (a ``compression`` attribute) and ``nn.Threshold`` with a non-zero
    replacement ``value`` are not thresholded ReLUs.
    """
    if not isinstance(module, nn.Module) or not hasattr(module, "threshold"):
        return False
    if hasattr(module, "compression"):
        return False
    value = getattr(module, "value", 0.0)
    return isinstance(value, (int, float)) and value == 0


def threshold_of(module, x_shape: tuple, name: str) -> np.ndarray:
    """The threshold of a ReLU / FATReLU-like module as a scalar or per-channel array."""
    if isinstance(module, nn.ReLU):
        return np.float64(0.0)
    theta = module.threshold
    theta = _np(theta) if isinstance(theta, torch.Tensor) else np.asarray(theta, np.float64)
    if not np.all(np.isfinite(theta)) or np.any(theta < 0):
        raise ConversionError(
            f"module {name!r} ({type(module).__name__}) has threshold {theta!r}; FATReLU "
            "thresholds must be finite and >= 0."
        )
    if theta.size == 1:
        return np.float64(theta.reshape(()))
    channel_dim = getattr(module, "channel_dim", 1)
    if channel_dim not in (1, -len(x_shape)):
        raise ConversionError(
            f"module {name!r} ({type(module).__name__}) has per-channel thresholds along "
            f"channel_dim={channel_dim}; populations are channel-first, only dim 1 converts."
        )
    if theta.ndim != 1 or theta.size != x_shape[0]:
        raise ConversionError(
            f"module {name!r} ({type(module).__name__}) has threshold of shape {theta.shape}; "
            f"its input has {x_shape[0]} channels (per-sample shape {x_shape})."
        )
    return theta


def _probe_input(theta: np.ndarray, x_shape: tuple, dtype: torch.dtype) -> torch.Tensor:
    """Inputs around θ (ties, neighbours in ``dtype``, zero, negatives, large values)."""
    np_dtype = torch.empty((), dtype=dtype).numpy().dtype
    th = np.broadcast_to(np.asarray(theta, np.float64), (x_shape[0],)).astype(np_dtype)
    up = np.nextafter(th, np.asarray(np.inf, np_dtype))
    down = np.nextafter(th, np.asarray(-np.inf, np_dtype))
    rows = [th, up, down, th * 0.5, th + 0.25, np.zeros_like(th), -th - 1, th * 2 + 3, -up]
    per_channel = np.stack(rows).astype(np_dtype)  # (K, C)
    x = np.broadcast_to(per_channel.reshape(len(rows), x_shape[0], *[1] * (len(x_shape) - 1)),
                        (len(rows), *x_shape))  # fmt: skip
    return torch.tensor(np.ascontiguousarray(x))


def probe_threshold_rule(module, theta: np.ndarray, x_shape: tuple, name: str, dtype) -> bool:
    """Which rule a thresholded-ReLU module computes: True for ``x > θ``, False for ``x >= θ``.

    The module is run on inputs at, just above and just below θ (per channel), zero,
    negative and large values, in the model's dtype, and compared exactly with both rules.

    Raises
    ------
    ConversionError
        The module computes neither rule (it names the module and the first input where
        its output differs).
    """
    x = _probe_input(theta, x_shape, dtype)
    np_dtype = x.numpy().dtype
    th = np.asarray(theta, np.float64).astype(np_dtype)
    th = th.reshape(-1, *[1] * (len(x_shape) - 1)) if th.ndim else th
    with torch.no_grad():
        got = module(x.clone()).detach().cpu().numpy()
    xn = x.numpy()
    for strict in (False, True):
        want = np.where(xn > th if strict else xn >= th, xn, 0).astype(np_dtype)
        if got.shape == want.shape and np.array_equal(got, want):
            return strict
    bad = np.flatnonzero(got.ravel() != np.where(xn >= th, xn, 0).ravel())
    first = float(xn.ravel()[bad[0]]) if bad.size else float("nan")
    raise ConversionError(
        f"module {name!r} ({type(module).__name__}) has a threshold attribute but computes "
        f"neither 'x if x >= θ else 0' nor 'x if x > θ else 0' (first differing input "
        f"{first!r}); write its forward as one of these, or register a converter for it "
        "(converters.register_module_converter)."
    )


FATRELU_LIKE = ModuleMatcher(
    "FATReLU-like (threshold attribute: sparseml FATReLU; rule x >= θ or x > θ measured)",
    is_fatrelu_like,
)


def _register_neuro_fatrelu():
    try:
        from neuro.torch import FATReLU as TorchFATReLU
    except ImportError:  # pragma: no cover - neuro.torch needs only torch
        return ()
    return (TorchFATReLU,)


def _module_dtype(module, default=torch.float64) -> torch.dtype:
    for t in list(module.parameters()) + list(module.buffers()):
        if t.is_floating_point():
            return t.dtype
    return default


@register_module_converter(nn.ReLU)
def relu(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """ReLU → a :class:`neuro.FATReLU` population with θ = 0."""
    return ctx.activation(x, FATReLU(0.0), name)


@register_module_converter(*_register_neuro_fatrelu(), FATRELU_LIKE)
def activation(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """FATReLU-like modules → a :class:`neuro.FATReLU` population.

    The threshold is read from the module; strictness (``x > θ`` as in ``F.threshold``
    and sparseml's scalar path, or ``x >= θ``) is measured on inputs at the threshold.
    """
    theta = threshold_of(module, x.shape, name)
    strict = probe_threshold_rule(module, theta, x.shape, name, ctx.dtype)
    return ctx.activation(x, FATReLU(theta, strict=strict), name)


@register_module_converter(nn.Threshold)
def threshold(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """``nn.Threshold(θ, 0)`` → FATReLU(θ, strict): it zeroes ``x <= θ``."""
    if module.value != 0:
        raise ConversionError(
            f"module {name!r} (Threshold) replaces x <= {module.threshold} by "
            f"{module.value}; only value 0 (a thresholded ReLU) converts."
        )
    theta = threshold_of(module, x.shape, name)
    return ctx.activation(x, FATReLU(theta, strict=True), name)


def clipped_relu(ctx: GraphBuilder, x: Value, low, high, name: str, what: str) -> Value:
    """``clamp(x, low, high)`` with ``low == 0``: a FATReLU with an upper clip."""
    if low is None or float(low) != 0.0:
        raise ConversionError(
            f"{name!r}: {what} with lower bound {low} is not zero-preserving (0 maps to "
            f"{low}); only a lower bound of 0 (a ReLU with an upper clip) converts."
        )
    if high is None or high == float("inf"):
        return ctx.activation(x, FATReLU(0.0), name)
    if float(high) <= 0:
        raise ConversionError(
            f"{name!r}: {what} with upper bound {high} <= 0 outputs no positive values; "
            "only an upper bound > 0 converts."
        )
    return ctx.activation(x, FATReLU(0.0, clip=float(high)), name)


@register_module_converter(nn.ReLU6)
def relu6(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """``ReLU6`` → FATReLU(θ = 0, clip = 6)."""
    return clipped_relu(ctx, x, 0.0, 6.0, name, "ReLU6")


@register_module_converter(nn.Hardtanh)
def hardtanh(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """``Hardtanh(0, c)`` → FATReLU(θ = 0, clip = c)."""
    return clipped_relu(ctx, x, module.min_val, module.max_val, name, "Hardtanh")
