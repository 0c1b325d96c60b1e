"""The op counts of one run under the definitions other tools use, side by side.

All rows are computed from the same events; they differ only in what one "op" is:

``synops`` (neuro)
    Σ over delivered events of the non-zero weights in the unit's fan-out.
NeuroBench ``Dense``
    every connection × every input, zeros included (= ``dense_macs``).
NeuroBench ``Eff_MACs`` / ``Eff_ACs``
    effective synaptic ops, non-zero input × non-zero weight (= ``synops``), split by
    NeuroBench's rule: projections whose inputs all lie in {-1, 0, 1} (binary spikes,
    one-hot tokens) count accumulates (``synops_ac``), graded ones MACs (``synops_mac``).
Sinabs-style ``Σ value × fan-out``
    Σ over delivered events of |value| × all connections of the unit (Sinabs multiplies
    the summed input activity of a layer by its fan-out); needs the event values, which
    the ``cores`` backend records.
SNN-Toolbox ``events × fan-out``
    Σ over delivered events of all connections of the unit (= ``activity_sparse_macs``).

Each row gives the total, the mean per sample and the mean per sample-step (per token
for a language model).  Cores and chips come from the hardware section of a ``cores``
run (or a mapping passed in).  The notes list where the counts still differ from
NeuroBench (:data:`neuro.audit.glossary.NEUROBENCH_DIFFERENCES`).
"""

from __future__ import annotations

from .glossary import NEUROBENCH_DIFFERENCES, describe

__all__ = ["compare", "ROWS"]

_OWN = describe(("synops", "dense_macs", "synops_mac", "synops_ac", "weight_sparse_macs"))
ROWS = {
    "neuro synops": _OWN["synops"],
    "NeuroBench dense ops": _OWN["dense_macs"],
    "NeuroBench effective MACs": _OWN["synops_mac"],
    "NeuroBench effective ACs": _OWN["synops_ac"],
    "Sinabs Σ value × fan-out": "Σ over delivered events of |value| × all connections",
    "SNN-Toolbox events × fan-out": describe(("activity_sparse_macs",))["activity_sparse_macs"],
    "weight-sparse MACs": _OWN["weight_sparse_macs"],
}


def compare(counts, network, extras: dict | None = None, mapping=None) -> dict:
    """Rows of the comparison (see the module docstring).

    Parameters
    ----------
    counts : Counts
    network : Network
    extras : dict, optional
        ``info`` of the run: ``activity`` (event values) and ``hardware`` sections.
    mapping : Mapping, optional
        Cores and chips when the run was not on ``cores``.

    Returns
    -------
    dict
        ``{"rows": {name: {"definition", "total", "per_sample", "per_step"}},
        "cores": int or None, "chips": int or None, "notes": [...]}``; a total is None
        where the run did not record what the definition needs.
    """
    extras = extras or {}
    activity = extras.get("activity")
    eff_ac = counts.synops_ac
    totals = {
        "neuro synops": counts.synops,
        "NeuroBench dense ops": counts.dense_macs,
        "NeuroBench effective MACs": counts.synops - eff_ac,
        "NeuroBench effective ACs": eff_ac,
        "Sinabs Σ value × fan-out": (
            float(sum(activity["value_fanout"].values()))
            if activity and "value_fanout" in activity
            else None
        ),
        "SNN-Toolbox events × fan-out": counts.activity_sparse_macs,
        "weight-sparse MACs": counts.weight_sparse_macs,
    }
    samples, steps = counts.batch, counts.batch * counts.steps
    rows = {
        name: {
            "definition": ROWS[name],
            "total": value,
            "per_sample": None if value is None else value / samples,
            "per_step": None if value is None else value / steps,
        }
        for name, value in totals.items()
    }
    hw = extras.get("hardware")
    cores = chips = None
    if hw:
        cores, chips = hw["cores_used"], hw["chips_used"]
    elif mapping is not None:
        cores, chips = mapping.n_cores, mapping.n_chips
    notes = []
    if totals["Sinabs Σ value × fan-out"] is None:
        notes.append("Sinabs row needs event values: run on backend 'cores'.")
    notes += [f"differs from NeuroBench 2.3.0: {d}" for d in NEUROBENCH_DIFFERENCES]
    return {"rows": rows, "cores": cores, "chips": chips, "notes": notes}
