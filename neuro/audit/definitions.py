"""The op counts of one run under the definitions other tools use, side by side.

All rows are computed from the same events; they differ only in what one "op" is:

``synops`` (neuro)
    Σ over delivered events of the non-zero weights in the unit's fan-out.
NeuroBench ``Dense``
    every connection × every input, zeros included (= ``dense_macs``).
NeuroBench ``Eff_MACs`` / ``Eff_ACs``
    effective synaptic ops, non-zero input × non-zero weight (= ``synops``), split by
    the kind of input: projections whose delivered events all carry the value 1
    (binary spikes, one-hot tokens) count as accumulates (ACs), graded ones as MACs.
Sinabs-style ``Σ value × fan-out``
    Σ over delivered events of |value| × all connections of the unit (Sinabs multiplies
    the summed input activity of a layer by its fan-out); needs the event values, which
    the ``cores`` backend records.
SNN-Toolbox ``events × fan-out``
    Σ over delivered events of all connections of the unit (= ``activity_sparse_macs``).

Each row gives the total, the mean per sample and the mean per sample-step (per token
for a language model).  Cores and chips come from the hardware section of a ``cores``
run (or a mapping passed in).
"""

from __future__ import annotations

__all__ = ["compare", "ROWS"]

ROWS = {
    "neuro synops": "Σ over delivered events of non-zero fan-out weights",
    "NeuroBench dense ops": "all connections × all inputs (zeros included)",
    "NeuroBench effective MACs": "non-zero input × non-zero weight, graded inputs",
    "NeuroBench effective ACs": "non-zero input × non-zero weight, binary inputs (value 1)",
    "Sinabs Σ value × fan-out": "Σ over delivered events of |value| × all connections",
    "SNN-Toolbox events × fan-out": "Σ over delivered events of all connections",
    "weight-sparse MACs": "non-zero weights × all inputs",
}


def _binary_projections(counts, network, activity):
    """Projections whose delivered events all had value 1."""
    if activity and "nonbinary_events" in activity:
        return {n for n, k in activity["nonbinary_events"].items() if k == 0}
    return {
        n for n, p in counts.projections.items() if network.populations[p.pre].model.type == "token"
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
    binary = _binary_projections(counts, network, activity)
    projs = counts.projections.values()
    eff_ac = sum(p.synops for p in projs if p.name in binary)
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
    if not activity:
        notes.append(
            "AC/MAC split assumed from the input model (token inputs binary, others graded)."
        )
    return {"rows": rows, "cores": cores, "chips": chips, "notes": notes}
