"""The hardware section of a ``cores`` run's ``info``: JSON-ready per-core tables and totals."""

from __future__ import annotations

import numpy as np

from .counters import COUNTERS
from .energy import core_energy_pj, core_time_ns, energy_breakdown_pj

__all__ = ["hardware_section", "output_difference", "DEFINITIONS"]

DEFINITIONS = {
    "synops": "non-zero synapses reached by delivered events, counted on the core holding "
    "the synapse (the post-synaptic unit's core)",
    "updates_active": "neuron updates of units that emitted an event in that step",
    "updates_inactive": "neuron updates of units that did not (input populations do none)",
    "messages": "one message per (delivered event, destination core) pair: an event is sent "
    "once to every core holding at least one of its targets through projections of one delay",
    "hops": "tile boundaries crossed by a dimension-ordered route, east-west and north-south "
    "separately, charged to the sending core; messages within a tile cost no hop",
    "latency": "per sample-step: slowest core's busy time (Σ ops × time per op, messages "
    "serialised) + barrier synchronisation over the tiles in use, at least tick_ns",
    "energy": "Σ over cores of ops × energy per op (synops, active/inactive updates, "
    "within-tile spikes, E-W/N-S hops, chip crossings); static power not modelled",
}


def hardware_section(profile, mapping, sim, inputs, warnings) -> dict:
    """Summarise a counted run (see :class:`~neuro.backends.cores.simulate.Simulation`)."""
    B, T = inputs.batch, inputs.steps
    totals = sim.counters.total
    energy = core_energy_pj(totals, profile)
    busy = core_time_ns(totals, profile)
    lat = sim.latency_ns
    e_total = float(energy.sum())
    section = {
        "profile": profile.name,
        "profile_description": profile.description,
        "assumed_profile_fields": list(profile.assumptions()),
        "cores_used": mapping.n_cores,
        "chips_used": mapping.n_chips,
        "tiles_used": mapping.n_tiles,
        "weight_bits_stored": mapping.weight_bits,
        "samples": B,
        "steps": T,
        "definitions": DEFINITIONS,
        "mapping": mapping.to_dict(),
        "per_core": {
            **{k: totals[k].tolist() for k in COUNTERS},
            "energy_pj": energy.tolist(),
            "busy_time_ns": busy.tolist(),
            "population": list(mapping.cores["population"]),
        },
        "totals": {k: int(totals[k].sum()) for k in COUNTERS},
        "energy_pj": {
            "total": e_total,
            "per_sample": e_total / B,
            "per_step": e_total / (B * T),
            "breakdown": energy_breakdown_pj(totals, profile),
        },
        "latency_ns": {
            "mean_per_step": float(lat.mean()),
            "max_per_step": float(lat.max()),
            "min_per_step": float(lat.min()),
            "per_sample": float(lat.sum() / B),
            "barrier": float(profile.barrier_sync_ns(max(1, mapping.n_tiles))),
            "per_step": lat.mean(axis=1).tolist(),
        },
        "per_step": {
            **{k: v.tolist() for k, v in sim.counters.network_per_step.items()},
            "energy_pj": sim.energy_per_step_pj.tolist(),
        },
        "warnings": list(warnings),
    }
    if sim.counters.per_step is not None:
        section["per_step_per_core"] = {k: v.tolist() for k, v in sim.counters.per_step.items()}
    return section


def output_difference(network, quantized: dict, reference: dict) -> dict:
    """Per output population: max |Δ|, RMS Δ, ‖Δ‖/‖float‖ and argmax agreement."""
    out = {}
    for name in network.outputs:
        if name not in quantized or name not in reference:
            continue
        q = np.asarray(quantized[name], np.float64)
        f = np.asarray(reference[name], np.float64)
        d = q - f
        norm = float(np.linalg.norm(f))
        out[name] = {
            "max_abs": float(np.max(np.abs(d))) if d.size else 0.0,
            "rms": float(np.sqrt(np.mean(d**2))) if d.size else 0.0,
            "relative_l2": float(np.linalg.norm(d) / norm) if norm else float(np.linalg.norm(d)),
            "argmax_agreement": float(np.mean(q.argmax(-1) == f.argmax(-1))) if d.size else 1.0,
        }
    return out
