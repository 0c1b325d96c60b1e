"""Mapping functions: one small function per torch module type.

Each function has the signature ``func(ctx, module, x, name) -> Value`` (see
:mod:`converters.registry`) and registers itself with
:func:`~converters.registry.register_module_converter`.  Supported:

* ``Linear`` → a Dense (or Sparse, if mostly zero) projection, weight transposed to
  pre-synaptic major ``[in, out]``;
* ``Conv2d`` (stride, padding, groups, bias; dilation 1, zero padding) → a Conv2d
  projection on channel-first populations;
* ``BatchNorm1d``/``BatchNorm2d`` (eval mode) → folded into the preceding operator;
* ``ReLU`` and FATReLU modules → a :class:`neuro.FATReLU` population.  FATReLU
  modules are recognised by their attributes (a ``threshold``, scalar or per
  channel, along ``channel_dim`` = 1): ``neuro.torch.FATReLU``, sparseml's
  ``FATReLU``, and ``torch.nn.Threshold`` with ``value == 0``;
* ``AvgPool2d``/``AdaptiveAvgPool2d`` → a fixed-weight depthwise Conv2d projection;
* ``Flatten`` → a reshape (no unit changes); ``Dropout*``/``Identity`` → dropped.
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
from .graph_builder import GraphBuilder, Value
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
    _need_shape(x, 1, name, module, "(features,) inputs; flatten first")
    bias = None if module.bias is None else _np(module.bias)
    return ctx.apply(x, Dense(_np(module.weight).T), bias, (module.out_features,), name)


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
    op = Conv2d(
        _np(module.weight),
        x.shape,
        _pair(module.stride),
        _conv_padding(module, name),
        module.groups,
    )
    c_out, h_out, w_out = op.out_shape
    bias = None if module.bias is None else np.repeat(_np(module.bias), h_out * w_out)
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
    return ctx.apply(x, op, None, op.out_shape, name)


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


@register_module_converter(
    nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout
)
def passthrough(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """Identity and (eval-mode) dropout: nothing to convert."""
    return x


# -- activations --------------------------------------------------------------------------
def is_fatrelu_like(module) -> bool:
    """A module with a ``threshold`` attribute that acts as ``x if x >= θ else 0``.

    sparseml's piecewise/sigmoid/exponential variants (a ``compression`` attribute)
    and ``nn.Threshold`` with a non-zero replacement ``value`` are not.
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


FATRELU_LIKE = ModuleMatcher(
    "FATReLU-like (threshold attribute: sparseml FATReLU, nn.Threshold with value 0)",
    is_fatrelu_like,
)


def _register_neuro_fatrelu():
    try:
        from neuro.torch import FATReLU as TorchFATReLU
    except ImportError:  # pragma: no cover - neuro.torch needs only torch
        return ()
    return (TorchFATReLU,)


@register_module_converter(nn.ReLU, *_register_neuro_fatrelu(), FATRELU_LIKE)
def activation(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """ReLU / FATReLU → a :class:`neuro.FATReLU` population (θ = 0 for ReLU)."""
    return ctx.population(x, FATReLU(threshold_of(module, x.shape, name)), name)
