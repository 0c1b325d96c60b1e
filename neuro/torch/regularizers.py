"""Activation-sparsity losses to add to a training objective.

Fewer non-zero activations mean fewer events to move and fewer synaptic
operations on an event-driven runtime.  These penalties push a network
towards that regime during training:

* :func:`l1_activity` -- mean absolute activation.  Activation
  regularisation of this kind, together with thresholded ReLUs (FATReLU),
  is how Kurtz et al. (2020) induce activation sparsity: "Inducing and
  Exploiting Activation Sparsity for Fast Neural Network Inference", ICML.
* :func:`hoyer_activity` -- the Hoyer-square measure
  :math:`(\\sum|x|)^2 / \\sum x^2`, a scale-invariant sparsity measure derived
  from Hoyer (2004), "Non-negative Matrix Factorization with Sparseness
  Constraints", JMLR 5; used as a differentiable regulariser in DeepHoyer
  (Yang, Wen & Li, 2020, ICLR).  It lies in ``[1, n]`` for a non-zero
  vector of ``n`` entries: 1 for one non-zero entry, ``n`` for all equal.
* :func:`event_rate`, :func:`supra_threshold_l1` and
  :func:`evnn_activity_loss` -- regularisers for EGRU layers, fed with the
  :class:`~neuro.torch.egru_ops.EGRUActivity` an EGRU returns with
  ``return_activity=True``.  ``evnn_activity_loss`` is the combination used
  by EvNN's language-model benchmark (``benchmarks/lm/models.py``).

All functions accept a tensor or a sequence of tensors (e.g. one per layer);
for a sequence, the per-tensor losses are summed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..exceptions import InputError, ParameterError
from .egru_ops import EGRUActivity

__all__ = [
    "l1_activity",
    "hoyer_activity",
    "event_rate",
    "supra_threshold_l1",
    "evnn_activity_loss",
]


def _as_list(acts, what: str) -> list:
    if isinstance(acts, (torch.Tensor, EGRUActivity)):
        return [acts]
    if isinstance(acts, Sequence) and len(acts) > 0:
        return list(acts)
    raise InputError(f"{what} expects a tensor or a non-empty sequence of them; got {acts!r}.")


def l1_activity(acts, reduction: str = "mean") -> torch.Tensor:
    """L1 activity penalty.

    Parameters
    ----------
    acts : torch.Tensor or sequence of torch.Tensor
        Activations of any shape.
    reduction : {"mean", "sum"}, optional
        Mean (default) or sum of ``|x|`` per tensor.

    Returns
    -------
    torch.Tensor
        Scalar; the per-tensor values are summed over a sequence.

    Raises
    ------
    ParameterError
        Unknown ``reduction``.
    """
    if reduction not in ("mean", "sum"):
        raise ParameterError(f"l1_activity reduction must be 'mean' or 'sum'; got {reduction!r}.")
    terms = []
    for a in _as_list(acts, "l1_activity"):
        terms.append(a.abs().mean() if reduction == "mean" else a.abs().sum())
    return torch.stack(terms).sum()


def hoyer_activity(acts, dim: int | tuple[int, ...] | None = None, eps: float = 1e-12):
    """Hoyer-square sparsity penalty ``(sum |x|)^2 / sum x^2``.

    Parameters
    ----------
    acts : torch.Tensor or sequence of torch.Tensor
        Activations of any shape.
    dim : int or tuple of int, optional
        Axes the measure is taken over; the result is then averaged over
        the remaining axes (e.g. ``dim=1`` on ``[N, F]`` gives the mean
        per-sample value).  Default: the whole tensor at once.
    eps : float, optional
        Added to the denominator so an all-zero tensor scores 0.

    Returns
    -------
    torch.Tensor
        Scalar, dimensionless; lower is sparser.
    """
    terms = []
    for a in _as_list(acts, "hoyer_activity"):
        if dim is None:
            terms.append(a.abs().sum() ** 2 / (a.pow(2).sum() + eps))
        else:
            ratio = a.abs().sum(dim=dim) ** 2 / (a.pow(2).sum(dim=dim) + eps)
            terms.append(ratio.mean())
    return torch.stack(terms).sum()


def _events(item) -> torch.Tensor:
    return item.events if isinstance(item, EGRUActivity) else item


def event_rate(activity) -> torch.Tensor:
    """Mean fraction of units that emit an event per step.

    Differentiable through the EGRU pseudo-derivative, so it can be added to
    a loss directly.

    Parameters
    ----------
    activity : EGRUActivity or torch.Tensor or sequence of them
        An EGRU's activity record, or its ``events`` tensor ``[T, B, H]``.

    Returns
    -------
    torch.Tensor
        Scalar in ``[0, 1]`` (summed over a sequence of layers).
    """
    return torch.stack([_events(a).mean() for a in _as_list(activity, "event_rate")]).sum()


def supra_threshold_l1(activity, thr, margin: float = 0.0) -> torch.Tensor:
    """Mean amount by which ``c_hat`` exceeds ``thr - margin``.

    ``mean(relu(c_hat - thr + margin))`` is an L1 penalty on the part of the
    pre-threshold state that causes (or, with ``margin > 0``, nearly causes)
    events; unlike :func:`event_rate` its gradient does not vanish outside
    the pseudo-derivative's support.

    Parameters
    ----------
    activity : EGRUActivity or sequence of EGRUActivity
        One record per layer.
    thr : torch.Tensor or sequence of torch.Tensor
        Matching thresholds ``[H]`` (e.g. ``layer.thr``).
    margin : float, optional
        Penalise from ``thr - margin`` upwards (default 0).

    Returns
    -------
    torch.Tensor
        Scalar, in the units of the state (summed over layers).

    Raises
    ------
    InputError
        ``activity`` and ``thr`` have different lengths.
    """
    acts = _as_list(activity, "supra_threshold_l1")
    thrs = _as_list(thr, "supra_threshold_l1")
    if len(acts) != len(thrs):
        raise InputError(
            f"supra_threshold_l1 got {len(acts)} activity records but {len(thrs)} thresholds."
        )
    terms = [torch.relu(a.c_hat - t + margin).mean() for a, t in zip(acts, thrs, strict=True)]
    return torch.stack(terms).sum()


def evnn_activity_loss(
    activity, alpha: float = 0.0, beta: float = 0.0, gamma: float = 0.0, time_dim: int = 0
) -> torch.Tensor:
    """EGRU activity regulariser of EvNN's language-model benchmark.

    ``alpha * mean(c) + beta * mean((c[t+1] - c[t])^2 where e[t]) + gamma * mean(e)``
    with ``c`` the post-reset internal state and ``e`` the events.  The first
    term pulls the state towards its minimum, the second penalises state
    changes following an event, the third is the event rate.

    Parameters
    ----------
    activity : EGRUActivity or sequence of EGRUActivity
        One record per layer.
    alpha, beta, gamma : float, optional
        Weights of the three terms (default 0 each).
    time_dim : int, optional
        Time axis of the records (0 for time-major, 1 for batch-first).

    Returns
    -------
    torch.Tensor
        Scalar, summed over layers.
    """
    total = None
    for act in _as_list(activity, "evnn_activity_loss"):
        c, e = act.c, act.events
        term = c.new_zeros(())
        if alpha:
            term = term + alpha * c.mean()
        if beta and c.shape[time_dim] > 1:
            steps = c.shape[time_dim]
            diff = c.narrow(time_dim, 1, steps - 1) - c.narrow(time_dim, 0, steps - 1)
            mask = e.narrow(time_dim, 0, steps - 1).detach() > 0
            if bool(mask.any()):
                term = term + beta * diff[mask].pow(2).mean()
        if gamma:
            term = term + gamma * e.mean()
        total = term if total is None else total + term
    return total
