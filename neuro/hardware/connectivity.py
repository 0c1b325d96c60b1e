"""Synapse incidence of projections: which pre-synaptic unit reaches which post-synaptic unit.

A neuromorphic core stores the synapses of the units it holds (fan-in storage), and a
spike travels to every core holding at least one of its targets.  Both questions need
the explicit list of stored synapses of each projection, which this module builds as
sparse matrices for every weight operator:

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

from ..ir.weights import Conv2d, Dense, Sparse

__all__ = ["synapse_matrix", "unit_synapses"]


def _conv_matrix(op: Conv2d, zeros: bool = False) -> sp.csr_matrix:
    c_out, cg, kh, kw = op.weight.shape
    c_in, h, w = op.in_shape
    _, h_out, w_out = op.out_shape
    (sh, sw), (ph, pw) = op.stride, op.padding
    og = c_out // op.groups
    rows, cols = [], []
    for ky in range(kh):
        ty = np.arange(h) + ph - ky
        vy = (ty >= 0) & (ty % sh == 0) & (ty // sh < h_out)
        ys, yo = np.nonzero(vy)[0], ty[vy] // sh
        for kx in range(kw):
            tx = np.arange(w) + pw - kx
            vx = (tx >= 0) & (tx % sw == 0) & (tx // sw < w_out)
            xs, xo = np.nonzero(vx)[0], tx[vx] // sw
            if not ys.size or not xs.size:
                continue
            pos_in = (ys[:, None] * w + xs[None, :]).ravel()
            pos_out = (yo[:, None] * w_out + xo[None, :]).ravel()
            tap = op.weight[:, :, ky, kx]
            co, ci = np.nonzero(np.ones_like(tap) if zeros else tap)
            ci_global = (co // og) * cg + ci
            rows.append((ci_global[:, None] * h * w + pos_in[None, :]).ravel())
            cols.append((co[:, None] * h_out * w_out + pos_out[None, :]).ravel())
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    m = sp.csr_matrix((np.ones(r.size, np.int64), (r, c)), shape=(op.n_pre, op.n_out))
    m.sum_duplicates()
    return m


def _generic_matrix(op, chunk: int = 512, zeros: bool = False) -> sp.csr_matrix:
    """Any operator: apply a copy whose weights are |w| != 0 to blocks of unit vectors."""
    fields = {
        k: (
            (np.ones_like(v, np.float64) if zeros else np.asarray(v != 0, np.float64))
            if isinstance(v, np.ndarray) and v.dtype.kind == "f"
            else v
        )
        for k, v in op.to_dict().items()
    }
    mask = type(op).from_dict(fields)
    blocks = []
    for start in range(0, op.n_pre, chunk):
        stop = min(op.n_pre, start + chunk)
        eye = np.zeros((stop - start, op.n_pre))
        eye[np.arange(stop - start), np.arange(start, stop)] = 1.0
        blocks.append(sp.csr_matrix(mask.apply(eye) > 0))
    return sp.vstack(blocks, format="csr").astype(np.int64)


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
    if isinstance(weights, Dense):
        w = weights.weight
        m = sp.csr_matrix(np.ones(w.shape, bool) if zeros else w != 0)
    elif isinstance(weights, Sparse):
        m = sp.csr_matrix(
            (np.ones(weights.indices.size) if zeros else (weights.data != 0).astype(np.float64),
             weights.indices, weights.indptr),
            shape=(weights.n_pre, weights.n_out),
        )  # fmt: skip
        m.eliminate_zeros()
        m.sum_duplicates()
        m.data[:] = 1.0
    elif isinstance(weights, Conv2d):
        return _conv_matrix(weights, zeros)
    else:
        return _generic_matrix(weights, zeros=zeros)
    return m.astype(np.int64).tocsr()


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
