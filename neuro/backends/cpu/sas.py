"""SAS 1:M on the CPU scheduler: one event per non-zero input, routed to its slot."""

from __future__ import annotations

from numba import njit

from ...models.sas import sas_group_size
from .neurons import CPU_NEURONS, CpuNeurons

__all__ = ["CpuSAS", "sas_events"]


@njit(cache=True, nogil=True)
def sas_events(x, m, g, channels, ptr, idx, val):
    """SAS projection of ``x`` (B, channels * positions) into events; returns the count.

    Input (c, p) with value v sends |v| to output unit ``(c * m + slot) * positions + p``
    where ``slot`` = sum_j [x(group j) <= 0] * 2**j over the g channels of c's group.
    """
    b_count, n = x.shape
    positions = n // channels
    e = 0
    for b in range(b_count):
        ptr[b] = e
        row = x[b]
        for c in range(channels):
            first = (c // g) * g if g > 0 else c
            for p in range(positions):
                v = row[c * positions + p]
                if v == 0:
                    continue
                if m == 1:
                    idx[e] = c * positions + p
                    val[e] = v
                    e += 1
                    continue
                slot = 0
                for j in range(g):
                    if row[(first + j) * positions + p] <= 0:
                        slot += 1 << j
                idx[e] = (c * m + slot) * positions + p
                val[e] = abs(v)
                e += 1
    ptr[b_count] = e
    return e


@CPU_NEURONS.register("sas")
class CpuSAS(CpuNeurons):
    """Each non-zero input sends |x| into the slot its group's signs choose."""

    def __init__(self, population, batch, dtype):
        super().__init__(population, batch, dtype)
        model = population.model
        self.m = model.m
        self.g = sas_group_size(model.m)
        self.channels = model.in_channels(population.size // model.m)

    def step(self, ports, events):
        sas_events(
            ports["input"], self.m, self.g, self.channels, events.ptr, events.idx, events.val
        )
