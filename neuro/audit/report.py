"""The audit of a run: per-layer counts, reduction factors, and the definitions used.

With a ``cores`` run the audit also carries the hardware section (per-core counts,
latency, energy, cores and chips; see :mod:`neuro.backends.cores`), and with labels the
task metric — of the fixed-point run and of its float reference when the run was
quantized.
"""

from __future__ import annotations

import json

import numpy as np

from .counts import Counts
from .definitions import compare
from .glossary import describe

__all__ = ["Audit", "DEFINITIONS", "jsonable", "cost_model_lines"]

DEFINITIONS = describe()
"""``{count: formula}`` of every count (:data:`neuro.audit.glossary.DEFINITIONS`)."""


def jsonable(value):
    """Convert numpy scalars and arrays (recursively) into plain JSON types."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    return value


def cost_model_lines(hw: dict) -> list[str]:
    """Plain-text lines on a hardware section's cost model and critical path.

    Says which placement policy and timing model ran, every cost term the profile
    charges (with its price), every term left out (with its likely effect), and which
    core limits the step and what dominates its time.
    """
    lines = []
    placement = hw.get("placement")
    if placement:
        lines.append(
            f"placement {placement['policy']!r} ({placement['rule']}); zero weights "
            f"{hw.get('zero_weights', 'skip')}; timing {hw.get('timing', 'simple')!r}"
        )
    terms = hw.get("cost_terms")
    if terms:
        charged = []
        for t in terms["included"]:
            price = f"{t['energy_pj']:.4g} pJ / {t['time_ns']:.4g} ns"
            if t["term"] == "barrier sync":
                price = f"{hw['latency_ns']['barrier']:.4g} ns over {hw['tiles_used']} tile(s)"
            flag = " (assumption)" if t.get("assumption") else ""
            path = "" if t["on_critical_path"] or t["term"] == "barrier sync" else " [off path]"
            charged.append(f"{t['term']} {price}{flag}{path}")
        lines.append("cost terms charged: " + "; ".join(charged))
        lines.append("cost terms left out:")
        lines += [f"  - {t['term']}: {t['effect']}" for t in terms["omitted"]]
    crit = hw.get("critical_path", {}).get("summary")
    if crit:
        lines.append(
            f"critical core: {crit['core']} (population {crit['population']!r}, "
            f"{crit['units_on_core']} units) limits {crit['steps_critical']} of "
            f"{hw['steps']} step(s); its time is dominated by {crit['dominant']} "
            f"({100 * crit['mean_share']:.0f} % of its busy time)"
        )
    return lines


def _unit_activity(result) -> dict:
    """Events per unit of every non-input population, where the run tells."""
    activity = result.info.get("activity", {}).get("unit_events")
    if activity:
        return {n: np.asarray(v) for n, v in activity.items()}
    out = {}
    for name, rec in result.recordings.items():
        if result.network.populations[name].model.is_input:
            continue
        arr = np.asarray(rec).reshape(-1, result.network.populations[name].size)
        out[name] = np.count_nonzero(arr, axis=0)
    return out


class Audit:
    """What a run cost, layer by layer.

    Parameters
    ----------
    counts : Counts
    network : neuro.Network
    backend : str
    extras : dict, optional
        Backend- or hardware-specific sections (e.g. per-core counts, energy).
    unit_activity : dict of str → ndarray, optional
        Events per unit of each layer (for activity histograms).
    """

    schema_version = 2

    def __init__(
        self,
        counts: Counts,
        network,
        backend: str,
        extras: dict | None = None,
        unit_activity: dict | None = None,
    ):
        self.counts = counts
        self.network = network
        self.backend = backend
        self.extras = dict(extras or {})
        self.unit_activity = dict(unit_activity or {})

    @classmethod
    def from_result(cls, result, labels=None, metric="accuracy") -> Audit:
        """Audit of a :class:`~neuro.backends.base.RunResult`.

        Parameters
        ----------
        result : RunResult
        labels : array-like of int, optional
            Class labels (B,) or next-token ids (T, B); adds the task metric.
        metric : str or callable
            ``"accuracy"``, ``"cross_entropy"``, ``"perplexity"`` or
            ``metric(outputs, labels) -> float``.
        """
        extras = {
            k: v for k, v in result.info.items() if k not in ("dtype",) and not k.startswith("_")
        }
        if labels is not None:
            extras.update(_metric_section(result, labels, metric))
        return cls(result.counts, result.network, result.backend, extras, _unit_activity(result))

    # -- sections ---------------------------------------------------------------------
    @property
    def hardware(self) -> dict | None:
        """The hardware section of a ``cores`` run, or None."""
        return self.extras.get("hardware")

    def definitions(self, mapping=None) -> dict:
        """Counts under other tools' definitions (:func:`neuro.audit.definitions.compare`)."""
        return compare(self.counts, self.network, self.extras, mapping)

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
        return jsonable(
            {
                "format": "neuro.audit",
                "schema_version": self.schema_version,
                "network": self.network.name,
                "backend": self.backend,
                "definitions": DEFINITIONS,
                "input_encoding": self.encodings(),
                "samples": c.batch,
                "steps": c.steps,
                "totals": c.totals(),
                "per_sample": c.per_sample(),
                "per_step": c.per_step(),
                "reductions": c.reductions(),
                "layers": c.per_layer(),
                "projections": c.per_projection(),
                "definitions_compared": self.definitions(),
                **self.extras,
            }
        )

    def to_json(self) -> str:
        """The audit as a JSON string."""
        return json.dumps(self.to_dict(), indent=2)

    def table(self) -> str:
        """Plain-text per-layer table with totals, reduction factors and hardware figures."""
        lines = [f"Audit of {self.network.name!r} on backend {self.backend!r}", self.counts.table()]
        for name, enc in self.encodings().items():
            lines.append(f"input {name!r}: {enc}")
        hw = self.hardware
        if hw:
            lat, en = hw["latency_ns"], hw["energy_pj"]
            lines.append(
                f"hardware {hw['profile']!r}: {hw['cores_used']} cores on {hw['chips_used']} "
                f"chip(s); latency {lat['mean_per_step']:.1f} ns/step (max "
                f"{lat['max_per_step']:.1f}); energy {en['per_sample'] / 1e6:.4g} uJ/sample, "
                f"{en['per_step'] / 1e6:.4g} uJ/step"
            )
            lines += cost_model_lines(hw)
            for warning in hw.get("warnings", []):
                lines.append(f"note: {warning}")
        q = self.extras.get("quantization")
        if q:
            bits = ", ".join(f"{k}={q[k]}" for k in ("weight_bits", "payload_bits", "state_bits"))
            lines.append(f"fixed point ({bits}):")
            for name, d in q.get("output_difference", {}).items():
                lines.append(
                    f"  output {name!r}: max |diff| {d['max_abs']:.3g}, relative L2 "
                    f"{d['relative_l2']:.3g}, arg-max agreement {d['argmax_agreement']:.3f}"
                )
        m = self.extras.get("metric")
        if m:
            text = f"{m['name']}: {m['value']:.4f}"
            if "float" in m:
                text += f" (float {m['float']:.4f}, difference {m['difference']:+.4f})"
            lines.append(text)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return f"Audit(network={self.network.name!r}, backend={self.backend!r}, {self.counts!r})"


def _metric_section(result, labels, metric) -> dict:
    from .metrics import evaluate

    outputs = result.outputs
    if isinstance(outputs, dict):
        outputs = outputs[result.network.outputs[0]]
    name, value = evaluate(metric, outputs, labels)
    section = {"name": name, "value": value}
    ref = result.info.get("_float_recordings")
    if ref is not None:
        out_name = result.network.outputs[0]
        f = np.asarray(ref[out_name])
        shaped = f.reshape(f.shape[0], -1, *result.network.populations[out_name].shape)
        if np.ndim(outputs) == shaped.ndim - 1:
            shaped = shaped[-1]
        _, f_value = evaluate(metric, shaped, labels)
        section.update(float=f_value, difference=value - f_value)
    return {"metric": section}
