"""Figures of an audit (matplotlib, imported lazily, non-interactive Agg backend).

* :func:`reduction_bars` — per layer, the ops of a dense engine, a weight-sparse one, an
  activity-sparse one and one exploiting both (log scale);
* :func:`activity_histograms` — per layer, the distribution of unit activity (events per
  unit per sample-step);
* :func:`core_load_map` — per core of a ``cores`` run, busy time laid out on the mesh
  (cores of a tile side by side, chips one after another east-west).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..exceptions import NeuroError, require

__all__ = ["reduction_bars", "activity_histograms", "core_load_map", "plot_all"]


def _pyplot():
    matplotlib = require("matplotlib", "plot", "audit figures")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    path = Path(path)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def reduction_bars(audit, path) -> Path:
    """Per-layer bars: dense → weight-sparse → activity-sparse → both; returns the path."""
    plt = _pyplot()
    rows = [r for r in audit.counts.per_layer().values() if r["dense_macs"]]
    keys = [
        ("dense_macs", "dense"),
        ("weight_sparse_macs", "weight-sparse"),
        ("activity_sparse_macs", "activity-sparse"),
        ("synops", "both (synops)"),
    ]
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(rows) + 2), 3.8))
    x = np.arange(len(rows))
    width = 0.2
    for j, (key, label) in enumerate(keys):
        values = [max(r[key], 0.5) for r in rows]
        ax.bar(x + (j - 1.5) * width, values, width, label=label)
    ax.set_yscale("log")
    ax.set_xticks(x, [r["layer"] for r in rows], rotation=30, ha="right")
    ax.set_ylabel(f"ops ({audit.counts.batch} samples × {audit.counts.steps} steps)")
    ax.set_title(f"{audit.network.name}: ops per layer")
    ax.legend(fontsize=8)
    return _save(fig, path)


def activity_histograms(audit, path) -> Path:
    """Histograms of per-unit activity, one panel per layer; returns the path."""
    plt = _pyplot()
    layers = [(n, np.asarray(v)) for n, v in audit.unit_activity.items() if np.size(v)]
    n = max(1, len(layers))
    cols = min(3, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
    denom = audit.counts.batch * audit.counts.steps
    for ax, (name, events) in zip(axes.ravel(), layers):
        rate = events / denom
        ax.hist(rate, bins=min(30, max(5, rate.size // 4)), range=(0, max(1e-9, rate.max())))
        ax.set_title(f"{name} (mean {rate.mean():.3f})", fontsize=9)
        ax.set_xlabel("events per unit per sample-step", fontsize=8)
    for ax in axes.ravel()[len(layers) :]:
        ax.axis("off")
    fig.suptitle(f"{audit.network.name}: unit activity", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def core_load_map(audit, path, quantity: str = "busy_time_ns") -> Path:
    """Per-core load on the mesh (needs the hardware section); returns the path."""
    plt = _pyplot()
    hw = audit.hardware
    if not hw:
        raise ValueError("core_load_map needs the hardware section of a 'cores' run.")
    cores = hw["mapping"]["cores"]
    load = np.asarray(hw["per_core"][quantity], np.float64) / (hw["samples"] * hw["steps"])
    from ..hardware import load_profile

    try:
        profile = load_profile(hw["profile"])
        per_tile, width, height = profile.cores_per_tile, profile.mesh_width, profile.mesh_height
        per_chip = profile.cores_per_chip
    except NeuroError:  # a user profile file may be gone: one row of cores
        per_tile, width, height, per_chip = 1, max(1, len(load)), 1, max(1, len(load))
    chips = max(cores["chip"]) + 1 if load.size else 1
    grid = np.full((height, chips * width * per_tile), np.nan)
    for c, value in enumerate(load):
        x = (cores["chip"][c] * width + cores["tile_x"][c]) * per_tile + (c % per_chip) % per_tile
        grid[cores["tile_y"][c], x] = value
    used = ~np.all(np.isnan(grid), axis=0)
    last = int(np.nonzero(used)[0].max()) + 1 if used.any() else 1
    last = -(-last // per_tile) * per_tile
    rows = int(max(cores["tile_y"])) + 1 if load.size else 1
    fig, ax = plt.subplots(figsize=(min(16, 2 + 0.35 * last), 1.5 + 0.5 * rows))
    im = ax.imshow(grid[:rows, :last], cmap="viridis", aspect="auto", interpolation="nearest")
    for xline in range(per_tile, last, per_tile):
        ax.axvline(xline - 0.5, color="white", lw=0.8)
    ax.set_xlabel(f"core (groups of {per_tile} = one tile; chips east-west)")
    ax.set_ylabel("tile row")
    ax.set_yticks(range(rows))
    ax.set_xticks(range(last))
    ax.set_title(f"{audit.network.name} on {hw['profile']}: {quantity} per sample-step")
    fig.colorbar(im, ax=ax, fraction=0.03)
    return _save(fig, path)


def plot_all(audit, directory, prefix: str = "") -> list[Path]:
    """Write every figure that applies into ``directory``; returns the paths."""
    directory = Path(directory)
    paths = [reduction_bars(audit, directory / f"{prefix}reductions.png")]
    if audit.unit_activity:
        paths.append(activity_histograms(audit, directory / f"{prefix}activity.png"))
    if audit.hardware:
        paths.append(core_load_map(audit, directory / f"{prefix}core_load.png"))
    return paths
