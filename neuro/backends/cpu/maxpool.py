"""Max pooling populations on the CPU scheduler (step by step; see neuro.models.maxpool)."""

from __future__ import annotations

import numpy as np

from .kernels import dense_to_events
from .neurons import CpuNeurons

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
