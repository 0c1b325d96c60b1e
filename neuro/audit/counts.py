"""Exact operation counts of a run, in one vocabulary for every backend.

Per projection (summed over steps and samples):

``events_in``
    events delivered (non-zero outputs of the pre-synaptic population);
``synops``
    Σ over delivered events of the non-zero weights in that unit's fan-out
    (NeuroBench "effective" MACs/ACs: pairs of non-zero input × non-zero weight);
``activity_sparse_macs``
    Σ over delivered events of all connections of that unit (zero weights too);
``weight_sparse_macs``
    non-zero weights × all inputs, every step (what a weight-sparse dense-activity engine does);
``dense_macs``
    all connections × all inputs, every step (what the dense layer does).

Per population: ``events`` (non-zero outputs) and ``neuron_updates`` (every unit,
every step, every sample; input populations do no updates), and ``comparisons`` for
pooling populations (models with ``routes = True``, e.g. max pooling): Σ over delivered
events of the windows each enters.  A projection into such a population routes events
(weight 1, no multiply-accumulate): its synops and MACs are counted as the population's
comparisons instead (:meth:`Counts.resolve_lookups`).

A projection from a token input is an embedding *lookup*: a dense layer reads one row
per token, so its ``dense_macs`` are the entries of the rows read (= its activity-sparse
MACs) and its ``weight_sparse_macs`` the non-zero entries of those rows (= its synops),
not the full V × width product of a one-hot vector (:meth:`Counts.resolve_lookups`).

The reduction factors dense → weight-sparse → activity-sparse → both follow:
``dense_macs / weight_sparse_macs``, ``dense_macs / activity_sparse_macs`` and
``dense_macs / synops``; for uncorrelated sparsities the last is ≈ 1 / (d_w · d_a)
(Mukherji et al. 2023).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Counts", "ProjectionCounts", "PopulationCounts"]

PROJECTION_FIELDS = (
    "events_in",
    "synops",
    "activity_sparse_macs",
    "weight_sparse_macs",
    "dense_macs",
)


@dataclass
class ProjectionCounts:
    """Totals of one projection over a run."""

    name: str
    pre: str
    post: str
    port: str
    events_in: int = 0
    synops: int = 0
    activity_sparse_macs: int = 0
    weight_sparse_macs: int = 0
    dense_macs: int = 0


@dataclass
class PopulationCounts:
    """Totals of one population over a run."""

    name: str
    model: str
    size: int
    events: int = 0
    neuron_updates: int = 0
    comparisons: int = 0


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else float("inf") if a else 1.0


class Counts:
    """Operation counts of a run: totals, per layer, per projection, per sample.

    Attributes
    ----------
    batch, steps : int
        Samples and time steps the counts cover.
    populations : dict of str → PopulationCounts
    projections : dict of str → ProjectionCounts
    """

    def __init__(self, batch: int, steps: int, populations: dict, projections: dict, lookups=()):
        self.batch = int(batch)
        self.steps = int(steps)
        self.populations = populations
        self.projections = projections
        self.lookups = frozenset(lookups)
        self.routes = frozenset()  # projections into pooling populations, until resolved

    @classmethod
    def for_network(cls, network, batch: int, steps: int, fanout_nnz=None) -> Counts:
        """Counts with the static fields (dense and weight-sparse MACs, neuron updates) set.

        Backends add the activity-dependent fields (events, synops, ...) while running.
        ``fanout_nnz`` (projection name → non-zero weights per pre-synaptic unit) passes
        fan-outs a backend has computed already.
        """
        fanout_nnz = fanout_nnz or {}
        pops = {}
        for name, pop in network.populations.items():
            updates = 0 if pop.model.is_input else pop.size * batch * steps
            pops[name] = PopulationCounts(name, pop.model.type, pop.size, 0, updates)
        projs = {}
        for name, p in network.projections.items():
            nnz = fanout_nnz[name] if name in fanout_nnz else p.weights.fanout_nnz()
            projs[name] = ProjectionCounts(
                name,
                p.pre,
                p.post,
                p.port,
                weight_sparse_macs=int(np.sum(nnz)) * batch * steps,
                dense_macs=int(p.weights.fanout_total().sum()) * batch * steps,
            )
        lookups = [n for n, p in network.projections.items()
                   if getattr(network.populations[p.pre].model, "lookup", False)]  # fmt: skip
        counts = cls(batch, steps, pops, projs, lookups)
        pools = {n for n, p in network.populations.items() if getattr(p.model, "routes", False)}
        counts.routes = frozenset(n for n, p in network.projections.items() if p.post in pools)
        return counts

    def resolve_lookups(self) -> Counts:
        """Count embedding-lookup projections as rows read (see the module notes).

        Backends call this once their activity counts are final; returns ``self``.
        """
        for name in self.lookups:
            pc = self.projections[name]
            pc.dense_macs = pc.activity_sparse_macs
            pc.weight_sparse_macs = pc.synops
        for name in self.routes:  # pooling: comparisons, not synops
            pc = self.projections[name]
            self.populations[pc.post].comparisons += pc.synops
            pc.synops = pc.activity_sparse_macs = pc.weight_sparse_macs = pc.dense_macs = 0
        self.routes = frozenset()  # resolved once
        return self

    # -- totals -----------------------------------------------------------------------
    def _proj_total(self, field: str) -> int:
        return int(sum(getattr(p, field) for p in self.projections.values()))

    @property
    def synops(self) -> int:
        """Synaptic operations (non-zero input × non-zero weight), all projections."""
        return self._proj_total("synops")

    @property
    def activity_sparse_macs(self) -> int:
        """MACs of an engine that skips zero inputs but not zero weights."""
        return self._proj_total("activity_sparse_macs")

    @property
    def dense_macs(self) -> int:
        """MACs of the dense network."""
        return self._proj_total("dense_macs")

    @property
    def weight_sparse_macs(self) -> int:
        """MACs of an engine that skips zero weights but not zero inputs."""
        return self._proj_total("weight_sparse_macs")

    @property
    def events(self) -> int:
        """Events emitted by all populations, inputs included."""
        return int(sum(p.events for p in self.populations.values()))

    @property
    def comparisons(self) -> int:
        """Comparisons of pooling populations (max pooling), all populations."""
        return int(sum(p.comparisons for p in self.populations.values()))

    @property
    def neuron_updates(self) -> int:
        """Neuron state updates (every non-input unit, every step and sample)."""
        return int(sum(p.neuron_updates for p in self.populations.values()))

    def totals(self) -> dict[str, int]:
        """All totals as a dict."""
        return {
            "events": self.events,
            "synops": self.synops,
            "activity_sparse_macs": self.activity_sparse_macs,
            "weight_sparse_macs": self.weight_sparse_macs,
            "dense_macs": self.dense_macs,
            "neuron_updates": self.neuron_updates,
        }

    def per_sample(self) -> dict[str, float]:
        """Totals divided by the number of samples (per token for a token stream)."""
        return {k: v / self.batch for k, v in self.totals().items()}

    def per_step(self) -> dict[str, float]:
        """Totals divided by samples × steps (per token for a language model)."""
        return {k: v / (self.batch * self.steps) for k, v in self.totals().items()}

    def reductions(self, rows: dict | None = None) -> dict[str, float]:
        """Reduction factors relative to dense MACs.

        Returns
        -------
        dict
            ``weight`` = dense / weight-sparse, ``activity`` = dense / activity-sparse,
            ``both`` = dense / synops.
        """
        t = rows if rows is not None else self.totals()
        return {
            "weight": _ratio(t["dense_macs"], t["weight_sparse_macs"]),
            "activity": _ratio(t["dense_macs"], t["activity_sparse_macs"]),
            "both": _ratio(t["dense_macs"], t["synops"]),
        }

    # -- per layer --------------------------------------------------------------------
    def per_projection(self) -> dict[str, dict]:
        """One row (dict) per projection, keyed by projection name."""
        return {name: asdict(p) for name, p in self.projections.items()}

    def per_layer(self) -> dict[str, dict]:
        """One row per population (layer), keyed by its name.

        Each row has ``events`` (emitted), ``activity`` (events / (units × steps ×
        samples)), ``neuron_updates`` and the incoming projections' summed ``synops``,
        ``activity_sparse_macs``, ``weight_sparse_macs``, ``dense_macs`` and ``events_in``.
        """
        rows = {}
        for name, pop in self.populations.items():
            row = {"layer": name, "model": pop.model, "size": pop.size}
            incoming = [p for p in self.projections.values() if p.post == name]
            for f in PROJECTION_FIELDS:
                row[f] = int(sum(getattr(p, f) for p in incoming))
            row["events"] = pop.events
            row["neuron_updates"] = pop.neuron_updates
            row["activity"] = pop.events / (pop.size * self.batch * self.steps)
            rows[name] = row
        return rows

    # -- combining --------------------------------------------------------------------
    def __add__(self, other: Counts) -> Counts:
        """Counts of two consecutive runs of the same network on the same batch."""
        if set(self.projections) != set(other.projections) or self.batch != other.batch:
            raise ValueError("can only add counts of the same network and batch size.")
        pops = {
            n: PopulationCounts(
                n,
                p.model,
                p.size,
                p.events + other.populations[n].events,
                p.neuron_updates + other.populations[n].neuron_updates,
                p.comparisons + other.populations[n].comparisons,
            )
            for n, p in self.populations.items()
        }
        projs = {}
        for n, p in self.projections.items():
            q = other.projections[n]
            projs[n] = ProjectionCounts(
                n,
                p.pre,
                p.post,
                p.port,
                **{f: getattr(p, f) + getattr(q, f) for f in PROJECTION_FIELDS},
            )
        return Counts(self.batch, self.steps + other.steps, pops, projs, self.lookups)

    def to_dict(self) -> dict:
        """Plain-dict form (JSON-serialisable)."""
        return {
            "batch": self.batch,
            "steps": self.steps,
            "totals": self.totals(),
            "reductions": self.reductions(),
            "populations": {n: asdict(p) for n, p in self.populations.items()},
            "projections": self.per_projection(),
        }

    # -- text -------------------------------------------------------------------------
    def table(self) -> str:
        """A plain-text per-layer table with totals and reduction factors."""
        head = (
            "layer",
            "model",
            "units",
            "events",
            "activity",
            "synops",
            "dense MACs",
            "reduction",
        )
        rows = []
        for r in self.per_layer().values():
            red = _ratio(r["dense_macs"], r["synops"]) if r["dense_macs"] else float("nan")
            rows.append(
                (
                    r["layer"],
                    r["model"],
                    r["size"],
                    r["events"],
                    f"{r['activity']:.4f}",
                    r["synops"],
                    r["dense_macs"],
                    f"{red:.2f}x" if np.isfinite(red) else "-",
                )
            )
        t = self.totals()
        red = self.reductions()
        rows.append(
            ("total", "", "", t["events"], "", t["synops"], t["dense_macs"], f"{red['both']:.2f}x")
        )
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
        fmt = "  ".join(("{:<%d}" if i == 0 else "{:>%d}") % w for i, w in enumerate(widths))
        lines = [fmt.format(*head), fmt.format(*["-" * w for w in widths])]
        lines += [fmt.format(*map(str, r)) for r in rows]
        lines.append(
            f"samples={self.batch} steps={self.steps}  reductions vs dense: "
            f"weight {red['weight']:.2f}x, activity {red['activity']:.2f}x, both {red['both']:.2f}x"
        )
        return "\n".join(lines)

    def __repr__(self) -> str:
        t = self.totals()
        return "Counts(" + ", ".join(f"{k}={v}" for k, v in t.items()) + ")"

    def __eq__(self, other) -> bool:
        if not isinstance(other, Counts):
            return NotImplemented
        return self.to_dict() == other.to_dict()
