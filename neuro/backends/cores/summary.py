"""The hardware section of a ``cores`` run's ``info``: JSON-ready per-core tables and totals."""

from __future__ import annotations

import numpy as np

from ...audit.glossary import describe
from ...hardware import cost_terms
from ...hardware.mapper import PLACEMENTS
from .counters import COUNTERS
from .energy import core_energy_pj, core_time_ns, energy_breakdown_pj

__all__ = ["hardware_section", "output_difference", "critical_path", "DEFINITIONS"]

TERMS_PER_STEP_LIMIT = 1000
"""Per-step rows of the critical path keep the time of every term up to this many steps."""

DEFINITIONS = {
    "synops (network)": describe(("synops",))["synops"],
    "synops": "per core: non-zero synapses reached by delivered events, counted on the core "
    "holding the synapse (the post-synaptic unit's core); pooling projections are charged "
    "too, so the sum over cores is the network's synops + pool_ops + comparisons",
    "synaptic events": "stored connections reached by emitted events (syn_dense, syn_sparse, "
    "syn_conv by projection kind; zero weights included when the mapping stores them), "
    "counted on the core holding the synapse in the step the event is emitted",
    "updates_active": "neuron updates of units that emitted an event in that step",
    "updates_inactive": "neuron updates of units that did not (input populations do none)",
    "messages": "one message per (emitted event, destination core) pair, in the step the "
    "event is emitted: an event is sent once to every core holding at least one of its "
    "targets through projections of one delay",
    "hops": "tile boundaries crossed by a dimension-ordered route, east-west and north-south "
    "separately, charged to the sending core; messages within a tile cost no hop",
    "latency": "per sample-step: slowest core's busy time + barrier synchronisation over the "
    "tiles in use, at least tick_ns; busy time = max(neuron side, synapse side) in simple "
    "timing, their sum plus routing in serial timing",
    "energy": "Σ over cores and cost terms of count × energy per count (see cost_terms); "
    "static power not modelled",
}


def critical_path(sim, mapping) -> dict:
    """Per step, the critical core and the cost term that dominates its time.

    Returns
    -------
    dict
        ``per_step``: for each step the critical ``core``, its ``population``, the
        ``sample``, its ``busy_ns`` and the ``dominant`` term with its ``share`` of the
        busy time (and ``terms_ns``, the time of every term, for runs of at most
        :data:`TERMS_PER_STEP_LIMIT` steps); ``summary``: the core critical in most
        steps, its population, and the term dominating most steps with its mean share.
    """
    crit = sim.critical
    pops = mapping.cores["population"]
    rows = []
    for t, terms in enumerate(crit["terms_ns"]):
        core = int(crit["core"][t])
        busy = float(crit["busy_ns"][t])
        total = sum(terms.values())
        top = max(terms, key=terms.get) if terms else None
        rows.append(
            {
                "core": core,
                "population": str(pops[core]) if len(pops) else None,
                "sample": int(crit["sample"][t]),
                "busy_ns": busy,
                "dominant": top,
                "share": (terms[top] / total) if top and total else 0.0,
            }
        )
        if len(crit["terms_ns"]) <= TERMS_PER_STEP_LIMIT:
            rows[-1]["terms_ns"] = terms
    summary = {}
    if rows:
        cores = [r["core"] for r in rows]
        core = max(set(cores), key=cores.count)
        tops = [r["dominant"] for r in rows if r["dominant"]]
        top = max(set(tops), key=tops.count) if tops else None
        shares = [r["share"] for r in rows if r["dominant"] == top]
        summary = {
            "core": core,
            "population": rows[cores.index(core)]["population"],
            "steps_critical": cores.count(core),
            "dominant": top,
            "mean_share": float(np.mean(shares)) if shares else 0.0,
            "units_on_core": int(mapping.cores["units"][core]) if len(pops) else 0,
        }
    return {"per_step": rows, "summary": summary}


def hardware_section(profile, mapping, sim, inputs, warnings, timing="simple") -> dict:
    """Summarise a counted run (see :class:`~neuro.backends.cores.simulate.Simulation`)."""
    B, T = inputs.batch, inputs.steps
    terms = cost_terms(profile, timing)
    borrowed = [t["term"] for t in terms["included"] if t["on_critical_path"] and t["assumption"]]
    if borrowed:
        warnings = [
            *warnings,
            f"profile {profile.name!r}: the time of {', '.join(borrowed)} is an assumption "
            "(not a published figure for this chip); comparing its latency with another "
            "profile's compares placements (units and synapses per core, see the critical "
            "core) more than chip speed.",
        ]
    totals = sim.counters.total
    energy = core_energy_pj(totals, profile)
    busy = core_time_ns(totals, profile, timing)
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
        "placement": {"policy": mapping.placement, "rule": PLACEMENTS[mapping.placement]},
        "zero_weights": mapping.zero_weights,
        "timing": timing,
        "cost_terms": terms,
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
        "critical_path": critical_path(sim, mapping),
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
