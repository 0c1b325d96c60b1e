"""The audit of a run: per-layer counts, reduction factors, and the definitions used."""

from __future__ import annotations

import json

from .counts import Counts

__all__ = ["Audit", "DEFINITIONS"]

DEFINITIONS = {
    "synops": "Σ over delivered events of the non-zero weights in the unit's fan-out "
    "(= NeuroBench effective MACs/ACs: non-zero input × non-zero weight pairs)",
    "activity_sparse_macs": "Σ over delivered events of all connections in the unit's fan-out",
    "weight_sparse_macs": "non-zero weights × all inputs, every step",
    "dense_macs": "all connections × all inputs, every step (conv taps on padding excluded)",
    "events": "non-zero outputs of a population (graded messages sent)",
    "neuron_updates": "units × steps × samples of every non-input population",
}


class Audit:
    """What a run cost, layer by layer.

    Parameters
    ----------
    counts : Counts
    network : neuro.Network
    backend : str
    extras : dict, optional
        Backend- or hardware-specific sections (e.g. per-core counts, energy).
    """

    schema_version = 1

    def __init__(self, counts: Counts, network, backend: str, extras: dict | None = None):
        self.counts = counts
        self.network = network
        self.backend = backend
        self.extras = dict(extras or {})

    @classmethod
    def from_result(cls, result) -> Audit:
        """Audit of a :class:`~neuro.backends.base.RunResult`."""
        extras = {k: v for k, v in result.info.items() if k != "dtype"}
        return cls(result.counts, result.network, result.backend, extras)

    def encodings(self) -> dict:
        """How inputs were turned into events (stated, not assumed silently)."""
        enc = {}
        for name in self.network.inputs:
            model = self.network.populations[name].model.type
            enc[name] = (
                "one event of value 1 per token (one-hot into an embedding projection)"
                if model == "token"
                else "one graded event per non-zero input value"
            )
        return enc

    def to_dict(self) -> dict:
        """Machine-readable audit (JSON-serialisable, versioned)."""
        c = self.counts
        return {
            "schema_version": self.schema_version,
            "network": self.network.name,
            "backend": self.backend,
            "definitions": DEFINITIONS,
            "input_encoding": self.encodings(),
            "totals": c.totals(),
            "per_sample": c.per_sample(),
            "per_step": c.per_step(),
            "reductions": c.reductions(),
            "layers": c.per_layer(),
            "projections": c.per_projection(),
            **self.extras,
        }

    def to_json(self) -> str:
        """The audit as a JSON string."""
        return json.dumps(self.to_dict(), indent=2, default=float)

    def table(self) -> str:
        """Plain-text per-layer table with totals and reduction factors."""
        lines = [f"Audit of {self.network.name!r} on backend {self.backend!r}", self.counts.table()]
        for name, enc in self.encodings().items():
            lines.append(f"input {name!r}: {enc}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return f"Audit(network={self.network.name!r}, backend={self.backend!r}, {self.counts!r})"
