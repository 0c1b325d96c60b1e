"""Exact operation counts of a run, in one vocabulary for every backend.

What each count means is written once, in :data:`neuro.audit.glossary.DEFINITIONS`
(the README's table and the audit read it).  Backends report raw tallies per projection
(:mod:`neuro.audit.tally`: events delivered, the non-zero and the dense-layer fan-out
they reached) and events per population; :meth:`Counts.from_tallies` derives every
count from them and from the network's static facts, by the kind of projection:

* a synaptic projection counts ``synops`` (non-zero fan-out reached),
  ``activity_sparse_macs`` (dense fan-out reached), ``weight_sparse_macs`` (non-zero
  weights × every input) and ``dense_macs`` (dense connections × every input); Dense
  and Sparse storage of the same matrix give the same counts;
* a projection from a token input is an embedding *lookup*: a dense layer reads one
  row per token, so its ``dense_macs`` are the entries of the rows read and its
  ``weight_sparse_macs`` their non-zero entries;
* a shortcut (``Projection.role == "shortcut"``: the identity of a residual add) is
  synaptic, but its stored connections are its dense layer (one per unit): its
  ``dense_macs`` and ``activity_sparse_macs`` equal ``weight_sparse_macs`` and
  ``synops``;
* a pooling projection (``Projection.role == "pool"``: average pooling as a depthwise
  operator) counts ``pool_ops`` (its additions), no synops or MACs;
* a projection into a population that routes events (``routes = True``, max pooling)
  counts one comparison per window an event enters in that population's
  ``comparisons``, no synops or MACs.

The reduction factors dense → weight-sparse → activity-sparse → both follow:
``dense_macs / weight_sparse_macs``, ``dense_macs / activity_sparse_macs`` and
``dense_macs / synops``; for uncorrelated sparsities the last is ≈ 1 / (d_w · d_a)
(Mukherji et al. 2023).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .tally import accumulate_projections, fanouts

__all__ = [
    "Counts",
    "CountPlan",
    "ProjectionCounts",
    "PopulationCounts",
    "count_plan",
    "projection_kind",
]

PROJECTION_FIELDS = (
    "events_in",
    "synops",
    "activity_sparse_macs",
    "weight_sparse_macs",
    "dense_macs",
    "pool_ops",
)


def projection_kind(network, projection) -> str:
    """How a projection's events are counted: ``"synaptic"``, ``"shortcut"`` (a residual
    add's identity), ``"lookup"`` (from a token input), ``"pool"`` (average pooling) or
    ``"route"`` (into a max-pool population)."""
    if getattr(network.populations[projection.post].model, "routes", False):
        return "route"
    role = getattr(projection, "role", "synaptic")
    if role in ("pool", "shortcut"):
        return role
    if getattr(network.populations[projection.pre].model, "lookup", False):
        return "lookup"
    return "synaptic"


@dataclass(frozen=True)
class CountPlan:
    """Static facts of a network's counts, computed once (:func:`count_plan`).

    Attributes
    ----------
    populations : tuple of (name, model type, size, is_input)
    projections : tuple of (name, pre, post, port, kind, Σ nnz fan-out, Σ dense fan-out)
        ``kind`` from :func:`projection_kind`.
    lookups : frozenset of str
    """

    populations: tuple
    projections: tuple
    lookups: frozenset


def count_plan(network, fans: dict | None = None) -> CountPlan:
    """The :class:`CountPlan` of a network (``fans``: projection name →
    :func:`~neuro.audit.tally.fanouts`, when computed already)."""
    fans = fans or {}
    pops = tuple(
        (name, pop.model.type, pop.size, pop.model.is_input)
        for name, pop in network.populations.items()
    )
    projs = []
    for name, p in network.projections.items():
        nnz, dense = fans[name] if name in fans else fanouts(p.weights)
        kind = projection_kind(network, p)
        if kind == "shortcut":  # its connections are its dense layer
            dense = nnz
        projs.append((name, p.pre, p.post, p.port, kind, int(np.sum(nnz)), int(np.sum(dense))))
    lookups = frozenset(row[0] for row in projs if row[4] == "lookup")
    return CountPlan(pops, tuple(projs), lookups)


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
    pool_ops: int = 0


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

    def __init__(
        self, batch: int, steps: int, populations: dict, projections: dict, lookups=(), ac=()
    ):
        self.batch = int(batch)
        self.steps = int(steps)
        self.populations = populations
        self.projections = projections
        self.lookups = frozenset(lookups)
        self.ac = ac

    @property
    def ac(self) -> frozenset:
        """Projections whose synops are accumulates (NeuroBench's rule: every input in
        {-1, 0, 1}; :func:`neuro.audit.tally.accumulate_projections`)."""
        return self._ac

    @ac.setter
    def ac(self, value) -> None:
        self._ac = frozenset(value)

    def decide_ac(self, network, inputs) -> None:
        """Decide :attr:`ac` from the run's inputs, now: one compiled pass over each
        input array (the set does not depend on what the caller does with its arrays
        after the call)."""
        self._ac = accumulate_projections(network, inputs)

    @classmethod
    def from_tallies(
        cls, network, batch: int, steps: int, tallies: dict, events: dict, plan=None
    ) -> Counts:
        """Every count of a run from the backends' raw tallies (see the module notes).

        Parameters
        ----------
        network : Network
        batch, steps : int
        tallies : dict of str → (int, int, int)
            Per projection: ``events_in``, ``reached_nnz``, ``reached_dense``
            (:data:`neuro.audit.tally.TALLY_FIELDS`).
        events : dict of str → int
            Per population: events emitted.
        plan : CountPlan, optional
            The network's static facts (:func:`count_plan`), when kept from an earlier run.
        """
        plan = count_plan(network) if plan is None else plan
        rows = [[int(v) for v in tallies[row[0]]] for row in plan.projections]
        ev_in, nnz_r, dense_r = zip(*rows) if rows else ((), (), ())
        out = [int(events.get(row[0], 0)) for row in plan.populations]
        return cls.from_lists(plan, batch, steps, ev_in, nnz_r, dense_r, out)

    @classmethod
    def from_lists(cls, plan, batch, steps, events_in, reached_nnz, reached_dense, events_out):
        """:meth:`from_tallies` with the tallies as lists of ints in the plan's order
        (projections for the first three, populations for ``events_out``)."""
        bt = int(batch) * int(steps)
        pops = {
            name: PopulationCounts(name, model, size, ev, 0 if is_input else size * bt)
            for (name, model, size, is_input), ev in zip(plan.populations, events_out)
        }
        projs = {}
        for k, (name, pre, post, port, kind, nnz_sum, dense_sum) in enumerate(plan.projections):
            nnz = reached_nnz[k]
            if kind == "synaptic":
                pc = ProjectionCounts(name, pre, post, port, events_in[k], nnz, reached_dense[k],
                                      nnz_sum * bt, dense_sum * bt)  # fmt: skip
            elif kind == "shortcut":
                pc = ProjectionCounts(name, pre, post, port, events_in[k], nnz, nnz,
                                      nnz_sum * bt, nnz_sum * bt)  # fmt: skip
            elif kind == "lookup":
                dense = reached_dense[k]
                pc = ProjectionCounts(name, pre, post, port, events_in[k], nnz, dense, nnz, dense)
            elif kind == "pool":
                pc = ProjectionCounts(name, pre, post, port, events_in[k], pool_ops=nnz)
            else:  # route
                pc = ProjectionCounts(name, pre, post, port, events_in[k])
                pops[post].comparisons += nnz
            projs[name] = pc
        return cls(batch, steps, pops, projs, plan.lookups)

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
    def pool_ops(self) -> int:
        """Additions of average-pooling projections (not synaptic operations)."""
        return self._proj_total("pool_ops")

    @property
    def synops_ac(self) -> int:
        """Synops of projections whose inputs all lie in {-1, 0, 1} (NeuroBench's ACs)."""
        return int(sum(p.synops for n, p in self.projections.items() if n in self.ac))

    @property
    def synops_mac(self) -> int:
        """Synops of projections with graded inputs (NeuroBench's effective MACs)."""
        return self.synops - self.synops_ac

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
            "pool_ops": self.pool_ops,
            "comparisons": self.comparisons,
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
        return Counts(
            self.batch, self.steps + other.steps, pops, projs, self.lookups, self.ac & other.ac
        )

    def to_dict(self) -> dict:
        """Plain-dict form (JSON-serialisable)."""
        return {
            "batch": self.batch,
            "steps": self.steps,
            "totals": self.totals(),
            "reductions": self.reductions(),
            "populations": {n: asdict(p) for n, p in self.populations.items()},
            "projections": self.per_projection(),
            "ac": sorted(self.ac),
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
