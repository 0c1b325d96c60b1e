"""Per-core operation counters of the ``cores`` backend (compiled, exact integer counts).

Every kernel reads one event buffer (``ptr``, ``idx``, ``val``, see
:class:`~neuro.backends.cpu.events.EventBuffer`) and adds to (B, n_cores) arrays, one
row per sample, so that the latency of each sample's step can be read off its slowest
core.  Summed over cores they reproduce the network totals of the ``cpu`` backend
exactly: synaptic ops per event are split over cores by where the synapses lie.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "COUNTERS",
    "StepCounters",
    "count_synops",
    "count_events",
    "count_messages",
    "count_active",
    "count_spikes",
]

COUNTERS = (
    "synops",
    "syn_dense",
    "syn_sparse",
    "syn_conv",
    "updates_active",
    "updates_inactive",
    "spikes",
    "messages_sent",
    "messages_received",
    "messages_within_tile",
    "hops_east_west",
    "hops_north_south",
    "chip_crossings",
)
"""Per-core counters.  ``synops`` counts non-zero synapses reached (the network count);
``syn_dense``, ``syn_sparse`` and ``syn_conv`` count the stored connections reached (the
charged synaptic events, zero weights included when the mapping stores them) by the
kind of the projection.  ``spikes`` counts the events of units that fire a spike (every
non-input population except readouts, whose values are read out, not sent).  Hops, chip
crossings and within-tile messages are charged to the sending core; a message to a core
of the same tile (itself included) is within tile."""


@njit(cache=True, nogil=True)
def count_synops(ptr, idx, val, indptr, cores, counts, fan_tot, syn):
    """Add each event's synaptic ops to the cores holding its synapses.

    Returns
    -------
    value_fanout : float
        Σ |value| × all connections of the unit (Sinabs-style synops).
    nonbinary : int
        Events whose value is not exactly 1.
    """
    value_fanout = 0.0
    nonbinary = 0
    for b in range(syn.shape[0]):
        row = syn[b]
        for k in range(ptr[b], ptr[b + 1]):
            i = idx[k]
            for j in range(indptr[i], indptr[i + 1]):
                row[cores[j]] += counts[j]
            v = val[k]
            value_fanout += abs(v) * fan_tot[i]
            if v != 1.0:
                nonbinary += 1
    return value_fanout, nonbinary


@njit(cache=True, nogil=True)
def count_events(ptr, idx, indptr, cores, counts, out):
    """Add each event's stored connections to the cores holding them (``out``: (B, n_cores))."""
    for b in range(out.shape[0]):
        row = out[b]
        for k in range(ptr[b], ptr[b + 1]):
            i = idx[k]
            for j in range(indptr[i], indptr[i + 1]):
                row[cores[j]] += counts[j]


@njit(cache=True, nogil=True)
def count_messages(
    ptr, idx, src_core, indptr, dst, same, ew, ns, cross, sent, recv, within, hew, hns, hcr
):
    """One message per (event, destination core); routes charged to the sender."""
    for b in range(sent.shape[0]):
        for k in range(ptr[b], ptr[b + 1]):
            i = idx[k]
            s = src_core[i]
            for j in range(indptr[i], indptr[i + 1]):
                d = dst[j]
                sent[b, s] += 1
                recv[b, d] += 1
                if same[j]:
                    within[b, s] += 1
                else:
                    hew[b, s] += ew[j]
                    hns[b, s] += ns[j]
                    hcr[b, s] += cross[j]


@njit(cache=True, nogil=True)
def count_spikes(ptr, idx, unit_core, spikes):
    """Spikes fired per core (events of one population), ``spikes``: (B, n_cores)."""
    for b in range(spikes.shape[0]):
        for k in range(ptr[b], ptr[b + 1]):
            spikes[b, unit_core[idx[k]]] += 1


@njit(cache=True, nogil=True)
def count_active(ptr, idx, unit_core, active, unit_events):
    """Active neuron updates (units that emitted an event) per core, events per unit."""
    for b in range(active.shape[0]):
        for k in range(ptr[b], ptr[b + 1]):
            i = idx[k]
            active[b, unit_core[i]] += 1
            unit_events[i] += 1


class StepCounters:
    """Scratch (B, n_cores) counters of one step and their running totals.

    Parameters
    ----------
    batch, n_cores, steps : int
    keep_steps : bool
        Keep per-step per-core totals (summed over samples), arrays (steps, n_cores).
    """

    def __init__(self, batch: int, n_cores: int, steps: int, keep_steps: bool):
        self.step = {k: np.zeros((batch, n_cores), np.int64) for k in COUNTERS}
        self.total = {k: np.zeros(n_cores, np.int64) for k in COUNTERS}
        self.per_step = (
            {k: np.zeros((steps, n_cores), np.int64) for k in COUNTERS} if keep_steps else None
        )
        self.network_per_step = {k: np.zeros(steps, np.int64) for k in COUNTERS}

    def reset(self) -> None:
        """Zero the scratch counters before a step."""
        for arr in self.step.values():
            arr[:] = 0

    def close_step(self, t: int) -> None:
        """Add the scratch counters of step ``t`` to the totals."""
        for k, arr in self.step.items():
            per_core = arr.sum(axis=0)
            self.total[k] += per_core
            self.network_per_step[k][t] = per_core.sum()
            if self.per_step is not None:
                self.per_step[k][t] = per_core
