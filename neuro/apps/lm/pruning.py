"""Magnitude weight pruning of an EGRU language model (masks kept and re-applied)."""

from __future__ import annotations

__all__ = [
    "prunable_weights",
    "magnitude_masks",
    "apply_masks",
    "weight_sparsity",
    "ramp_sparsity",
    "PRUNE_INTERVAL_STEPS",
]

#: Optimiser steps between two mask updates of gradual pruning.
PRUNE_INTERVAL_STEPS = 25


def prunable_weights(model, include_embedding: bool = True) -> dict:
    """The weight matrices pruning acts on, by state-dict name.

    Parameters
    ----------
    model : neuro.torch.EGRULanguageModel
    include_embedding : bool
        Include ``embedding.weight`` (the decoder's too when untied).

    Returns
    -------
    dict of str → torch.nn.Parameter
        Every EGRU ``kernel`` and ``recurrent_kernel``; optionally the embedding and
        decoder weights (a tied decoder appears once, as the embedding).
    """
    out = {}
    if include_embedding:
        out["embedding.weight"] = model.embedding.weight
        if model.decoder.weight is not model.embedding.weight:
            out["decoder.weight"] = model.decoder.weight
    for i, layer in enumerate(model.layers):
        out[f"layers.{i}.kernel"] = layer.kernel
        out[f"layers.{i}.recurrent_kernel"] = layer.recurrent_kernel
    return out


def magnitude_masks(weights: dict, sparsity: float) -> dict:
    """Per-tensor magnitude masks: the ``sparsity`` fraction of smallest |w| set to 0.

    Parameters
    ----------
    weights : dict of str → torch.Tensor
    sparsity : float
        In [0, 1).

    Returns
    -------
    dict of str → torch.Tensor (bool)
        Same shapes; True where a weight is kept.  Exactly
        ``floor(sparsity · numel)`` entries per tensor are dropped.
    """
    import torch

    masks = {}
    for name, w in weights.items():
        n_drop = int(sparsity * w.numel())
        mask = torch.ones_like(w, dtype=torch.bool)
        if n_drop:
            order = torch.argsort(w.detach().abs().flatten())
            mask.view(-1)[order[:n_drop]] = False
        masks[name] = mask
    return masks


def apply_masks(weights: dict, masks: dict) -> None:
    """Zero the masked-out entries of ``weights`` in place."""
    import torch

    with torch.no_grad():
        for name, mask in masks.items():
            weights[name].mul_(mask.to(weights[name].dtype))


def weight_sparsity(weights: dict) -> float:
    """Fraction of exactly-zero entries over all the given tensors."""
    zeros = sum(int((w == 0).sum()) for w in weights.values())
    total = sum(w.numel() for w in weights.values())
    return zeros / total if total else 0.0


def ramp_sparsity(start: float, final: float, t: float) -> float:
    """Target sparsity of gradual pruning at ramp progress ``t`` (Zhu & Gupta 2017).

    ``final + (start - final) (1 - t)^3``: steep at first, while many small weights are
    left, and flat near ``final``.  ``t`` is clipped to [0, 1].
    """
    t = min(1.0, max(0.0, float(t)))
    return final + (start - final) * (1.0 - t) ** 3
