"""Putting the parts of a split batch back together, exactly.

* Counts: every field is a sum over samples (events, synops, MACs, neuron updates), so
  the counts of the parts add field by field; the batch sizes add, the steps are equal.
* Recordings and state: concatenated along the batch axis in part order.
* ``info``: values every part agrees on are kept; the ``cores`` backend's ``hardware``
  and ``activity`` sections are merged (integer counters add; per-core energy and busy
  time are recomputed from the merged counters with the profile, as a single run
  computes them; latency statistics are combined weighted by the parts' batch sizes);
  any other value that differs between parts becomes the list of the parts' values.
"""

from __future__ import annotations

import numpy as np

from ..audit.counts import PROJECTION_FIELDS, Counts, PopulationCounts, ProjectionCounts
from ..exceptions import BackendError

__all__ = [
    "merge_counts",
    "merge_hardware",
    "merge_info",
    "merge_recordings",
    "merge_states",
]


def merge_counts(parts: list[Counts]) -> Counts:
    """Counts of one run over the union of the parts' samples.

    Parameters
    ----------
    parts : list of Counts
        Counts of the same network over the same steps, on disjoint samples.

    Returns
    -------
    Counts
        ``batch`` = Σ batches; every population and projection field summed.
    """
    first = parts[0]
    for c in parts[1:]:
        if set(c.projections) != set(first.projections) or set(c.populations) != set(
            first.populations
        ):
            raise BackendError(
                f"cannot merge counts of different networks: projections {sorted(c.projections)}"
                f" vs {sorted(first.projections)}."
            )
        if c.steps != first.steps:
            raise BackendError(
                f"cannot merge counts over {c.steps} and {first.steps} steps; the parts of a "
                "batch run the same steps."
            )
    pops = {
        n: PopulationCounts(
            n,
            p.model,
            p.size,
            sum(int(c.populations[n].events) for c in parts),
            sum(int(c.populations[n].neuron_updates) for c in parts),
            sum(int(c.populations[n].comparisons) for c in parts),
        )
        for n, p in first.populations.items()
    }
    projs = {
        n: ProjectionCounts(
            n,
            p.pre,
            p.post,
            p.port,
            **{f: sum(int(getattr(c.projections[n], f)) for c in parts) for f in PROJECTION_FIELDS},
        )
        for n, p in first.projections.items()
    }
    batch = sum(c.batch for c in parts)
    ac = frozenset.intersection(*(frozenset(c.ac) for c in parts))  # ACs in every part
    return Counts(batch, first.steps, pops, projs, first.lookups, ac)


def merge_recordings(parts: list[dict], axis: int) -> dict:
    """Concatenate each population's recordings along the batch ``axis``."""
    return {name: np.concatenate([p[name] for p in parts], axis=axis) for name in parts[0]}


def merge_states(parts: list[dict]) -> dict:
    """Concatenate the parts' ``final_state`` along the batch axis (axis 0)."""
    out = {}
    for name, entry in parts[0].items():
        out[name] = {
            "state": {
                k: np.concatenate([p[name]["state"][k] for p in parts]) for k in entry["state"]
            },
            "history": [
                np.concatenate([p[name]["history"][i] for p in parts])
                for i in range(len(entry["history"]))
            ],
        }
    return out


def _equal(a, b) -> bool:
    try:
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
        if isinstance(a, (list, tuple, np.ndarray)) or isinstance(b, (list, tuple, np.ndarray)):
            return np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object))
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _add_lists(values: list) -> list:
    return np.sum([np.asarray(v) for v in values], axis=0).tolist()


def _weighted(values, weights) -> float:
    return float(sum(w * v for v, w in zip(values, weights)) / sum(weights))


def merge_hardware(sections: list[dict], batches: list[int], profile) -> dict:
    """Merge the ``hardware`` sections of ``cores`` runs on disjoint samples.

    Parameters
    ----------
    sections : list of dict
        ``info["hardware"]`` of each part (same network, mapping and profile).
    batches : list of int
        Samples of each part.
    profile : HardwareProfile
        The profile the parts ran on.

    Returns
    -------
    dict
        The section a single run over all samples reports: counters, energy and
        busy time exact; latency mean/per-sample/per-step combined weighted by
        ``batches`` (equal to a single run's up to float rounding), max/min exact.
    """
    from ..backends.cores.counters import COUNTERS
    from ..backends.cores.energy import core_energy_pj, core_time_ns, energy_breakdown_pj

    first = sections[0]
    B = sum(batches)
    T = first["steps"]
    per_core = {k: np.sum([s["per_core"][k] for s in sections], axis=0) for k in COUNTERS}
    energy = core_energy_pj(per_core, profile)
    e_total = float(energy.sum())
    lats = [s["latency_ns"] for s in sections]
    out = dict(first)
    out.update(
        samples=B,
        per_core={
            **{k: v.tolist() for k, v in per_core.items()},
            "energy_pj": energy.tolist(),
            "busy_time_ns": core_time_ns(per_core, profile).tolist(),
            "population": first["per_core"]["population"],
        },
        totals={k: int(per_core[k].sum()) for k in COUNTERS},
        energy_pj={
            "total": e_total,
            "per_sample": e_total / B,
            "per_step": e_total / (B * T),
            "breakdown": energy_breakdown_pj(per_core, profile),
        },
        latency_ns={
            "mean_per_step": _weighted([x["mean_per_step"] for x in lats], batches),
            "max_per_step": max(x["max_per_step"] for x in lats),
            "min_per_step": min(x["min_per_step"] for x in lats),
            "per_sample": _weighted([x["per_sample"] for x in lats], batches),
            "barrier": first["latency_ns"]["barrier"],
            "per_step": [
                _weighted(v, batches) for v in zip(*(x["per_step"] for x in lats), strict=True)
            ],
        },
        per_step={k: _add_lists([s["per_step"][k] for s in sections]) for k in first["per_step"]},
        warnings=list(dict.fromkeys(w for s in sections for w in s["warnings"])),
    )
    if "per_step_per_core" in first:
        out["per_step_per_core"] = {
            k: _add_lists([s["per_step_per_core"][k] for s in sections])
            for k in first["per_step_per_core"]
        }
    return out


def _merge_activity(sections: list[dict]) -> dict:
    first = sections[0]
    return {
        "value_fanout": {
            k: float(sum(s["value_fanout"][k] for s in sections)) for k in first["value_fanout"]
        },
        "nonbinary_events": {
            k: int(sum(s["nonbinary_events"][k] for s in sections))
            for k in first["nonbinary_events"]
        },
        "unit_events": {
            k: _add_lists([s["unit_events"][k] for s in sections]) for k in first["unit_events"]
        },
    }


def merge_info(infos: list[dict], batches: list[int], profile=None) -> dict:
    """Merge the parts' ``info`` dicts (see the module notes).

    Parameters
    ----------
    infos : list of dict
    batches : list of int
        Samples of each part.
    profile : HardwareProfile, optional
        Needed when the parts carry a ``hardware`` section.
    """
    out = {}
    keys = list(dict.fromkeys(k for info in infos for k in info))
    for key in keys:
        values = [info.get(key) for info in infos]
        if key == "hardware" and all(v is not None for v in values):
            out[key] = merge_hardware(values, batches, profile)
        elif key == "activity" and all(v is not None for v in values):
            out[key] = _merge_activity(values)
        elif all(_equal(values[0], v) for v in values[1:]):
            out[key] = values[0]
        else:
            out[key] = values
    return out
