"""Dense numpy forward pass of a converted feed-forward network: the timing baseline.

What a dense engine does with the same network: every projection multiplies all
inputs, zero or not (BLAS matrix products; convolutions as one product over the
window view), through :meth:`neuro.ir.weights.WeightOperator.forward`.  The
event-driven ``cpu`` backend is compared against it in the demo and benchmarks.
Only single-step feed-forward networks of FATReLU and Readout populations are
supported.
"""

from __future__ import annotations

import numpy as np

from neuro.exceptions import BackendError
from neuro.models.fatrelu import unit_values

__all__ = ["DenseForward"]


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
            self.ops[name] = proj.weights.forward(self.dtype)
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
                total += self.ops[proj.name](acts[proj.pre])
            if name in self.theta:
                total = np.where(total >= self.theta[name], total, 0).astype(self.dtype)
            acts[name] = total
        out = net.outputs[0]
        return acts[out].reshape(b, *net.populations[out].shape)
