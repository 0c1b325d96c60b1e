"""Handlers for the functions and tensor methods a traced ``forward`` calls.

Each handler has the signature ``handler(ctx, name, args, kwargs, out_shape)``:
``args``/``kwargs`` hold :class:`~converters.graph_builder.Value` objects where the
call received tensors and plain Python values elsewhere; ``out_shape`` is the
per-sample output shape recorded by shape propagation (None for non-tensors).
Tensor methods are registered as ``"method:<name>"``.
"""

from __future__ import annotations

import operator

import torch
import torch.nn.functional as F

from neuro.exceptions import ConversionError
from neuro.models import FATReLU

from .graph_builder import GraphBuilder, Value
from .registry import register_function_converter
from .torch_modules import adaptive_kernel, avg_pool_value, flatten_shape

__all__: list[str] = []


def _value(arg, name: str, what: str) -> Value:
    if not isinstance(arg, Value):
        raise ConversionError(
            f"{name!r}: {what} of a constant ({type(arg).__name__}) does not convert; only "
            "operations on tensors computed from the model input do."
        )
    return arg


@register_function_converter(operator.add, operator.iadd, torch.add, "method:add", "method:add_")
def add(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``a + b`` of two tensors → one value whose terms become several projections."""
    a, b = args[0], args[1] if len(args) > 1 else kwargs.get("other")
    if not isinstance(a, Value) and not isinstance(b, Value):
        return a + b  # plain Python arithmetic (e.g. on sizes)
    if kwargs.get("alpha", 1) != 1:
        raise ConversionError(f"{name!r}: torch.add with alpha != 1 does not convert.")
    return ctx.add(_value(a, name, "addition"), _value(b, name, "addition"), name)


def _size_arithmetic(fn):
    """Python arithmetic on sizes (``C // groups``); on tensors it does not convert."""

    def handler(ctx: GraphBuilder, name, args, kwargs, out_shape):
        if any(isinstance(a, Value) for a in args):
            raise ConversionError(
                f"{name!r}: {fn.__name__} of a tensor computed from the input does not convert "
                "(only additions of tensors and products with constants do)."
            )
        return fn(*args)

    handler.__doc__ = _size_arithmetic.__doc__
    return handler


for _fn in (operator.floordiv, operator.truediv, operator.sub, operator.mod, operator.neg):
    register_function_converter(_fn)(_size_arithmetic(_fn))


@register_function_converter(F.relu, torch.relu, "method:relu", "method:relu_")
def relu(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """Functional ReLU → a FATReLU population with θ = 0."""
    return ctx.activation(_value(args[0], name, "relu"), FATReLU(0.0), name)


@register_function_converter(torch.flatten, "method:flatten")
def flatten(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``torch.flatten(x, start_dim, end_dim)`` → a reshape."""
    x = _value(args[0], name, "flatten")
    start = args[1] if len(args) > 1 else kwargs.get("start_dim", 0)
    end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
    return ctx.reshape(x, flatten_shape(x.shape, start, end, name), name)


@register_function_converter(
    "method:view", "method:reshape", torch.reshape, "method:contiguous", "method:squeeze"
)
def reshape(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """Reshapes that keep the batch axis → the same units with the recorded shape."""
    x = _value(args[0], name, "reshape")
    if out_shape is None:
        raise ConversionError(f"{name!r}: the shape of this reshape is unknown.")
    return ctx.reshape(x, out_shape, name)


@register_function_converter("method:dim")
def dim(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``x.dim()``: the batch axis and the per-sample axes."""
    return len(_value(args[0], name, "dim").shape) + 1


@register_function_converter("method:size")
def size(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``x.size()`` / ``x.size(dim)``; the batch axis has the symbolic size -1."""
    x = _value(args[0], name, "size")
    full = (-1, *x.shape)
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    return torch.Size(full) if dim is None else full[dim]


@register_function_converter(getattr)
def attribute(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``x.shape`` (batch axis -1); other attributes do not convert."""
    x, attr = args[0], args[1]
    if isinstance(x, Value) and attr == "shape":
        return torch.Size((-1, *x.shape))
    if isinstance(x, Value) and attr in ("dtype", "device", "ndim"):
        return {"dtype": ctx.dtype or torch.float64, "device": torch.device("cpu"),
                "ndim": len(x.shape) + 1}[attr]  # fmt: skip
    if not isinstance(x, Value):
        return getattr(x, attr)
    raise ConversionError(f"{name!r}: tensor attribute {attr!r} does not convert.")


@register_function_converter(F.avg_pool2d)
def avg_pool2d(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """Functional average pooling → depthwise Conv2d projection."""
    names = ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")
    given = dict(zip(names, args)) | kwargs
    return avg_pool_value(
        ctx,
        _value(given["input"], name, "avg_pool2d"),
        given["kernel_size"],
        given.get("stride"),
        given.get("padding", 0),
        name,
        given.get("ceil_mode", False),
        given.get("count_include_pad", True),
        given.get("divisor_override"),
    )


@register_function_converter(F.adaptive_avg_pool2d)
def adaptive_avg_pool2d(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """Functional adaptive average pooling with evenly dividing windows."""
    x = _value(args[0], name, "adaptive_avg_pool2d")
    output_size = args[1] if len(args) > 1 else kwargs["output_size"]
    kernel = adaptive_kernel(x, output_size, name)
    return avg_pool_value(ctx, x, kernel, kernel, 0, name)


_PUBLIC_NAMES: dict = {}


def _public_names() -> dict:
    """id(function) → its public name (``torch.cat``, ``F.max_pool2d``, ``operator.add``)."""
    if not _PUBLIC_NAMES:
        import operator as op_module

        for prefix, namespace in (("operator", op_module), ("torch", torch), ("F", F)):
            for attr in dir(namespace):
                if attr.startswith("_"):
                    continue
                obj = getattr(namespace, attr, None)
                if callable(obj) and not isinstance(obj, type):
                    _PUBLIC_NAMES.setdefault(id(obj), f"{prefix}.{attr}")
    return _PUBLIC_NAMES


def function_name(target) -> str:
    """Public name of a call target (for messages and the supported list)."""
    if isinstance(target, str):
        return target.replace("method:", "Tensor.")
    public = _public_names().get(id(target))
    if public is not None:
        return public
    module = getattr(target, "__module__", None) or ""
    qual = getattr(target, "__qualname__", None) or getattr(target, "__name__", str(target))
    return f"{module}.{qual}" if module and module != "builtins" else qual


def supported_functions() -> list[str]:
    """Names of every function and method with a handler."""
    from .registry import FUNCTION_CONVERTERS

    return sorted({function_name(t) for t in FUNCTION_CONVERTERS})
