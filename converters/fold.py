"""Folding per-unit affine maps (eval-mode BatchNorm) into the weights before them.

An eval-mode ``BatchNorm`` computes ``y = s * x + t`` per channel with
``s = gamma / sqrt(running_var + eps)`` and ``t = beta - running_mean * s``.
When ``x`` is the output of a weight operator ``W`` plus a bias ``b``, the pair
becomes one operator with its output entries scaled, ``(s * W) x + (s * b + t)``:
no population and no extra synaptic operation for the normalisation.
"""

from __future__ import annotations

import numpy as np

from neuro.exceptions import ConversionError
from neuro.ir.weights import Sparse, WeightOperator

__all__ = ["batchnorm_scale_shift", "scale_operator", "identity", "diagonal"]


def batchnorm_scale_shift(module, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel scale and shift of an eval-mode ``BatchNorm1d``/``BatchNorm2d``.

    Parameters
    ----------
    module : torch.nn.modules.batchnorm._BatchNorm
    name : str
        Path of the module in the model (for messages).

    Returns
    -------
    scale, shift : ndarray of float64, shape (C,)
    """
    if module.running_mean is None or module.running_var is None:
        raise ConversionError(
            f"module {name!r} ({type(module).__name__}) has track_running_stats=False: it "
            "normalises with batch statistics, which an event network cannot; train it with "
            "running statistics."
        )
    mean = module.running_mean.detach().cpu().double().numpy()
    var = module.running_var.detach().cpu().double().numpy()
    scale = 1.0 / np.sqrt(var + float(module.eps))
    shift = -mean * scale
    if module.weight is not None:
        gamma = module.weight.detach().cpu().double().numpy()
        scale, shift = scale * gamma, shift * gamma
    if module.bias is not None:
        shift = shift + module.bias.detach().cpu().double().numpy()
    return scale, shift


def identity(n: int) -> Sparse:
    """The identity map on ``n`` units as a CSR operator (one weight of 1 per unit)."""
    return diagonal(np.ones(n))


def diagonal(values: np.ndarray) -> Sparse:
    """A diagonal map (unit ``i`` → entry ``i`` with weight ``values[i]``) as CSR."""
    values = np.asarray(values, dtype=np.float64).ravel()
    n = values.size
    return Sparse(np.arange(n + 1), np.arange(n), values, n)


def scale_operator(op: WeightOperator, scale: np.ndarray) -> WeightOperator | None:
    """``op`` with output entry ``j`` multiplied by ``scale[j]``, or None if it cannot be.

    Parameters
    ----------
    op : WeightOperator or None
        None stands for the identity.
    scale : ndarray, shape (op.n_out,)

    Returns
    -------
    WeightOperator or None
        None when ``op`` has no exact scaled form of its own kind (a convolution whose
        scale varies within a channel, or an operator without a scaled form);
        the caller then materialises a population first.
    """
    scale = np.asarray(scale, dtype=np.float64).ravel()
    if op is None:
        return diagonal(scale)
    return op.scale_outputs(scale)


def diagonal_values(op: WeightOperator | None, n: int) -> np.ndarray | None:
    """The diagonal of ``op`` when it is a per-unit scale on ``n`` units, else None."""
    if op is None:
        return np.ones(n)
    if op.n_pre != n or op.n_out != n:
        return None
    return op.diagonal()


def scale_input(op: WeightOperator, scale: np.ndarray) -> WeightOperator | None:
    """``op`` applied after a per-unit input scale (``op(scale * x)``) as one operator.

    A BatchNorm after a ReLU is such a scale (plus a shift, which becomes a bias of the
    next layer): folded here into the next layer's weights, exactly.  Returns None when
    the scale has no exact form (a convolution whose scale varies within a channel).
    """
    return op.scale_inputs(scale)
