"""Post-training FATReLU threshold calibration.

FATReLU (Kurtz et al., 2020, "Inducing and Exploiting Activation Sparsity for Fast
Inference on Deep Neural Networks", ICML) zeroes activations below a threshold θ.
Raising θ after training trades a little of the task metric for many fewer non-zero
activations — fewer events and synaptic operations in an event network.  This
module chooses the thresholds: given a model with ReLU / FATReLU activations,
calibration data and a metric budget, it picks per layer (optionally per channel)
the largest thresholds whose combined metric drop stays within the budget.

Search
------
Candidate thresholds of a layer are quantiles ``q`` of its positive
pre-activations on the calibration data (per channel: the same ``q`` in every
channel), so candidate ``q`` silences about a fraction ``q`` of the units the layer
had active.  Layers are visited in forward order, twice:

1. layer ``l`` of ``L`` binary-searches the largest ``q`` with
   ``metric >= baseline - budget * (l + 1) / L`` (a growing share of the budget);
2. every layer tries again, now against the whole budget.

The metric is assumed to fall monotonically with ``q`` (binary search); every
accepted step is a measured point within the budget, so the result always is.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from neuro.exceptions import ConversionError, ParameterError
from neuro.torch import FATReLU

from .torch_modules import is_fatrelu_like

__all__ = ["calibrate_thresholds", "Calibration", "LayerCalibration", "accuracy"]


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Top-1 accuracy in [0, 1] of logits (N, K) against integer labels (N,)."""
    return float((outputs.argmax(dim=1) == targets).double().mean())


@dataclass
class LayerCalibration:
    """One activation layer's result.

    Attributes
    ----------
    name : str
        Path of the activation module.
    units : int
        Activations per sample (summed over the module's calls).
    quantile : float
        Chosen candidate (0 = the threshold it had).
    threshold : float or ndarray
        Chosen θ (scalar, or one value per channel).
    sparsity_before, sparsity_after : float
        Fraction of zero outputs on the calibration data.
    """

    name: str
    units: int
    quantile: float
    threshold: object
    sparsity_before: float
    sparsity_after: float


@dataclass
class Calibration:
    """Result of :func:`calibrate_thresholds`.

    Attributes
    ----------
    model : torch.nn.Module
        Copy of the input model whose activations are ``neuro.torch.FATReLU`` modules
        with the chosen thresholds (the input model is left unchanged).
    layers : list of LayerCalibration
    metric_before, metric_after : float
        Metric on the calibration data with the original and chosen thresholds.
    budget : float
        Allowed metric drop.
    evaluations : int
        Forward passes over the calibration data the search made.
    """

    model: nn.Module
    layers: list = field(default_factory=list)
    metric_before: float = 0.0
    metric_after: float = 0.0
    budget: float = 0.0
    evaluations: int = 0

    def mean_sparsity(self, which: str = "after", weighted: bool = False) -> float:
        """Mean activation sparsity over layers (``which`` = "before" or "after").

        ``weighted=True`` weights layers by their unit count (the fraction of all
        activations that are zero).
        """
        values = np.array([getattr(r, f"sparsity_{which}") for r in self.layers])
        weights = np.array([r.units for r in self.layers], float) if weighted else None
        return float(np.average(values, weights=weights)) if len(values) else 0.0

    def to_dict(self) -> dict:
        """Plain-dict form (JSON-serialisable)."""
        rows = []
        for r in self.layers:
            theta = np.asarray(r.threshold)
            rows.append(
                {
                    "layer": r.name,
                    "units": r.units,
                    "quantile": r.quantile,
                    "threshold": theta.tolist(),
                    "sparsity_before": r.sparsity_before,
                    "sparsity_after": r.sparsity_after,
                }
            )
        return {
            "budget": self.budget,
            "metric_before": self.metric_before,
            "metric_after": self.metric_after,
            "mean_sparsity_before": self.mean_sparsity("before"),
            "mean_sparsity_after": self.mean_sparsity("after"),
            "evaluations": self.evaluations,
            "layers": rows,
        }

    def table(self) -> str:
        """Per-layer plain-text table: threshold, sparsity before/after, and the metric."""
        head = ("layer", "units", "quantile", "threshold", "sparsity before", "sparsity after")
        rows = []
        for r in self.layers:
            theta = np.asarray(r.threshold)
            th = f"{float(theta):.4g}" if theta.ndim == 0 else f"mean {theta.mean():.4g}"
            rows.append(
                (
                    r.name,
                    str(r.units),
                    f"{r.quantile:.3f}",
                    th,
                    f"{r.sparsity_before:.4f}",
                    f"{r.sparsity_after:.4f}",
                )
            )
        rows.append(
            (
                "mean",
                "",
                "",
                "",
                f"{self.mean_sparsity('before'):.4f}",
                f"{self.mean_sparsity('after'):.4f}",
            )
        )
        widths = [max(len(x) for x in col) for col in zip(head, *rows)]
        fmt = "  ".join(("{:<%d}" if i == 0 else "{:>%d}") % w for i, w in enumerate(widths))
        lines = [fmt.format(*head), fmt.format(*["-" * w for w in widths])]
        lines += [fmt.format(*r) for r in rows]
        lines.append(
            f"metric {self.metric_before:.4f} -> {self.metric_after:.4f} "
            f"(drop {self.metric_before - self.metric_after:.4f}, budget {self.budget:.4f}; "
            f"{self.evaluations} evaluations)"
        )
        return "\n".join(lines)


def _activation_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, (nn.ReLU, FATReLU)) or (name and is_fatrelu_like(m))
    ]


def _replace(model: nn.Module, path: str, new: nn.Module) -> None:
    parent_path, _, attr = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, attr, new)


def _current_threshold(module) -> torch.Tensor:
    if isinstance(module, nn.ReLU):
        return torch.tensor(0.0, dtype=torch.float64)
    theta = module.threshold
    theta = theta.detach() if isinstance(theta, torch.Tensor) else torch.tensor(float(theta))
    return theta.double().cpu()


class _Recorder:
    """Forward hooks: pre-activation samples and zero counts of the activation modules."""

    def __init__(self, modules: list, max_values: int, rng: np.random.Generator):
        self.modules = modules
        self.max_values = max_values
        self.rng = rng
        self.samples = [[] for _ in modules]
        self.zeros = np.zeros(len(modules))
        self.total = np.zeros(len(modules))
        self.record_inputs = False
        self.handles = [m.register_forward_hook(self._hook(i)) for i, m in enumerate(modules)]

    def _hook(self, i):
        def hook(module, inputs, output):
            self.zeros[i] += int((output == 0).sum())
            self.total[i] += output.numel()
            if self.record_inputs:
                x = inputs[0].detach().double()
                x = x.transpose(0, 1).reshape(x.shape[1], -1) if x.dim() > 1 else x[None]
                cols = max(256, self.max_values // x.shape[0])
                if x.shape[1] > cols:
                    keep = self.rng.choice(x.shape[1], cols, replace=False)
                    x = x[:, torch.as_tensor(np.sort(keep))]
                self.samples[i].append(x.cpu().numpy())

        return hook

    def reset(self):
        self.zeros[:] = 0
        self.total[:] = 0

    def sparsity(self) -> np.ndarray:
        return self.zeros / np.maximum(self.total, 1)

    def remove(self):
        for h in self.handles:
            h.remove()


def _candidates(samples: np.ndarray, base: np.ndarray, grid: np.ndarray, per_channel: bool):
    """Threshold for each quantile of the grid: θ(q) >= the original θ."""
    if per_channel:
        floor = np.maximum(np.broadcast_to(base, (samples.shape[0],)), 0.0)
        table = np.zeros((grid.size, samples.shape[0]))  # (quantile, channel)
        for c, row in enumerate(samples):
            pos = row[row > floor[c]]
            if pos.size:
                table[:, c] = np.quantile(pos, grid)
        table[0] = 0.0
        return [np.maximum(theta, base) for theta in table]
    pos = samples[samples > max(0.0, float(np.max(base)))]
    values = np.quantile(pos, grid) if pos.size else np.zeros(grid.size)
    values[0] = 0.0
    return [np.maximum(v, base) for v in values]


def calibrate_thresholds(
    model: nn.Module,
    inputs,
    targets=None,
    metric: Callable | None = None,
    budget: float = 0.01,
    per_channel: bool = False,
    quantiles=None,
    batch_size: int = 1024,
    max_values: int = 100_000,
    seed: int = 0,
) -> Calibration:
    """Choose FATReLU thresholds that maximise activation sparsity within a metric budget.

    Parameters
    ----------
    model : torch.nn.Module
        With ``nn.ReLU`` and/or FATReLU activation modules (``neuro.torch.FATReLU`` or
        modules shaped like sparseml's); functional ``F.relu`` calls are not calibrated.
    inputs : torch.Tensor or array-like, shape (N, *sample_shape)
        Calibration inputs (held out from training, ideally).
    targets : torch.Tensor or array-like, optional
        Passed to ``metric`` with the model's outputs on ``inputs``.
    metric : callable, optional
        ``metric(outputs, targets) -> float``, higher is better; default
        :func:`accuracy` (fraction in [0, 1]).
    budget : float
        Largest allowed drop of the metric below its value with the original
        thresholds, in the metric's units (accuracy: 0.01 = one point).
    per_channel : bool
        One threshold per channel (axis 1) instead of one per layer.
    quantiles : sequence of float, optional
        Candidate quantiles in [0, 1) (default 0, 0.02, ..., 0.98).
    batch_size : int
        Samples per forward pass.
    max_values : int
        Pre-activation samples kept per layer and forward pass for the quantiles
        (spread over the channels, at least 256 per channel).
    seed : int
        Seed of that subsampling.

    Returns
    -------
    Calibration
        The calibrated copy of the model, the per-layer table and the metric.

    Raises
    ------
    ParameterError
        ``budget`` is negative or not finite, or a quantile is outside [0, 1).
    ConversionError
        The model has no ReLU / FATReLU module.
    """
    if not np.isfinite(budget) or budget < 0:
        raise ParameterError(f"calibration budget == {budget!r}, must be a finite number >= 0.")
    grid = np.asarray(
        np.linspace(0.0, 0.98, 50) if quantiles is None else sorted(set(quantiles)), float
    )
    if grid.size == 0 or grid.min() < 0 or grid.max() >= 1:
        raise ParameterError(f"calibration quantiles == {list(grid)}, must lie in [0, 1).")
    if grid[0] != 0:
        grid = np.concatenate([[0.0], grid])
    metric = metric or accuracy
    calibrated = copy.deepcopy(model).eval()
    found = _activation_modules(calibrated)
    if not found:
        raise ConversionError(
            f"{type(model).__name__} has no ReLU or FATReLU module to calibrate "
            "(functional relu calls cannot be given thresholds)."
        )
    x = inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(np.asarray(inputs))
    x = x.to(next(calibrated.parameters()).dtype)
    y = targets
    if y is not None and not isinstance(y, torch.Tensor):
        y = torch.as_tensor(np.asarray(y))

    modules, base = [], []
    for name, m in found:
        fat = FATReLU(_current_threshold(m).float())
        _replace(calibrated, name, fat)
        modules.append(fat)
        base.append(_current_threshold(m).numpy())
    recorder = _Recorder(modules, max_values, np.random.default_rng(seed))
    evaluations = 0

    step = batch_size

    def evaluate() -> float:
        nonlocal evaluations
        evaluations += 1
        recorder.reset()
        with torch.no_grad():
            out = torch.cat([calibrated(x[i : i + step]) for i in range(0, len(x), step)])
        return float(metric(out, y))

    def set_thresholds(choice):
        for m, cands, k in zip(modules, candidates, choice):
            theta = torch.as_tensor(cands[k], dtype=m.threshold.dtype)
            if theta.dim() == 1 and m.threshold.dim() == 0:
                m.threshold = theta.clone()  # becomes per channel (a buffer re-assigned)
            else:
                m.threshold.copy_(theta)

    recorder.record_inputs = True
    metric_before = evaluate()
    recorder.record_inputs = False
    sparsity_before = recorder.sparsity().copy()
    candidates = []
    for i, parts in enumerate(recorder.samples):
        samples = np.concatenate(parts, axis=1)
        candidates.append(_candidates(samples, base[i], grid, per_channel))
    recorder.samples = [[] for _ in modules]

    choice = [0] * len(modules)
    cache = {tuple(choice): metric_before}

    def score(trial) -> float:
        key = tuple(trial)
        if key not in cache:
            set_thresholds(trial)
            cache[key] = evaluate()
        return cache[key]

    n = len(modules)
    for round_ in range(2):
        for i in range(n):
            share = (i + 1) / n if round_ == 0 else 1.0
            floor = metric_before - budget * share
            lo, hi = choice[i], len(grid) - 1
            while lo < hi:  # largest k in [lo, hi] whose metric stays above the floor
                mid = (lo + hi + 1) // 2
                trial = list(choice)
                trial[i] = mid
                if score(trial) >= floor:
                    lo = mid
                else:
                    hi = mid - 1
            choice[i] = lo
    set_thresholds(choice)
    metric_after = evaluate()
    sparsity_after = recorder.sparsity().copy()
    recorder.remove()

    layers = []
    for i, (name, _) in enumerate(found):
        theta = np.asarray(candidates[i][choice[i]], float)
        layers.append(
            LayerCalibration(
                name,
                int(round(recorder.total[i] / len(x))),
                float(grid[choice[i]]),
                float(theta) if theta.ndim == 0 else theta,
                float(sparsity_before[i]),
                float(sparsity_after[i]),
            )
        )
    return Calibration(calibrated, layers, metric_before, metric_after, budget, evaluations)
