"""EGRU units on the CPU scheduler: gate math and event emission in one compiled loop."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .neurons import CPU_NEURONS, CpuNeurons

__all__ = ["CpuEGRU", "egru_events"]


@njit(cache=True, nogil=True)
def egru_events(a, q, c, thr, ptr, idx, val):
    """EGRU step for a batch; writes events for units with y != 0 and updates c in place.

    Parameters
    ----------
    a, q : ndarray, shape (B, 3H)
        Input and recurrent port buffers (biases included), blocks z | r | g.
    c : ndarray, shape (B, H)
        Internal state, updated in place.
    thr : ndarray, shape (H,)
    ptr, idx, val : event buffer arrays (see ``EventBuffer``).

    Returns
    -------
    int
        Number of events written.
    """
    n_batch, h = c.shape
    k = 0
    for b in range(n_batch):
        ptr[b] = k
        ab = a[b]
        qb = q[b]
        cb = c[b]
        for i in range(h):
            z = 1.0 / (1.0 + math.exp(-(ab[i] + qb[i])))
            r = 1.0 / (1.0 + math.exp(-(ab[h + i] + qb[h + i])))
            g = math.tanh(ab[2 * h + i] + r * qb[2 * h + i])
            c_hat = z * cb[i] + (1.0 - z) * g
            if c_hat > thr[i]:
                idx[k] = i
                val[k] = c_hat
                k += 1
                cb[i] = c_hat - thr[i]
            else:
                cb[i] = c_hat
    ptr[n_batch] = k
    return k


@CPU_NEURONS.register("egru")
class CpuEGRU(CpuNeurons):
    """EGRU population kernel; state ``c`` kept in the run's dtype."""

    def __init__(self, population, batch, dtype):
        super().__init__(population, batch, dtype)
        self.thr = np.ascontiguousarray(population.model.threshold, dtype=self.dtype)
        self.c = np.zeros((batch, population.size), dtype=self.dtype)

    def step(self, ports, events):
        egru_events(
            ports["input"], ports["recurrent"], self.c, self.thr, events.ptr, events.idx, events.val
        )

    def get_state(self):
        return {"c": self.c.astype(np.float64)}

    def set_state(self, state):
        if "c" in state:
            self.c[:] = np.asarray(state["c"]).reshape(self.c.shape)
