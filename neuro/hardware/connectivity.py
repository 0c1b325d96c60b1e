"""Synapse incidence of projections: which pre-synaptic unit reaches which post-synaptic unit.

A neuromorphic core stores the synapses of the units it holds (fan-in storage), and a
spike travels to every core holding at least one of its targets.  Both questions need
the explicit list of stored synapses of each projection, which this module builds as
sparse matrices for every weight operator (each operator answers
:meth:`neuro.ir.weights.WeightOperator.synapses`):

* :func:`synapse_matrix` — (n_pre, n_out) 0/1 matrix of the *non-zero* weights (port
  entries as columns; a zero weight is not stored and never costs a synaptic op);
* :func:`port_units` — the unit of the post-synaptic population each port entry drives;
* :func:`unit_synapses` — (n_pre, post size) synapse counts per (pre unit, post unit).

Convolutions are expanded: every (input position, kernel tap, output channel) with a
non-zero weight is one stored synapse (no weight sharing in core memory), exact at the
borders like :meth:`neuro.ir.weights.Conv2d.fanout_nnz`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["synapse_matrix", "port_units", "unit_synapses"]


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


def port_units(width: int, size: int) -> np.ndarray:
    """Unit index driven by each entry of a port.

    A port as wide as the population maps entry ``j`` to unit ``j``; a port ``k`` times
    as wide holds ``k`` blocks of one entry per unit (e.g. the z | r | g gate blocks of
    an EGRU), so entry ``j`` drives unit ``j % size``.

    Returns
    -------
    ndarray of int64, shape (width,)
    """
    j = np.arange(width, dtype=np.int64)
    if width % size == 0:
        return j % size
    return j * size // width


def unit_synapses(projection, post_size: int, zeros: bool = False) -> sp.csr_matrix:
    """Synapses per (pre-synaptic unit, post-synaptic unit) of a projection.

    Parameters
    ----------
    projection : neuro.ir.Projection
    post_size : int
        Units of the post-synaptic population.

    Returns
    -------
    scipy.sparse.csr_matrix of int64, shape (n_pre, post_size)
        Stored synapses from ``i`` onto the port entries of unit ``u``; row sums equal
        ``projection.weights.fanout_nnz()``.
    """
    m = synapse_matrix(projection.weights, zeros)
    units = port_units(m.shape[1], post_size)
    if m.shape[1] == post_size and np.array_equal(units, np.arange(post_size)):
        return m
    fold = sp.csr_matrix(
        (np.ones(units.size, np.int64), (np.arange(units.size), units)),
        shape=(units.size, post_size),
    )
    return (m @ fold).tocsr()
