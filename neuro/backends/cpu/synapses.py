"""How the CPU scheduler delivers events through each kind of weight operator.

A builder turns a projection into ``deliver(ptr, idx, val, out) -> (synops,
activity_sparse_macs)``, binding the weights laid out pre-synaptic major in the
run's dtype.  New weight kinds register a builder here; models never import this.
"""

from __future__ import annotations

import numpy as np

from ..._registry import Registry
from ...audit.tally import fanouts
from ...exceptions import BackendError
from .conv import conv_geometry, work_sizes
from .kernels import scatter_conv2d, scatter_dense, scatter_sparse

CPU_SYNAPSES = Registry("weight operator on backend 'cpu'", BackendError)
CPU_SYNAPSES.register_lazy("complementary", "neuro.backends.cpu.complementary:build")

__all__ = ["CPU_SYNAPSES", "build_delivery", "conv2d_layout"]


def build_delivery(projection, dtype):
    """Return the bound ``deliver`` function of ``projection``."""
    builder = CPU_SYNAPSES.get(projection.weights.type)
    return builder(projection.weights, np.dtype(dtype))


def _fans(weights):
    return fanouts(weights)


@CPU_SYNAPSES.register("dense")
def _dense(weights, dtype):
    w = np.ascontiguousarray(weights.weight, dtype=dtype)
    nnz, tot = _fans(weights)

    def deliver(ptr, idx, val, out):
        return scatter_dense(ptr, idx, val, w, out, nnz, tot)

    return deliver


@CPU_SYNAPSES.register("sparse")
def _sparse(weights, dtype):
    indptr, indices = weights.indptr, weights.indices
    data = np.ascontiguousarray(weights.data, dtype=dtype)
    nnz, tot = _fans(weights)

    def deliver(ptr, idx, val, out):
        return scatter_sparse(ptr, idx, val, indptr, indices, data, out, nnz, tot)

    return deliver


def conv2d_layout(weights, dtype):
    """Conv kernel pre-synaptic major: (C_out, cg, kh, kw) → (groups, cg, kh, kw, C_out/groups).

    Output channels are innermost, so one input channel and tap is one contiguous vector.
    """
    c_out, cg, kh, kw = weights.weight.shape
    g = weights.groups
    wt = weights.weight.reshape(g, c_out // g, cg, kh, kw).transpose(0, 2, 3, 4, 1)
    return np.ascontiguousarray(wt, dtype=dtype)


@CPU_SYNAPSES.register("conv2d")
def _conv2d(weights, dtype):
    wt = conv2d_layout(weights, dtype)
    geom = conv_geometry(weights, wt.shape)
    nnz, tot = _fans(weights)
    n_s, n_start, n_c, n_v = work_sizes(geom)

    def deliver(ptr, idx, val, out):
        # work space per call: a delivery may run on several threads at once
        work = (
            np.empty(n_s, dtype),
            np.empty(n_start, np.int64),
            np.empty(n_c, np.int64),
            np.empty(n_v, dtype),
        )
        return scatter_conv2d(ptr, idx, val, wt, out, geom, nnz, tot, *work)

    return deliver
