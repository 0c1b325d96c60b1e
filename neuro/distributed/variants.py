"""Variants of a network for sweeps: FATReLU thresholds and magnitude weight pruning.

Both return a new network and leave the given one unchanged.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

from ..exceptions import ParameterError
from ..models.fatrelu import FATReLU

__all__ = ["prune_weights", "set_thresholds", "weight_sparsity"]


def set_thresholds(network, threshold):
    """The network with new FATReLU thresholds.

    Parameters
    ----------
    network : Network
    threshold : None, float, or dict of str → float or ndarray
        None: unchanged.  A number: that threshold θ >= 0 for every FATReLU population.
        A dict: per population name (scalar or one value per channel).

    Returns
    -------
    Network
    """
    if threshold is None:
        return network
    fat = [n for n, p in network.populations.items() if isinstance(p.model, FATReLU)]
    if isinstance(threshold, dict):
        unknown = sorted(set(threshold) - set(fat))
        if unknown:
            raise ParameterError(
                f"thresholds given for {unknown}, which are not FATReLU populations of "
                f"network {network.name!r}; its FATReLU populations are {fat}."
            )
        values = threshold
    else:
        values = dict.fromkeys(fat, threshold)
    out = copy.deepcopy(network)
    for name, value in values.items():
        pop = out.populations[name]
        pop.model = dataclasses.replace(pop.model, threshold=value)
    return out.validate()


def _magnitude_prune(values: np.ndarray, sparsity: float) -> np.ndarray:
    flat = values.ravel()
    n_drop = int(sparsity * flat.size)
    out = flat.copy()
    if n_drop:
        out[np.argsort(np.abs(flat), kind="stable")[:n_drop]] = 0.0
    return out.reshape(values.shape)


def prune_weights(network, sparsity: float, projections=None):
    """The network with its smallest weights set to zero, projection by projection.

    Parameters
    ----------
    network : Network
    sparsity : float
        In [0, 1): in every pruned projection the ``floor(sparsity · n)`` weights of
        smallest magnitude become 0 (``n`` its stored weights; ties by position).
    projections : list of str, optional
        Projections to prune; default every ``Dense``, ``Sparse`` and ``Conv2d`` one.

    Returns
    -------
    Network
        Weights pruned; shapes and connections (hence ``dense_macs``) unchanged.
    """
    if not 0.0 <= float(sparsity) < 1.0:
        raise ParameterError(f"weight sparsity == {sparsity!r}, must lie in [0, 1).")
    names = [n for n, p in network.projections.items() if p.weights.stored_weights() is not None]
    if projections is not None:
        unknown = sorted(set(projections) - set(names))
        if unknown:
            raise ParameterError(
                f"cannot prune {unknown} of network {network.name!r}; prunable projections "
                f"(dense, sparse, conv2d) are {names}."
            )
        names = list(projections)
    if not sparsity:
        return network
    out = copy.deepcopy(network)
    for name in names:
        proj = out.projections[name]
        pruned = _magnitude_prune(proj.weights.stored_weights(), sparsity)
        proj.weights = proj.weights.with_stored_weights(np.ascontiguousarray(pruned))
    return out.validate()


def weight_sparsity(network) -> float:
    """Fraction of zero weights over all ``Dense``, ``Sparse`` and ``Conv2d`` projections."""
    zeros = total = 0
    for p in network.projections.values():
        values = p.weights.stored_weights()
        if values is None:
            continue
        zeros += int(values.size - np.count_nonzero(values))
        total += int(values.size)
    return zeros / total if total else 0.0
