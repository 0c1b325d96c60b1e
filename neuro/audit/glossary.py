"""The one table of count definitions: name, formula in words, unit, NeuroBench's name.

The README's counts table (:func:`markdown_table`), the audit's definitions
(:data:`neuro.audit.report.DEFINITIONS`), the comparison with other tools
(:mod:`neuro.audit.definitions`) and the ``cores`` hardware summary read it; a test
checks that the README shows exactly this table.  :data:`NEUROBENCH_DIFFERENCES` lists
where the counts still differ from NeuroBench 2.3.0's ``SynapticOperations``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Definition",
    "DEFINITIONS",
    "NEUROBENCH_DIFFERENCES",
    "describe",
    "markdown_table",
]


@dataclass(frozen=True)
class Definition:
    """One count.

    Attributes
    ----------
    name : str
        Field of :class:`~neuro.audit.counts.Counts` (a total; per projection or per
        population as ``scope`` says).
    scope : str
        ``"projection"``, ``"population"`` or ``"network"`` (derived from the others).
    formula : str
        What is counted, in words.
    unit : str
    neurobench : str
        The NeuroBench 2.3.0 quantity it equals, or why there is none.
    """

    name: str
    scope: str
    formula: str
    unit: str
    neurobench: str


DEFINITIONS = (
    Definition(
        "events",
        "population",
        "non-zero outputs of a population (graded messages sent), every step and sample",
        "events",
        "— (ActivationSparsity = 1 − events / outputs, over torch activation layers)",
    ),
    Definition(
        "events_in",
        "projection",
        "events delivered through the projection (non-zero outputs of its source)",
        "events",
        "—",
    ),
    Definition(
        "synops",
        "projection",
        "Σ over delivered events of the non-zero weights in the unit's fan-out, synaptic "
        "projections only (pooling and routing excluded)",
        "operations",
        "Effective_MACs + Effective_ACs",
    ),
    Definition(
        "synops_ac",
        "network",
        "synops of projections whose inputs all lie in {-1, 0, 1} over the run",
        "accumulates",
        "Effective_ACs",
    ),
    Definition(
        "synops_mac",
        "network",
        "synops − synops_ac (projections with graded inputs)",
        "MACs",
        "Effective_MACs",
    ),
    Definition(
        "activity_sparse_macs",
        "projection",
        "Σ over delivered events of the unit's connections in the dense layer (zero "
        "weights included, whatever the storage)",
        "MACs",
        "— (SNN-Toolbox's events × fan-out)",
    ),
    Definition(
        "weight_sparse_macs",
        "projection",
        "non-zero weights × all inputs, every step (an embedding lookup: the non-zero "
        "entries of the rows read)",
        "MACs",
        "—",
    ),
    Definition(
        "dense_macs",
        "projection",
        "all connections of the dense layer × all inputs, every step, whatever the weight "
        "storage (convolution taps on padding excluded; an embedding lookup: the entries "
        "of the rows read)",
        "MACs",
        "Dense",
    ),
    Definition(
        "pool_ops",
        "projection",
        "average pooling: Σ over delivered events of the windows each enters (additions; "
        "not synops or MACs)",
        "additions",
        "— (pooling is not counted)",
    ),
    Definition(
        "comparisons",
        "population",
        "max pooling: Σ over delivered events of the windows each enters (not synops or MACs)",
        "comparisons",
        "— (pooling is not counted)",
    ),
    Definition(
        "neuron_updates",
        "population",
        "units × steps × samples of every non-input population",
        "updates",
        "— (MembraneUpdates counts snnTorch membrane changes)",
    ),
)
"""Every count, in the order of the README's table."""

NEUROBENCH_DIFFERENCES = (
    "AC or MAC is decided per projection over the whole run (input populations whose "
    "values all lie in {-1, 0, 1}, token inputs, models declaring ternary outputs); "
    "NeuroBench decides per layer and forward call from that call's input tensor, so a "
    "run that is ternary at some steps only counts MACs here and a mix there.",
    "NeuroBench counts Linear, Conv1d/2d/3d and recurrent torch layers only; synops here "
    "cover every synaptic projection: EGRU, SAS and k-WTA projections, identity "
    "projections a converter adds (a residual shortcut costs one synop per event) and "
    "embedding lookups (the rows read; NeuroBench's Dense of a one-hot Linear is V × width).",
    "A projection converted from pooling stays a pooling projection only while no other "
    "operator is folded into it (a BatchNorm right after an average pool makes it a "
    "synaptic depthwise projection).",
    "NeuroBench finds activations by type: a custom activation (e.g. neuro.torch.FATReLU) "
    "counts in its activation sparsity only when it subclasses a torch activation; synops "
    "are unaffected (they depend on the inputs of the Linear/Conv layers).",
    "Time: NeuroBench sums over forward calls and divides by samples; counts here sum over "
    "steps and samples (per_sample() divides by samples, per_step() by samples × steps).",
)
"""Remaining differences from NeuroBench 2.3.0 (the audit and the docs show them)."""


def describe(names=None) -> dict[str, str]:
    """``{name: formula}`` of the given counts (all by default), in table order."""
    rows = {d.name: d.formula for d in DEFINITIONS}
    return rows if names is None else {n: rows[n] for n in names}


def markdown_table() -> str:
    """The README's counts table."""
    lines = ["| count | what is counted | unit | NeuroBench 2.3.0 |", "|---|---|---|---|"]
    lines += [f"| `{d.name}` | {d.formula} | {d.unit} | {d.neurobench} |" for d in DEFINITIONS]
    return "\n".join(lines)
