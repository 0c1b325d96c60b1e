"""Cost model of the ``cores`` backend: per-core time and energy from operation counts.

Every term of :data:`~neuro.hardware.COST_TERMS` multiplies one per-core counter of
:mod:`.counters` by the profile's energy (pJ) and time (ns) per count:

* synapse side (the receiving core): synaptic events by connection kind (dense,
  sparse, conv; stored connections reached), a dendrite update per synaptic event,
  one receive per message;
* neuron side (the core holding the unit): a state access of every non-input unit
  every step, its update (cost for units that fired and for those that did not), an
  extra spike-generation cost per unit that fired, one send per message;
* network (charged to the sender): within-tile messages, east-west and north-south
  tile hops, chip crossings.

**Energy** of a core is the sum of every term.  **Busy time** depends on ``timing``:

``"simple"`` (default)
    SANA-FE's simple model: a core's neuron-side and synapse-side work proceed in
    parallel, routing is off the critical path, so busy time = max(neuron side,
    synapse side).
``"serial"``
    Everything a core does one after another, routes included (an upper bound for a
    pipelined chip): busy time = neuron side + synapse side + network.

The latency of a sample-step is the slowest core's busy time plus the barrier over
the tiles in use (:meth:`~neuro.hardware.HardwareProfile.barrier_sync_ns`), and at
least ``tick_ns`` on a chip with a fixed step period.  Static power is not modelled.
"""

from __future__ import annotations

import numpy as np

from ...hardware import COST_TERMS

__all__ = [
    "TIMINGS",
    "core_time_ns",
    "core_energy_pj",
    "energy_breakdown_pj",
    "step_latency_ns",
    "counter",
    "term_times_ns",
]

TIMINGS = ("simple", "serial")
_TERMS = tuple(t for t in COST_TERMS if t.energy is not None)


def counter(counts: dict, name: str) -> np.ndarray:
    """A counter array, or one derived from several (``updates``, ``syn_events``)."""
    if name == "updates":
        return np.asarray(counts["updates_active"]) + np.asarray(counts["updates_inactive"])
    if name == "syn_events":
        return (
            np.asarray(counts["syn_dense"])
            + np.asarray(counts["syn_sparse"])
            + np.asarray(counts["syn_conv"])
        )
    return np.asarray(counts[name])


def term_times_ns(counts: dict, profile) -> dict[str, np.ndarray]:
    """Time of each cost term per core (ns), arrays shaped like the counters."""
    return {
        t.name: counter(counts, t.counter).astype(np.float64) * getattr(profile, t.time)
        for t in _TERMS
    }


def _side_times(counts: dict, profile) -> dict[str, np.ndarray]:
    sides: dict[str, np.ndarray] = {}
    for t in _TERMS:
        cost = getattr(profile, t.time)
        if cost == 0:
            continue
        term = counter(counts, t.counter).astype(np.float64) * cost
        sides[t.side] = term if t.side not in sides else sides[t.side] + term
    return sides


def core_time_ns(counts: dict, profile, timing: str = "simple") -> np.ndarray:
    """Busy time per core (ns); ``counts`` maps counter names to arrays (..., n_cores)."""
    shape = np.shape(counts["synops"])
    sides = _side_times(counts, profile)
    zero = np.zeros(shape)
    neuron, synapse = sides.get("neuron", zero), sides.get("synapse", zero)
    if timing == "simple":
        return np.maximum(neuron, synapse)
    return neuron + synapse + sides.get("network", zero)


def core_energy_pj(counts: dict, profile) -> np.ndarray:
    """Energy per core (pJ); ``counts`` maps counter names to arrays (..., n_cores)."""
    out = np.zeros(np.shape(counts["synops"]))
    for t in _TERMS:
        cost = getattr(profile, t.energy)
        if cost:
            out = out + counter(counts, t.counter).astype(np.float64) * cost
    return out


def energy_breakdown_pj(totals: dict, profile) -> dict[str, float]:
    """Energy of each cost term, summed over cores (pJ)."""
    return {
        t.name: float(np.sum(counter(totals, t.counter)) * getattr(profile, t.energy))
        for t in _TERMS
    }


def step_latency_ns(core_times: np.ndarray, profile, n_tiles: int) -> np.ndarray:
    """Latency of each sample-step: slowest core + barrier, at least the tick period.

    Parameters
    ----------
    core_times : ndarray, shape (..., n_cores)
    profile : HardwareProfile
    n_tiles : int
        Tiles holding used cores.

    Returns
    -------
    ndarray, shape (...)
    """
    slowest = core_times.max(axis=-1) if core_times.shape[-1] else np.zeros(core_times.shape[:-1])
    return np.maximum(slowest + profile.barrier_sync_ns(max(1, n_tiles)), profile.tick_ns)
