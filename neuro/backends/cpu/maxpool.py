"""Max pooling populations on the CPU scheduler (see neuro.models.maxpool): the step-by-step
kernel here, the compiled loop's branch in :mod:`.maxpool_kernels`."""

from __future__ import annotations

import numpy as np

from .kernels import dense_to_events
from .neurons import CpuNeurons
from .tables import Kind, Pop, compiled_neuron

__all__ = ["CpuMaxPool"]


class CpuMaxPool(CpuNeurons):
    """Each unit sends the maximum of its window's taps (taps outside the input skipped)."""

    def __init__(self, population, batch, dtype):
        super().__init__(population, batch, dtype)
        self.valid = population.model.valid_taps()  # (size, K)
        self.floor = np.where(self.valid, 0, -np.inf).astype(self.dtype)
        self.out = np.zeros((batch, population.size), dtype=self.dtype)

    def step(self, ports, events):
        taps = ports["input"].reshape(self.batch, *self.valid.shape)
        np.max(taps + self.floor, axis=2, out=self.out)
        self.out[~np.isfinite(self.out)] = 0.0
        dense_to_events(self.out, events.ptr, events.idx, events.val)


# the compiled loop's branch of the model (:mod:`.runloop`): the THETA column holds the
# number of valid taps of each window
compiled_neuron("maxpool", Kind.MAXPOOL, columns=(Pop.THETA,))(CpuMaxPool)
