"""Synapse incidence of projections: which pre-synaptic unit reaches which post-synaptic unit.

A neuromorphic core stores the synapses of the units it holds (fan-in storage), and a
spike travels to every core holding at least one of its targets.  Both questions need
the explicit list of stored synapses of each projection, which this module builds as
sparse matrices for every weight operator (each operator answers
:meth:`neuro.ir.weights.WeightOperator.synapses`):

* :func:`synapse_matrix` — (n_pre, n_out) 0/1 matrix of the *non-zero* weights (port
  entries as columns; a zero weight is not stored and never costs a synaptic op);
* :func:`unit_synapses` — (n_pre, post size) synapse counts per (pre unit, post unit),
  the port entries folded onto the units the post-synaptic model declares they belong to
  (:meth:`neuro.models.base.NeuronModel.port_units`).

Convolutions are expanded: every (input position, kernel tap, output channel) with a
non-zero weight is one stored synapse (no weight sharing in core memory), exact at the
borders like :meth:`neuro.ir.weights.Conv2d.fanout_nnz`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["synapse_matrix", "unit_synapses"]


def synapse_matrix(weights, zeros: bool = False) -> sp.csr_matrix:
    """Stored (non-zero) synapses of a weight operator.

    Parameters
    ----------
    weights : WeightOperator
    zeros : bool
        Also store the connections whose weight is zero: every entry of a dense
        matrix, every listed entry of a sparse one, every kernel tap of a
        convolution (row sums then equal ``weights.fanout_total()``), as a chip
        that keeps the network's weight matrices as given does.

    Returns
    -------
    scipy.sparse.csr_matrix of int64, shape (n_pre, n_out)
        1 where pre-synaptic unit ``i`` reaches port entry ``j`` through a non-zero
        weight.  Row sums equal ``weights.fanout_nnz()``.
    """
    return weights.synapses(zeros)


def unit_synapses(projection, post, zeros: bool = False) -> sp.csr_matrix:
    """Synapses per (pre-synaptic unit, post-synaptic unit) of a projection.

    Parameters
    ----------
    projection : neuro.ir.Projection
    post : neuro.ir.Population
        The post-synaptic population; its model says which unit each entry of the
        projection's port belongs to.

    Returns
    -------
    scipy.sparse.csr_matrix of int64, shape (n_pre, post_size)
        Stored synapses from ``i`` onto the port entries of unit ``u``; row sums equal
        ``projection.weights.fanout_nnz()``.

    Notes
    -----
    An EGRU's ``3H``-wide ports hold the gate blocks z | r | g, so entry ``j`` belongs to
    unit ``j % H``; a max pool's ``K`` taps per window belong to unit ``j // K``.
    """
    m = synapse_matrix(projection.weights, zeros)
    post_size = post.size
    units = post.model.port_units(projection.port, post_size)
    if m.shape[1] == post_size and np.array_equal(units, np.arange(post_size)):
        return m
    fold = sp.csr_matrix(
        (np.ones(units.size, np.int64), (np.arange(units.size), units)),
        shape=(units.size, post_size),
    )
    return (m @ fold).tocsr()
