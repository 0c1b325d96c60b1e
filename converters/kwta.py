"""Mapping functions for k-winners and sparse-weight modules (Hunter et al. 2021).

Modules are recognised by their attributes, so ``neuro.torch`` modules and
nupic.torch's (never imported here) convert alike:

* **k-winners** (``KWinners``, ``KWinners2d``): a ``percent_on``, a
  ``k_inference_factor`` and a ``duty_cycle`` buffer → a :class:`neuro.models.kwta.KWTA`
  population with the eval-mode ``k_inference`` winners, ``local`` from the module
  (``KWinners2d``), ties ``"keep"`` (``break_ties=False``) or ``"index"``
  (``break_ties=True``), ``relu`` from the module, and the boost factors
  ``exp(-boost_strength · duty_cycle)`` (per unit, or per channel for 2-D) that nupic
  keeps using to rank units in eval mode;
* **sparse weights** (``SparseWeights``, ``SparseWeights2d``): a ``module``
  (Linear or Conv2d), a ``sparsity`` and a ``zero_mask`` buffer → the wrapped layer with
  the masked weights zeroed (stored as CSR when mostly zero).  nupic's wrapper does not
  mask in ``forward``; it relies on ``rezero_weights()`` after each optimiser step, as
  :class:`neuro.torch.SparseWeights` does in every forward.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from neuro.exceptions import ConversionError
from neuro.models.kwta import KWTA

from .graph_builder import GraphBuilder, Value
from .registry import ModuleMatcher, register_module_converter
from .torch_modules import conv2d, linear

__all__ = ["is_kwinners_like", "is_sparse_weights_like", "kwta_model"]


def is_kwinners_like(module) -> bool:
    """A k-winners module: ``percent_on``, ``k_inference_factor`` and ``duty_cycle``."""
    return isinstance(module, nn.Module) and all(
        hasattr(module, a) for a in ("percent_on", "k_inference_factor", "duty_cycle")
    )


def is_sparse_weights_like(module) -> bool:
    """A sparse-weights wrapper: ``module`` (Linear/Conv2d), ``sparsity`` and ``zero_mask``."""
    inner = getattr(module, "module", None)
    return (
        isinstance(module, nn.Module)
        and isinstance(inner, (nn.Linear, nn.Conv2d))
        and hasattr(module, "sparsity")
        and hasattr(module, "zero_mask")
    )


def _inference_k(module, x: Value, local: bool) -> int:
    """The eval-mode k, from the module when it has run, else by nupic's formulas."""
    n = int(getattr(module, "n", 0) or 0)
    k_inf = int(getattr(module, "k_inference", 0) or 0)
    if local or n:
        if k_inf:
            return k_inf
    percent = float(module.percent_on)
    factor = float(module.k_inference_factor)
    if local:
        return int(round(x.shape[0] * percent * factor))
    size = x.size
    if len(x.shape) > 1 or hasattr(module, "channels"):  # KWinners2d, global
        return int(round(size * percent * factor))
    return int(int(round(size * percent)) * factor)  # KWinners


def kwta_model(module, x: Value, name: str) -> KWTA:
    """The :class:`KWTA` neuron model equivalent to an eval-mode k-winners module."""
    local = bool(getattr(module, "local", False))
    if local and len(x.shape) != 3:
        raise ConversionError(
            f"module {name!r} ({type(module).__name__}) is local k-winners; it needs a "
            f"(C, H, W) input, got per-sample shape {x.shape}."
        )
    k = _inference_k(module, x, local)
    strength = module.boost_strength
    strength = float(strength.item() if isinstance(strength, torch.Tensor) else strength)
    boost = None
    if strength > 0:
        with torch.no_grad():
            factors = torch.exp(-module.boost_strength * module.duty_cycle)
        boost = factors.detach().cpu().double().numpy().ravel()
        if boost.size not in (1, x.shape[0], x.size):
            raise ConversionError(
                f"module {name!r} ({type(module).__name__}) has {boost.size} duty cycles; its "
                f"input has per-sample shape {x.shape} (one per unit or per channel expected)."
            )
        if np.all(boost == boost.flat[0]):
            boost = None  # equal factors do not change the ranking
    return KWTA(
        k,
        local=local,
        ties="index" if getattr(module, "break_ties", False) else "keep",
        relu=bool(getattr(module, "relu", False)),
        boost=boost,
        channels=x.shape[0] if local else None,
    )


KWINNERS_LIKE = ModuleMatcher(
    "KWinners-like (percent_on, k_inference_factor, duty_cycle: nupic KWinners/KWinners2d)",
    is_kwinners_like,
)
SPARSE_WEIGHTS_LIKE = ModuleMatcher(
    "SparseWeights-like (module, sparsity, zero_mask: nupic SparseWeights/SparseWeights2d)",
    is_sparse_weights_like,
)


@register_module_converter(KWINNERS_LIKE)
def kwinners(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """k-winners → a :class:`KWTA` population."""
    if module.training:
        raise ConversionError(
            f"module {name!r} ({type(module).__name__}) is in training mode; call model.eval() "
            "(eval mode uses k_inference winners and frozen duty cycles)."
        )
    return ctx.population(x, kwta_model(module, x, name), name)


class _MaskedLayer:
    """The wrapped layer seen with its masked weights zeroed (read-only proxy)."""

    def __init__(self, layer, weight):
        self._layer = layer
        self.weight = weight

    def __getattr__(self, attr):
        return getattr(self._layer, attr)


@register_module_converter(SPARSE_WEIGHTS_LIKE)
def sparse_weights(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """Sparse-weights wrapper → the wrapped Linear/Conv2d with the mask applied."""
    inner = module.module
    with torch.no_grad():
        keep = module.zero_mask.to(torch.bool).logical_not()
        weight = inner.weight * keep.to(inner.weight.dtype)
    proxy = _MaskedLayer(inner, weight)
    if isinstance(inner, nn.Linear):
        return linear(ctx, proxy, x, name)
    return conv2d(ctx, proxy, x, name)
