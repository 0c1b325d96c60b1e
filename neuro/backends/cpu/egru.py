"""EGRU units on the CPU scheduler: gate math and event emission in one compiled loop."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .neurons import CPU_NEURONS, CpuNeurons
from .tables import Kind, Pop, compiled_neuron

__all__ = ["CpuEGRU", "egru_events", "egru_row_events"]


@njit(cache=True, nogil=True)
def egru_row_events(a, q, c, thr, idx, val, off):
    """EGRU step of one sample: updates ``c`` in place, writes events at ``off``.

    Parameters
    ----------
    a, q : ndarray, shape (3H,)
        Input and recurrent port vectors (biases included), blocks z | r | g.
    c : ndarray, shape (H,)
        Internal state, updated in place.
    thr : ndarray, shape (H,)
    idx, val : ndarray
        Event arrays; a unit with ``y != 0`` becomes an event at ``off + count``.

    Returns
    -------
    int
        Number of events written.
    """
    h = c.shape[0]
    k = 0
    for i in range(h):
        z = 1.0 / (1.0 + math.exp(-(a[i] + q[i])))
        r = 1.0 / (1.0 + math.exp(-(a[h + i] + q[h + i])))
        g = math.tanh(a[2 * h + i] + r * q[2 * h + i])
        c_hat = z * c[i] + (1.0 - z) * g
        if c_hat > thr[i]:
            idx[off + k] = i
            val[off + k] = c_hat
            k += 1
            c[i] = c_hat - thr[i]
        else:
            c[i] = c_hat
    return k


@njit(cache=True, nogil=True)
def egru_events(a, q, c, thr, ptr, idx, val):
    """EGRU step for a batch (see :func:`egru_row_events`); returns the event count.

    ``a, q`` are (B, 3H) port buffers, ``c`` (B, H) the state; events of sample ``b``
    land in ``idx[ptr[b]:ptr[b+1]]`` (see ``EventBuffer``).
    """
    k = 0
    for b in range(c.shape[0]):
        ptr[b] = k
        k += egru_row_events(a[b], q[b], c[b], thr, idx, val, k)
    ptr[c.shape[0]] = k
    return k


@CPU_NEURONS.register("egru")
class CpuEGRU(CpuNeurons):
    """EGRU population kernel; the state field ``c`` is kept in the run's dtype."""

    def __init__(self, population, batch, dtype):
        super().__init__(population, batch, dtype)
        self.thr = np.ascontiguousarray(population.model.threshold, dtype=self.dtype)

    def step(self, ports, events):
        egru_events(
            ports["input"], ports["recurrent"], self.c, self.thr, events.ptr, events.idx, events.val
        )


# the compiled loop's branch of the model (:mod:`.runloop`)
compiled_neuron("egru", Kind.EGRU, columns=(Pop.THETA, Pop.STATE), state="c")(CpuEGRU)
