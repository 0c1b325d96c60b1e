"""Recognising thresholded activations by what a traced ``forward`` computes.

A custom activation is traced into (never mapped by its base class when it overrides
``forward``) and its operations are matched here:

* ``x * (x >= t)``, ``x * (x > t)`` (the mask possibly cast with ``.float()``,
  ``.to(...)``, ``.type_as(...)``), ``torch.where(x > t, x, 0)`` →
  ``FATReLU(t, strict=...)``;
* ``relu(x) * (x > t)`` (t >= 0) → the same (the ``relu`` population is dropped);
* ``F.threshold(x, t, 0)`` / ``torch.threshold`` → ``FATReLU(t, strict=True)`` (it
  zeroes ``x <= t``);
* ``F.relu6``, ``F.hardtanh(x, 0, c)``, ``torch.clamp(x, 0, c)`` / ``clamp_min(x, 0)``
  → FATReLU with θ = 0 and an upper clip c.

A comparison is the symbolic :class:`Compare`; it converts only when it ends up as the
mask of its own operand.  ``t`` is a number or a tensor constant (per layer or per
channel, >= 0).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from neuro.exceptions import ConversionError
from neuro.models import FATReLU

from .graph_builder import GraphBuilder, Value
from .registry import register_function_converter
from .torch_modules import clipped_relu

__all__ = ["Compare", "per_unit_constant", "threshold_parameter"]


@dataclass(eq=False)
class Compare:
    """The mask ``x > theta`` (``strict``) or ``x >= theta`` of a symbolic value."""

    value: Value
    theta: np.ndarray  # per unit, shape value.shape
    strict: bool
    name: str


def per_unit_constant(c, shape: tuple, name: str, what: str) -> np.ndarray:
    """A constant (number or tensor broadcastable to (B, *shape)) as one value per unit."""
    arr = c.detach().cpu().double().numpy() if isinstance(c, torch.Tensor) else np.asarray(c)
    arr = np.asarray(arr, dtype=np.float64)
    try:
        full = np.broadcast_to(arr, (1, *shape)) if arr.ndim <= len(shape) + 1 else None
    except ValueError:
        full = None
    if full is None or (arr.ndim == len(shape) + 1 and arr.shape[0] != 1):
        raise ConversionError(
            f"{name!r}: {what} of shape {tuple(arr.shape)} does not broadcast per sample to "
            f"{shape} (it must not vary along the batch axis)."
        )
    return np.array(full[0], dtype=np.float64)


def threshold_parameter(theta: np.ndarray, shape: tuple, name: str) -> np.ndarray:
    """Per-unit thresholds as a FATReLU threshold: a scalar or one value per channel."""
    flat = theta.reshape(shape[0], -1) if len(shape) else theta.reshape(1, -1)
    if not np.all(np.isfinite(flat)) or np.any(flat < 0):
        raise ConversionError(
            f"{name!r}: threshold {float(flat.min())!r} is negative or not finite; thresholded "
            "activations convert with thresholds >= 0 (x * (x >= t) with t < 0 passes "
            "negative values)."
        )
    if np.all(flat == flat.ravel()[0]):
        return np.float64(flat.ravel()[0])
    if len(shape) > 1 and np.all(flat == flat[:, :1]):
        return flat[:, 0].copy()
    if len(shape) == 1:
        raise ConversionError(
            f"{name!r}: per-unit thresholds on a ({shape[0]},) vector are not one value per "
            "layer; FATReLU converts per-layer thresholds on flat values."
        )
    raise ConversionError(
        f"{name!r}: thresholds vary within a channel of per-sample shape {shape}; FATReLU "
        "converts per-layer or per-channel (axis 1) thresholds."
    )


def _compare(ctx, name, a, b, strict: bool, flipped: bool):
    """``a >= b`` / ``a > b`` with ``a`` symbolic (``flipped``: ``b <= a`` / ``b < a``)."""
    x, t = (b, a) if flipped else (a, b)
    if not isinstance(x, Value) or isinstance(t, (Value, Compare)):
        raise ConversionError(
            f"{name!r}: a comparison converts only as 'tensor >= constant' or 'tensor > "
            "constant' used as the mask of that same tensor."
        )
    theta = per_unit_constant(t, x.shape, name, "a threshold")
    return Compare(x, theta, strict, name)


@register_function_converter(operator.ge, torch.ge, "method:ge", "method:__ge__")
def ge(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``x >= t`` → a symbolic mask."""
    if isinstance(args[0], Value):
        return _compare(ctx, name, args[0], args[1], False, False)
    return _compare(ctx, name, args[0], args[1], True, True)  # t >= x  <=>  x <= t


@register_function_converter(operator.gt, torch.gt, "method:gt", "method:__gt__")
def gt(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``x > t`` → a symbolic mask."""
    if isinstance(args[0], Value):
        return _compare(ctx, name, args[0], args[1], True, False)
    return _compare(ctx, name, args[0], args[1], False, True)


@register_function_converter(operator.le, torch.le, "method:le")
def le(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``t <= x`` → the mask ``x >= t``."""
    if isinstance(args[1], Value) and not isinstance(args[0], Value):
        return _compare(ctx, name, args[0], args[1], False, True)
    raise ConversionError(f"{name!r}: 'x <= t' keeps the small values; it does not convert.")


@register_function_converter(operator.lt, torch.lt, "method:lt")
def lt(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``t < x`` → the mask ``x > t``."""
    if isinstance(args[1], Value) and not isinstance(args[0], Value):
        return _compare(ctx, name, args[0], args[1], True, True)
    raise ConversionError(f"{name!r}: 'x < t' keeps the small values; it does not convert.")


@register_function_converter(
    "method:float", "method:double", "method:to", "method:type_as", "method:type"
)
def cast(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """Dtype casts: a mask stays a mask, a value stays the same value."""
    x = args[0]
    if isinstance(x, (Value, Compare)):
        return x
    raise ConversionError(f"{name!r}: a cast of a constant does not convert.")


def _thresholded(ctx: GraphBuilder, x: Value, mask: Compare, name: str) -> Value:
    """``x * mask`` where ``mask`` compares ``x`` (or x's input, for ``relu(x)``)."""
    if mask.value is x:
        theta = threshold_parameter(mask.theta, x.shape, name)
        return ctx.activation(x, FATReLU(theta, strict=mask.strict), name)
    if x.is_population and x.terms[0].source in ctx.activations:
        source, model = ctx.activations[x.terms[0].source]
        plain_relu = model.type == "fatrelu" and not np.any(model.threshold) and model.clip is None
        if source is mask.value and plain_relu:  # relu(x) * (x > t), t >= 0
            theta = threshold_parameter(mask.theta, source.shape, name)
            return ctx.activation(source, FATReLU(theta, strict=mask.strict), name)
    raise ConversionError(
        f"{name!r}: a tensor multiplied by a comparison of another tensor ({mask.name!r}); "
        "only x * (x >= t), x * (x > t) and relu(x) * (x > t) convert."
    )


@register_function_converter(operator.mul, operator.imul, torch.mul, "method:mul", "method:mul_")
def mul(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``x * mask`` (thresholded activation) or ``x * constant`` (a per-unit scale)."""
    a, b = args[0], args[1] if len(args) > 1 else kwargs.get("other")
    if not isinstance(a, (Value, Compare)) and not isinstance(b, (Value, Compare)):
        return a * b  # plain Python arithmetic (e.g. on sizes)
    if isinstance(a, Compare) and isinstance(b, Value):
        a, b = b, a
    if isinstance(a, Value) and isinstance(b, Compare):
        return _thresholded(ctx, a, b, name)
    if isinstance(b, Value) and not isinstance(a, (Value, Compare)):
        a, b = b, a
    if isinstance(a, Value) and not isinstance(b, (Value, Compare)):
        scale = per_unit_constant(b, a.shape, name, "a factor").ravel()
        return ctx.scale(a, scale, np.zeros_like(scale), name)
    raise ConversionError(
        f"{name!r}: the product of two tensors computed from the input is not linear; only "
        "products with constants and thresholded activations (x * (x > t)) convert."
    )


@register_function_converter(torch.where)
def where(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``torch.where(x > t, x, 0)`` / ``torch.where(x >= t, x, 0)`` → FATReLU."""
    if len(args) == 3 and isinstance(args[0], Compare) and isinstance(args[1], Value):
        other = args[2]
        zero = not isinstance(other, (Value, Compare)) and not np.any(
            np.asarray(other.detach().cpu() if isinstance(other, torch.Tensor) else other)
        )
        if zero:
            return _thresholded(ctx, args[1], args[0], name)
    raise ConversionError(
        f"{name!r}: torch.where converts only as torch.where(x > t, x, 0) or "
        "torch.where(x >= t, x, 0)."
    )


@register_function_converter(F.threshold, torch.threshold, getattr(F, "_threshold", F.threshold))
def threshold(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``F.threshold(x, t, 0)`` → FATReLU(t, strict=True) (it zeroes ``x <= t``)."""
    names = ("input", "threshold", "value")
    given = dict(zip(names, args)) | kwargs
    x = given["input"]
    if not isinstance(x, Value):
        raise ConversionError(f"{name!r}: threshold of a constant does not convert.")
    if float(given["value"]) != 0.0:
        raise ConversionError(
            f"{name!r}: F.threshold replaces x <= {given['threshold']} by {given['value']}; "
            "only value 0 (a thresholded ReLU) converts."
        )
    theta = per_unit_constant(given["threshold"], x.shape, name, "a threshold")
    theta = threshold_parameter(theta, x.shape, name)
    return ctx.activation(x, FATReLU(theta, strict=True), name)


@register_function_converter(F.relu6)
def relu6(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``F.relu6`` → FATReLU(0, clip=6)."""
    return clipped_relu(ctx, _symbolic(args[0], name), 0.0, 6.0, name, "relu6")


@register_function_converter(F.hardtanh)
def hardtanh(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``F.hardtanh(x, 0, c)`` → FATReLU(0, clip=c)."""
    given = dict(zip(("input", "min_val", "max_val"), args)) | kwargs
    x = _symbolic(given["input"], name)
    return clipped_relu(ctx, x, given.get("min_val", -1.0), given.get("max_val", 1.0), name,
                        "hardtanh")  # fmt: skip


@register_function_converter(
    torch.clamp, torch.clip, "method:clamp", "method:clip", torch.clamp_min, "method:clamp_min"
)
def clamp(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``clamp(x, 0, c)`` / ``clamp_min(x, 0)`` → FATReLU(0, clip=c)."""
    x = _symbolic(args[0], name)
    low = args[1] if len(args) > 1 else kwargs.get("min")
    high = args[2] if len(args) > 2 else kwargs.get("max")
    return clipped_relu(ctx, x, _number(low), _number(high), name, "clamp")


def _number(v):
    if isinstance(v, torch.Tensor):
        if v.numel() != 1:
            raise ConversionError("clamp bounds must be numbers to convert.")
        return float(v)
    return None if v is None else float(v)


def _symbolic(x, name):
    if not isinstance(x, Value):
        raise ConversionError(f"{name!r}: the activation of a constant does not convert.")
    return x
