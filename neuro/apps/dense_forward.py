"""Dense numpy forward pass of a converted feed-forward network: the timing baseline.

What a dense engine does with the same network: every projection multiplies all
inputs, zero or not (BLAS matrix products; convolutions as im2col products).  The
event-driven ``cpu`` backend is compared against it in the demo and benchmarks.
Only single-step feed-forward networks of FATReLU and Readout populations with
Dense, Sparse and Conv2d projections are supported.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from neuro.exceptions import BackendError
from neuro.ir.weights import Conv2d, Dense, Sparse
from neuro.models.fatrelu import unit_values

__all__ = ["DenseForward"]


def _conv(x: np.ndarray, op: Conv2d, weight: np.ndarray) -> np.ndarray:
    """(B, C_in*H*W) → (B, C_out*H_out*W_out) by an im2col product."""
    c_in, h, w = op.in_shape
    c_out, cg, kh, kw = weight.shape
    (sh, sw), (ph, pw) = op.stride, op.padding
    _, h_out, w_out = op.out_shape
    b = x.shape[0]
    xp = np.pad(x.reshape(b, c_in, h, w), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :h_out, :w_out]
    g = op.groups
    if g == 1:
        out = np.tensordot(win, weight, axes=([1, 4, 5], [1, 2, 3]))  # (B, Ho, Wo, C_out)
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2)).reshape(b, -1)
    og = c_out // g
    win = win.reshape(b, g, cg, h_out, w_out, kh, kw)
    wg = weight.reshape(g, og, cg, kh, kw)
    out = np.einsum("bgchwkl,gockl->bgohw", win, wg, optimize=True)
    return out.reshape(b, -1)


class DenseForward:
    """A network prepared for dense forward passes in one dtype.

    Parameters
    ----------
    network : neuro.Network
    dtype : numpy dtype
        Arithmetic precision (default float32).
    """

    def __init__(self, network, dtype=np.float32):
        self.network = network
        self.dtype = np.dtype(dtype)
        self.order = network.topological_order()
        self.ops = {}
        for name, proj in network.projections.items():
            if proj.delay:
                raise BackendError(f"projection {name!r} has a delay; dense forward is one step.")
            w = proj.weights
            if isinstance(w, Dense):
                self.ops[name] = ("dense", w.weight.astype(self.dtype))
            elif isinstance(w, Sparse):
                self.ops[name] = ("sparse", w.to_scipy().T.tocsr().astype(self.dtype))
            elif isinstance(w, Conv2d):
                self.ops[name] = ("conv", w.weight.astype(self.dtype))
            else:
                raise BackendError(f"projection {name!r}: dense forward has no {w.type!r} weights.")
        self.bias = {}
        self.theta = {}
        for name in self.order:
            pop = network.populations[name]
            if pop.model.is_input:
                continue
            if pop.model.type == "fatrelu":
                self.theta[name] = unit_values(pop.model.threshold, pop.shape).astype(self.dtype)
            elif pop.model.type != "readout" or pop.model.accumulate:
                raise BackendError(
                    f"population {name!r} ({pop.model.type}): dense forward supports FATReLU "
                    "and non-accumulating Readout populations."
                )
            bias = np.zeros(pop.size, self.dtype)
            for proj in network.incoming(name):
                if proj.bias is not None:
                    bias += proj.port_bias().astype(self.dtype)
            self.bias[name] = bias

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Outputs of the network's first output population, shape (B, *shape)."""
        net = self.network
        b = x.shape[0]
        acts = {}
        for name in self.order:
            pop = net.populations[name]
            if pop.model.is_input:
                acts[name] = np.ascontiguousarray(x, dtype=self.dtype).reshape(b, -1)
                continue
            total = np.broadcast_to(self.bias[name], (b, pop.size)).copy()
            for proj in net.incoming(name):
                kind, w = self.ops[proj.name]
                src = acts[proj.pre]
                if kind == "dense":
                    total += src @ w
                elif kind == "sparse":
                    total += (w @ src.T).T
                else:
                    total += _conv(src, proj.weights, w)
            if name in self.theta:
                total = np.where(total >= self.theta[name], total, 0).astype(self.dtype)
            acts[name] = total
        out = net.outputs[0]
        return acts[out].reshape(b, *net.populations[out].shape)
