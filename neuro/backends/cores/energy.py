"""Cost model of the ``cores`` backend: per-core time and energy from operation counts.

For one core and one sample-step, with the counters of
:data:`~neuro.backends.cores.counters.COUNTERS` and the profile's costs:

    busy time  = synops · t_synop + active · t_update,active + inactive · t_update,inactive
                 + within-tile messages · t_spike,tile + E-W hops · t_hop,EW
                 + N-S hops · t_hop,NS + chip crossings · t_chip
    energy     = the same sum with the energies e_* in place of the times t_*

Messages of a core are charged one after another (no overlap of routing with other
work): the busy time is an upper bound for a pipelined chip.  The latency of a step
is that of the slowest core plus the barrier synchronisation over the tiles in use
(:meth:`~neuro.hardware.HardwareProfile.barrier_sync_ns`), and at least ``tick_ns``
on a chip with a fixed step period.  Energy is Σ over cores; static (leakage) power is
not modelled.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TIME_FIELDS", "ENERGY_FIELDS", "core_time_ns", "core_energy_pj", "step_latency_ns"]

TIME_FIELDS = {
    "synops": "time_synop_ns",
    "updates_active": "time_neuron_update_active_ns",
    "updates_inactive": "time_neuron_update_inactive_ns",
    "messages_within_tile": "time_spike_within_tile_ns",
    "hops_east_west": "time_hop_east_west_ns",
    "hops_north_south": "time_hop_north_south_ns",
    "chip_crossings": "time_chip_crossing_ns",
}
ENERGY_FIELDS = {
    "synops": "energy_synop_pj",
    "updates_active": "energy_neuron_update_active_pj",
    "updates_inactive": "energy_neuron_update_inactive_pj",
    "messages_within_tile": "energy_spike_within_tile_pj",
    "hops_east_west": "energy_hop_east_west_pj",
    "hops_north_south": "energy_hop_north_south_pj",
    "chip_crossings": "energy_chip_crossing_pj",
}


def _weighted(counts: dict, profile, fields: dict) -> np.ndarray:
    out = None
    for key, attr in fields.items():
        term = np.asarray(counts[key], np.float64) * getattr(profile, attr)
        out = term if out is None else out + term
    return out


def core_time_ns(counts: dict, profile) -> np.ndarray:
    """Busy time per core (ns); ``counts`` maps counter names to arrays (..., n_cores)."""
    return _weighted(counts, profile, TIME_FIELDS)


def core_energy_pj(counts: dict, profile) -> np.ndarray:
    """Energy per core (pJ); ``counts`` maps counter names to arrays (..., n_cores)."""
    return _weighted(counts, profile, ENERGY_FIELDS)


def energy_breakdown_pj(totals: dict, profile) -> dict[str, float]:
    """Energy of each kind of operation, summed over cores (pJ)."""
    return {
        key: float(np.sum(totals[key]) * getattr(profile, attr))
        for key, attr in ENERGY_FIELDS.items()
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
