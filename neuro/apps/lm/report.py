"""Per-token cost of an event-driven language-model run, projection by projection."""

from __future__ import annotations

__all__ = ["lm_report"]


def lm_report(result) -> dict:
    """Summarise a language-model run's counts per token.

    Parameters
    ----------
    result : RunResult
        From the ``language_model`` runner (counts summed over the stream).

    Returns
    -------
    dict
        ``tokens`` (samples × steps), ``projections`` (per projection: ``role`` — one of
        ``embedding``, ``input``, ``recurrent``, ``decoder`` — and per-token ``events_in``,
        ``synops``, ``activity_sparse_macs``, ``weight_sparse_macs``, ``dense_macs``),
        ``activity`` (per EGRU layer: fraction of units sending per token), ``totals``
        (per token) and ``reductions`` (dense → weight-sparse / activity-sparse / both).
    """
    counts = result.counts
    net = result.network
    tokens = counts.batch * counts.steps
    roles = net.metadata.get("projection_roles", {})
    projections = {}
    for name, row in counts.per_projection().items():
        per = {k: row[k] / tokens for k in row if k not in ("name", "pre", "post", "port")}
        projections[name] = {"role": roles.get(name, "other"), **per}
    layers = net.metadata.get("egru_layers", [])
    activity = {n: counts.per_layer()[n]["activity"] for n in layers}
    raw = counts.totals()  # token projections already count as lookups
    totals = {k: v / tokens for k, v in raw.items()}
    return {
        "tokens": tokens,
        "projections": projections,
        "activity": activity,
        "totals": totals,
        "reductions": counts.reductions(raw),
    }
