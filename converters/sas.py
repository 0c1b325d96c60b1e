"""Mapping functions for SAS 1:M modules (Sekikawa & Yashima 2024).

* :class:`neuro.torch.SAS` (a ``sparse_m`` attribute and no weight) → a
  :class:`neuro.models.sas.SAS` population of shape (C·M, *rest);
* modules shaped like the authors' ``SASLinear``/``SASConv2d`` (``sparse_m``, a
  ``SAS_proj`` method and a ``weight``) → the same SAS population followed by the wide
  Linear/Conv2d projection.  Their reference projection implements M = 1 and M = 2
  only, so other M are refused.
"""

from __future__ import annotations

import inspect

import numpy as np
from torch import nn

from neuro.exceptions import ConversionError
from neuro.ir.weights import Conv2d, Dense
from neuro.models.sas import SAS

from .fold import identity
from .graph_builder import GraphBuilder, Value
from .registry import ModuleMatcher, register_module_converter

__all__ = ["is_sas_like", "is_sas_layer_like", "sas_population"]


def is_sas_like(module) -> bool:
    """An SAS projection module: ``sparse_m`` and no weight."""
    return (
        isinstance(module, nn.Module)
        and hasattr(module, "sparse_m")
        and getattr(module, "weight", None) is None
    )


def is_sas_layer_like(module) -> bool:
    """An SAS layer (projection + wide Linear/Conv2d): ``sparse_m``, ``SAS_proj``, ``weight``."""
    return (
        isinstance(module, nn.Module)
        and hasattr(module, "sparse_m")
        and callable(getattr(module, "SAS_proj", None))
        and getattr(module, "weight", None) is not None
    )


def sas_population(ctx: GraphBuilder, x: Value, m: int, name: str) -> Value:
    """Turn ``x`` (per-sample shape (C, *rest)) into an SAS population of shape (C·m, *rest)."""
    shape = (x.shape[0] * m, *x.shape[1:])
    model = SAS(m, channels=x.shape[0] if len(x.shape) > 1 else None)
    if "shape" in inspect.signature(ctx.population).parameters:
        return ctx.population(x, model, name, shape=shape)
    # the builder makes populations of the input's shape; add this wider one directly
    from .graph_builder import _compact, _compact_bias

    if not x.terms:
        raise ConversionError(f"the input of {name!r} does not depend on the model input.")
    net = ctx.network
    post = net.add_population(ctx.unique_population_name(name), shape, model)
    for k, term in enumerate(x.terms):
        op = identity(x.size) if term.op is None else _compact(term.op)
        bias = _compact_bias(op, x.bias) if k == 0 and x.bias is not None else None
        net.connect(
            term.source,
            post.name,
            op,
            bias=bias,
            name=ctx._unique_projection_name(term.source, post.name),
        )
    return ctx.of_population(post.name)


SAS_LIKE = ModuleMatcher("SAS (sparse_m attribute, no weight: neuro.torch.SAS)", is_sas_like)
SAS_LAYER_LIKE = ModuleMatcher(
    "SASLinear/SASConv2d-like (sparse_m, SAS_proj, weight)", is_sas_layer_like
)


def _m_of(module, name: str) -> int:
    m = int(abs(int(module.sparse_m)))
    if m < 1 or m & (m - 1):
        raise ConversionError(
            f"module {name!r} ({type(module).__name__}) has sparse_m == {module.sparse_m}; "
            "SAS needs a power of two."
        )
    return m


@register_module_converter(SAS_LIKE)
def sas(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """SAS projection → an SAS population M times wider than its input."""
    m = _m_of(module, name)
    if m == 1:
        return x
    return sas_population(ctx, x, m, name)


@register_module_converter(SAS_LAYER_LIKE)
def sas_layer(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """SASLinear/SASConv2d → an SAS population, then the wide weight projection."""
    m = _m_of(module, name)
    if m > 2:
        raise ConversionError(
            f"module {name!r} ({type(module).__name__}) has sparse_m == {m}; the reference "
            "SAS_proj fills only slots 0 and 1, so only sparse_m 1 and 2 convert."
        )
    y = x if m == 1 else sas_population(ctx, x, m, name + ".sas")
    w = module.weight.detach().cpu().double().numpy()
    bias = None if module.bias is None else module.bias.detach().cpu().double().numpy()
    if w.ndim == 2:
        return ctx.apply(y, Dense(w.T), bias, (w.shape[0],), name)
    dilation = np.broadcast_to(np.asarray(getattr(module, "dilation", 1)), (2,))
    if tuple(int(d) for d in dilation) != (1, 1):
        raise ConversionError(
            f"module {name!r} ({type(module).__name__}) has dilation "
            f"{tuple(int(d) for d in dilation)}; only dilation 1 converts."
        )
    op = Conv2d(w, y.shape, module.stride, module.padding, module.groups)
    if bias is not None:
        bias = np.repeat(bias, op.out_shape[1] * op.out_shape[2])
    return ctx.apply(y, op, bias, op.out_shape, name)
