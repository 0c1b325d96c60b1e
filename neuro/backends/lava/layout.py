"""Batch folding: B samples of a population as one Lava process, and the matching weights.

A population of ``n`` units run on a batch of ``B`` samples becomes one process of
``B n`` units; unit ``i`` of sample ``b`` is process unit ``b n + i``.  An input
port of width ``w`` is laid out the same way unless the neuron model needs another
order (the EGRU splits its port into gate blocks, see
:meth:`neuro.backends.lava.neurons.LavaNeurons.port_order`).  Projections become
block-diagonal ``(post, pre)`` matrices, so no weight connects two samples and the
synaptic counts are those of ``B`` separate runs.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ...exceptions import BackendError
from ...ir.weights import WeightOperator

__all__ = ["conv_matrix", "fold_weights", "pre_major_matrix"]

# Largest n_pre * n_out for which an operator without a matrix form is unrolled densely.
_UNROLL_LIMIT = 4_000_000


def conv_matrix(op) -> sp.csr_matrix:
    """The explicit connectivity of a convolution, shape (n_pre, n_out).

    Every kernel tap that lands inside the input is one stored entry (zero weights
    included; taps on padding are not connections): :meth:`neuro.ir.weights.Conv2d.csr`.
    """
    return op.csr(np.float64)


def pre_major_matrix(op, where: str):
    """Weights of ``op`` as an (n_pre, n_out) matrix: ndarray for Dense, else CSR.

    Parameters
    ----------
    op : WeightOperator
    where : str
        The projection, for error messages.
    """
    if type(op).csr is WeightOperator.csr:  # no matrix form of its own: unrolled
        if op.n_pre * op.n_out > _UNROLL_LIMIT:
            raise BackendError(
                f"{where}: backend 'lava' has no synapse for weight type {op.type!r} and it is "
                f"too large to unroll ({op.n_pre} x {op.n_out} > {_UNROLL_LIMIT} entries)."
            )
    return op.matrix(np.float64)


def fold_weights(matrix, batch: int, post_order: np.ndarray | None):
    """Block-diagonal (post, pre) weights of ``batch`` samples for a synapse process.

    Parameters
    ----------
    matrix : ndarray or scipy.sparse matrix, shape (n_pre, n_out)
    batch : int
    post_order : ndarray of int, shape (batch * n_out,), or None
        Process index of entry ``j`` of sample ``b`` at position ``b * n_out + j``;
        None for the plain sample-major order.

    Returns
    -------
    ndarray or scipy.sparse.csr_matrix, shape (batch * n_out, batch * n_pre)
        A dense array only when ``batch == 1``, the order is plain and the input dense.
    """
    n_pre, n_out = matrix.shape
    plain = post_order is None or np.array_equal(post_order, np.arange(batch * n_out))
    if batch == 1 and plain and isinstance(matrix, np.ndarray):
        return np.ascontiguousarray(matrix.T)
    coo = sp.coo_matrix(matrix)
    offsets = np.arange(batch)[:, None]
    rows = (offsets * n_out + coo.col[None, :]).ravel()
    cols = (offsets * n_pre + coo.row[None, :]).ravel()
    if not plain:
        rows = np.asarray(post_order)[rows]
    data = np.tile(coo.data, batch)
    return sp.csr_matrix((data, (rows, cols)), shape=(batch * n_out, batch * n_pre))
