"""Write an audit to disk: versioned JSON, Markdown and CSV tables (and figures).

Files written by :func:`write_all` into one directory:

``audit.json``
    :meth:`Audit.to_dict` (format ``neuro.audit``, ``schema_version``), hardware section
    included.
``audit.md``
    Summary, per-layer table, definitions side by side, hardware and fixed-point
    sections, per-core table.
``layers.csv``, ``definitions.csv``
    One row per layer; one row per definition of an op.
``cores.csv``, ``steps.csv``
    With a hardware section: one row per core (counts, energy, busy time, resources);
    one row per step (network totals, energy, mean latency).
``*.png``
    The figures of :mod:`neuro.audit.plots` (``plots=True``, needs matplotlib).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

__all__ = ["write_json", "write_markdown", "write_csv", "write_all"]

_LAYER_COLUMNS = (
    "layer",
    "model",
    "size",
    "events",
    "activity",
    "neuron_updates",
    "events_in",
    "synops",
    "activity_sparse_macs",
    "weight_sparse_macs",
    "dense_macs",
)


def write_json(audit, path) -> Path:
    """Write :meth:`Audit.to_dict` as indented JSON; returns the path."""
    path = Path(path)
    path.write_text(json.dumps(audit.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _md_table(head, rows) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return lines


def _core_rows(hw):
    per_core = hw["per_core"]
    cores = hw["mapping"]["cores"]
    keys = [k for k in per_core if k != "population"]
    res = ["units", "synapses", "memory_bits", "fan_in_axons", "fan_out_axons"]
    head = (
        ["core", "population", "unit_start", "unit_stop", "chip", "tile_x", "tile_y"] + res + keys
    )
    rows = []
    for c in range(hw["cores_used"]):
        rows.append(
            [c, cores["population"][c], cores["unit_start"][c], cores["unit_stop"][c],
             cores["chip"][c], cores["tile_x"][c], cores["tile_y"][c]]
            + [cores[k][c] for k in res]
            + [per_core[k][c] for k in keys]
        )  # fmt: skip
    return head, rows


def _cost_model_markdown(hw) -> list[str]:
    terms = hw.get("cost_terms")
    if not terms:
        return []
    placement = hw["placement"]
    lines = [
        f"- placement policy: `{placement['policy']}` ({placement['rule']}); zero weights: "
        f"`{hw['zero_weights']}`; timing model: `{hw['timing']}`",
        "",
        "### Cost terms charged",
        "",
    ]
    breakdown = hw["energy_pj"]["breakdown"]
    lines += _md_table(
        ["term", "counter", "energy (pJ)", "time (ns)", "side", "on critical path",
         "assumption", "energy in this run (uJ)"],
        [
            [t["term"], t["counter"], t["energy_pj"], t["time_ns"], t["side"],
             t["on_critical_path"], t["assumption"], breakdown.get(t["term"], 0.0) / 1e6]
            for t in terms["included"]
        ],
    )  # fmt: skip
    lines += ["", "### Cost terms left out", ""]
    lines += _md_table(
        ["term", "likely effect"], [[t["term"], t["effect"]] for t in terms["omitted"]]
    )
    crit = hw.get("critical_path")
    if crit and crit["summary"]:
        s = crit["summary"]
        lines += [
            "",
            "### Critical path",
            "",
            f"Core {s['core']} (population `{s['population']}`, {s['units_on_core']} units) is "
            f"the slowest core in {s['steps_critical']} of {hw['steps']} step(s); its busy "
            f"time is dominated by **{s['dominant']}** ({100 * s['mean_share']:.0f} %).",
            "",
        ]
        rows = [
            [t, r["core"], r["population"], r["busy_ns"], r["dominant"], r["share"]]
            for t, r in enumerate(crit["per_step"][:MAX_STEP_ROWS])
        ]
        lines += _md_table(
            ["step", "critical core", "population", "busy (ns)", "dominant term", "share"], rows
        )
        if len(crit["per_step"]) > MAX_STEP_ROWS:
            lines.append(f"(first {MAX_STEP_ROWS} steps; all steps are in steps.csv)")
    return lines


MAX_STEP_ROWS = 32


def write_markdown(audit, path) -> Path:
    """Write a Markdown report; returns the path."""
    c = audit.counts
    lines = [f"# Audit of `{audit.network.name}` on backend `{audit.backend}`", ""]
    lines.append(f"{c.batch} sample(s), {c.steps} step(s) each.")
    for name, enc in audit.encodings().items():
        lines.append(f"Input `{name}`: {enc}.")
    lines += ["", "## Layers", ""]
    rows = [[r[k] for k in _LAYER_COLUMNS] for r in c.per_layer().values()]
    lines += _md_table(_LAYER_COLUMNS, rows)
    red = c.reductions()
    lines += [
        "",
        f"Reductions vs dense: weight {red['weight']:.3g}x, activity {red['activity']:.3g}x, "
        f"both {red['both']:.3g}x.",
        "",
        "## Op counts under other tools' definitions",
        "",
    ]
    comp = audit.definitions()
    lines += _md_table(
        ["definition", "meaning", "total", "per sample", "per step (token)"],
        [
            [name, r["definition"], r["total"], r["per_sample"], r["per_step"]]
            for name, r in comp["rows"].items()
        ],
    )
    lines.append("")
    lines.append(f"Cores needed: {_fmt(comp['cores'])}; chips needed: {_fmt(comp['chips'])}.")
    lines += [f"Note: {n}" for n in comp["notes"]]
    hw = audit.hardware
    if hw:
        lat, en = hw["latency_ns"], hw["energy_pj"]
        lines += [
            "",
            f"## Hardware: `{hw['profile']}`",
            "",
            f"- cores used: {hw['cores_used']}, chips: {hw['chips_used']}, tiles: "
            f"{hw['tiles_used']}; weights stored with {hw['weight_bits_stored']} bits",
            f"- latency per step: mean {lat['mean_per_step']:.1f} ns, max "
            f"{lat['max_per_step']:.1f} ns (barrier {lat['barrier']:.1f} ns)",
            f"- energy: {en['total'] / 1e6:.6g} uJ total, {en['per_sample'] / 1e6:.6g} uJ per "
            f"sample, {en['per_step'] / 1e6:.6g} uJ per step",
            "- energy breakdown (uJ): "
            + ", ".join(f"{k} {v / 1e6:.4g}" for k, v in en["breakdown"].items()),
            "- profile fields that are assumptions: "
            + (", ".join(hw["assumed_profile_fields"]) or "none"),
        ]
        lines += [f"- note: {w}" for w in hw.get("warnings", [])]
        lines += _cost_model_markdown(hw)
        lines += ["", "Definitions:", ""]
        lines += [f"- **{k}**: {v}" for k, v in hw["definitions"].items()]
        lines += ["", "### Per core", ""]
        lines += _md_table(*_core_rows(hw))
    q = audit.extras.get("quantization")
    if q:
        lines += ["", "## Fixed point", ""]
        lines.append(
            ", ".join(f"{k} = {q[k]}" for k in ("weight_bits", "payload_bits", "state_bits"))
        )
        lines.append("")
        lines += _md_table(
            ["output", "max abs diff", "rms diff", "relative L2", "arg-max agreement"],
            [
                [n, d["max_abs"], d["rms"], d["relative_l2"], d["argmax_agreement"]]
                for n, d in q["output_difference"].items()
            ],
        )
    m = audit.extras.get("metric")
    if m:
        lines += ["", "## Task metric", "", f"{m['name']}: {_fmt(m['value'])}"]
        if "float" in m:
            lines.append(f"(float: {_fmt(m['float'])}, difference {_fmt(m['difference'])})")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _write_rows(path: Path, head, rows) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(head)
        w.writerows(rows)
    return path


def write_csv(audit, directory, prefix: str = "") -> list[Path]:
    """Write ``layers.csv``, ``definitions.csv`` and, with hardware, ``cores.csv`` and
    ``steps.csv`` into ``directory``; returns the paths."""
    directory = Path(directory)
    paths = [
        _write_rows(
            directory / f"{prefix}layers.csv",
            _LAYER_COLUMNS,
            [[r[k] for k in _LAYER_COLUMNS] for r in audit.counts.per_layer().values()],
        )
    ]
    comp = audit.definitions()
    paths.append(
        _write_rows(
            directory / f"{prefix}definitions.csv",
            ["definition", "meaning", "total", "per_sample", "per_step"],
            [
                [n, r["definition"], r["total"], r["per_sample"], r["per_step"]]
                for n, r in comp["rows"].items()
            ],
        )
    )
    hw = audit.hardware
    if hw:
        paths.append(_write_rows(directory / f"{prefix}cores.csv", *_core_rows(hw)))
        per_step = hw["per_step"]
        keys = list(per_step)
        crit = hw.get("critical_path", {}).get("per_step") or [{}] * hw["steps"]
        rows = [
            [t] + [per_step[k][t] for k in keys] + [hw["latency_ns"]["per_step"][t]]
            + [crit[t].get("core"), crit[t].get("dominant")]
            for t in range(hw["steps"])
        ]  # fmt: skip
        head = ["step", *keys, "latency_ns_mean", "critical_core", "critical_dominant_term"]
        paths.append(_write_rows(directory / f"{prefix}steps.csv", head, rows))
    return paths


def write_all(audit, directory, plots: bool = True, prefix: str = "") -> dict[str, list[Path]]:
    """Write JSON, Markdown, CSV and (optionally) PNG figures into ``directory``.

    Returns
    -------
    dict
        ``{"json": [...], "markdown": [...], "csv": [...], "figures": [...]}``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = {
        "json": [write_json(audit, directory / f"{prefix}audit.json")],
        "markdown": [write_markdown(audit, directory / f"{prefix}audit.md")],
        "csv": write_csv(audit, directory, prefix),
        "figures": [],
    }
    if plots:
        from .plots import plot_all

        out["figures"] = plot_all(audit, directory, prefix=prefix)
    return out
