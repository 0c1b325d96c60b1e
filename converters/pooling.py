"""Max pooling, 1-d layers and spatial reductions.

* ``MaxPool1d``/``MaxPool2d``, ``F.max_pool1d``/``F.max_pool2d`` (stride, padding,
  dilation, ceil_mode), ``AdaptiveMaxPool1d/2d`` with evenly dividing windows and
  ``amax`` over the spatial axes (global max) → a :class:`neuro.models.MaxPool`
  population fed by a routing projection (comparisons, not synops);
* ``Conv1d`` → a Conv2d projection on a (C, 1, L) view of the (C, L) population;
  ``AvgPool1d``/``AdaptiveAvgPool1d`` likewise; ``BatchNorm1d`` on (C, L) folds as usual;
* ``mean`` over the spatial axes → a global average pool (depthwise Conv2d projection).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neuro.exceptions import ConversionError
from neuro.ir.weights import Conv2d
from neuro.models.maxpool import MaxPool, routing

from .graph_builder import GraphBuilder, Term, Value
from .registry import register_function_converter, register_module_converter
from .torch_modules import _np, avg_pool_value

__all__ = ["max_pool_value"]


def _n(v, n: int) -> tuple:
    if isinstance(v, int):
        return (v,) * n
    v = tuple(int(a) for a in v)
    return v * n if len(v) == 1 else v


def max_pool_value(ctx: GraphBuilder, x: Value, kernel, stride, padding, dilation,
                   ceil_mode: bool, name: str, shape=None) -> Value:  # fmt: skip
    """A max pool of ``x`` as a MaxPool population (``x`` materialised first); ``shape``:
    the population's shape when it is a view of the pooled shape (global pooling)."""
    n = len(x.shape) - 1
    if n not in (1, 2):
        raise ConversionError(
            f"{name!r}: max pooling converts (C, L) and (C, H, W) inputs, got {x.shape}."
        )
    info = getattr(x, "parts", None)
    if info is not None and info[1] == 1 and shape is None:  # pool each part, then concatenate
        from .rearrange import concatenate

        pooled = [
            max_pool_value(ctx, p, kernel, stride, padding, dilation, ceil_mode, f"{name}.{k}")
            for k, p in enumerate(info[0])
        ]
        return concatenate(ctx, pooled, 1, name)
    kernel = _n(kernel, n)
    stride = kernel if stride is None or stride == [] or stride == () else _n(stride, n)
    model = MaxPool(x.shape, kernel, stride, _n(padding, n), _n(dilation, n), ceil_mode)
    src = ctx.as_population(x, exact_shape=False)
    routed = Value(x.shape, [Term(src.terms[0].source, routing(model), "pool")], None, name)
    return ctx.population(routed, model, name, shape=shape or model.out_shape())


@register_module_converter(nn.MaxPool1d, nn.MaxPool2d)
def maxpool(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """``MaxPool1d``/``MaxPool2d`` → a MaxPool population."""
    if module.return_indices:
        raise ConversionError(f"module {name!r}: max pooling with return_indices does not convert.")
    return max_pool_value(ctx, x, module.kernel_size, module.stride, module.padding,
                          module.dilation, module.ceil_mode, name)  # fmt: skip


@register_function_converter(F.max_pool1d, F.max_pool2d)
def max_pool(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``F.max_pool1d``/``F.max_pool2d`` → a MaxPool population."""
    names = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode")
    given = dict(zip(names, args)) | kwargs
    if given.get("return_indices"):
        raise ConversionError(f"{name!r}: max pooling with return_indices does not convert.")
    x = given["input"]
    if not isinstance(x, Value):
        raise ConversionError(f"{name!r}: max pooling of a constant does not convert.")
    return max_pool_value(ctx, x, given["kernel_size"], given.get("stride"),
                          given.get("padding", 0), given.get("dilation", 1),
                          bool(given.get("ceil_mode", False)), name)  # fmt: skip


def _adaptive(x: Value, output_size, name: str) -> tuple:
    spatial = x.shape[1:]
    out = _n(output_size, len(spatial)) if output_size is not None else spatial
    out = tuple(o or s for o, s in zip(out, spatial))
    if any(s % o for s, o in zip(spatial, out)):
        raise ConversionError(
            f"{name!r}: adaptive pooling of {spatial} to {out} has unequal windows; only "
            "output sizes that divide the input convert."
        )
    return tuple(s // o for s, o in zip(spatial, out))


@register_module_converter(nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)
def adaptive_maxpool(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """Adaptive max pooling with evenly dividing windows (kernel = stride)."""
    if module.return_indices:
        raise ConversionError(f"module {name!r}: max pooling with return_indices does not convert.")
    k = _adaptive(x, module.output_size, name)
    return max_pool_value(ctx, x, k, k, 0, 1, False, name)


@register_function_converter(F.adaptive_max_pool1d, F.adaptive_max_pool2d)
def adaptive_max_pool(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """Functional adaptive max pooling with evenly dividing windows."""
    x = args[0]
    size = args[1] if len(args) > 1 else kwargs["output_size"]
    k = _adaptive(x, size, name)
    return max_pool_value(ctx, x, k, k, 0, 1, False, name)


def _spatial_dims(x: Value, dim, name: str, what: str) -> bool:
    """Whether ``dim`` are exactly the spatial axes of (B, C, *spatial)."""
    nd = len(x.shape) + 1
    dims = sorted(d % nd for d in ((dim,) if isinstance(dim, int) else dim))
    if len(x.shape) >= 2 and dims == list(range(2, nd)):
        return True
    raise ConversionError(
        f"{name!r}: {what} over dims {dim} of (B, *{x.shape}); only reductions over all "
        "spatial axes (global pooling) convert."
    )


@register_function_converter("method:amax", torch.amax)
def amax(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``x.amax(dim=spatial)`` → a global MaxPool population (keepdim reshaped)."""
    x = args[0]
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    keepdim = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
    _spatial_dims(x, dim, name, "amax")
    shape = (x.shape[0],) + ((1,) * (len(x.shape) - 1) if keepdim else ())
    return max_pool_value(ctx, x, x.shape[1:], x.shape[1:], 0, 1, False, name, shape)


@register_function_converter("method:mean", torch.mean)
def mean(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``x.mean(dim=spatial)`` → a global average (depthwise Conv2d projection)."""
    x = args[0]
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    keepdim = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
    if dim is None:
        raise ConversionError(f"{name!r}: a mean over all axes mixes the batch; give dim.")
    _spatial_dims(x, dim, name, "mean")
    out = _avg(ctx, x, x.shape[1:], x.shape[1:], 0, name)
    shape = (x.shape[0],) + ((1,) * (len(x.shape) - 1) if keepdim else ())
    return ctx.reshape(out, shape, name)


def _as_2d(x: Value) -> tuple:
    return (x.shape[0], 1, x.shape[1]) if len(x.shape) == 2 else tuple(x.shape)


def _avg(ctx, x: Value, kernel, stride, padding, name, ceil_mode=False, include_pad=True):
    """Average pooling on (C, L) or (C, H, W) values."""
    if len(x.shape) == 3:
        return avg_pool_value(ctx, x, kernel, stride, padding, name, ceil_mode, include_pad)
    k, s, p = _n(kernel, 1)[0], _n(stride if stride else kernel, 1)[0], _n(padding, 1)[0]
    view = ctx.reshape(x, _as_2d(x), name)
    out = avg_pool_value(ctx, view, (1, k), (1, s), (0, p), name, ceil_mode, include_pad)
    return ctx.reshape(out, (out.shape[0], out.shape[2]), name)


@register_module_converter(nn.AvgPool1d)
def avgpool1d(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """``AvgPool1d`` → a depthwise Conv2d projection on the (C, 1, L) view."""
    if len(x.shape) != 2:
        raise ConversionError(f"module {name!r} (AvgPool1d) needs (C, L) inputs, got {x.shape}.")
    return _avg(ctx, x, module.kernel_size, module.stride, module.padding, name,
                module.ceil_mode, module.count_include_pad)  # fmt: skip


@register_module_converter(nn.AdaptiveAvgPool1d)
def adaptive_avgpool1d(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """``AdaptiveAvgPool1d`` with evenly dividing windows."""
    k = _adaptive(x, module.output_size, name)
    return _avg(ctx, x, k, k, 0, name)


@register_function_converter(F.avg_pool1d)
def avg_pool1d(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """Functional 1-d average pooling."""
    names = ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")
    given = dict(zip(names, args)) | kwargs
    return _avg(ctx, given["input"], given["kernel_size"], given.get("stride"),
                given.get("padding", 0), name, given.get("ceil_mode", False),
                given.get("count_include_pad", True))  # fmt: skip


@register_module_converter(nn.Conv1d)
def conv1d(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """``Conv1d`` → a Conv2d projection with kernel (1, k) on the (C, 1, L) view."""
    if len(x.shape) != 2:
        raise ConversionError(f"module {name!r} (Conv1d) needs (C, L) inputs, got {x.shape}.")
    if module.padding_mode != "zeros" or tuple(module.dilation) != (1,):
        raise ConversionError(
            f"module {name!r} (Conv1d): only zero padding and dilation 1 convert "
            f"(padding_mode {module.padding_mode!r}, dilation {module.dilation})."
        )
    if module.padding == "same" and (module.kernel_size[0] % 2 == 0 or module.stride != (1,)):
        raise ConversionError(
            f"module {name!r} (Conv1d): padding='same' converts only with odd kernels, stride 1."
        )
    if isinstance(module.padding, str):
        pad = 0 if module.padding == "valid" else (module.kernel_size[0] - 1) // 2
    else:
        pad = int(module.padding[0])
    weight = _np(module.weight)[:, :, None, :]  # (C_out, C_in/g, 1, k)
    op = Conv2d(weight, _as_2d(x), (1, module.stride[0]), (0, pad), module.groups)
    c_out, _, l_out = op.out_shape
    bias = None if module.bias is None else np.repeat(_np(module.bias), l_out)
    src = ctx.as_population(x, exact_shape=True)
    return ctx.apply(src, op, bias, (c_out, l_out), name)
