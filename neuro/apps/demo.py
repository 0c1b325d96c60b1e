"""``neuro demo``: the whole pipeline on real data in under a minute on a CPU.

Trains a small FATReLU CNN on scikit-learn's 8x8 handwritten digits (shipped with
scikit-learn, no download), calibrates its thresholds for activation sparsity
within an accuracy budget (Kurtz et al., 2020), converts it into an event network,
runs it event-driven on the ``cpu`` backend, and prints: accuracy (torch and
event-driven, with the number of differing predictions), activation sparsity before
and after calibration, the audit table, and the measured time of the ``cpu`` backend
against a dense numpy forward pass of the same network.

Needs the ``torch`` extra and scikit-learn.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

from neuro.exceptions import require

__all__ = ["configure", "main", "load_digits_split", "build_model", "train", "run_demo"]


def configure(parser) -> None:
    """Add the options of ``neuro demo``."""
    parser.add_argument("--epochs", type=int, default=15, help="training epochs (default 15)")
    parser.add_argument(
        "--budget",
        type=float,
        default=0.01,
        help="allowed accuracy drop of the calibration, as a fraction (default 0.01 = 1 point)",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=0.5,
        help="fraction of the budget the calibration may spend on the calibration split, "
        "the rest is kept for the generalisation gap to unseen digits (default 0.5)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of split, init and training")
    parser.add_argument(
        "--per-channel", action="store_true", help="calibrate one threshold per channel"
    )
    parser.add_argument("--out", default=None, help="directory for network.h5 and audit.json")


def load_digits_split(seed: int = 0):
    """scikit-learn's digits as (N, 1, 8, 8) float32 in [0, 1], split three ways.

    Returns
    -------
    dict
        ``train``, ``calib`` and ``test``: (inputs, labels) pairs; 45 / 30 / 25 percent,
        stratified by label.
    """
    require("sklearn", "test", "the digits demo")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=0.25, random_state=seed, stratify=y
    )
    x_train, x_cal, y_train, y_cal = train_test_split(
        x_rest, y_rest, test_size=0.4, random_state=seed, stratify=y_rest
    )
    return {"train": (x_train, y_train), "calib": (x_cal, y_cal), "test": (x_test, y_test)}


def build_model():
    """A small CNN with ReLU-equivalent FATReLU activations (θ = 0) for 1x8x8 inputs."""
    require("torch", "torch", "the digits demo")
    from torch import nn

    from neuro.torch import FATReLU

    layers = [
        ("conv1", nn.Conv2d(1, 16, 3, padding=1)),
        ("bn1", nn.BatchNorm2d(16)),
        ("act1", FATReLU()),
        ("conv2", nn.Conv2d(16, 32, 3, stride=2, padding=1)),
        ("bn2", nn.BatchNorm2d(32)),
        ("act2", FATReLU()),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(32 * 4 * 4, 64)),
        ("act3", FATReLU()),
        ("fc2", nn.Linear(64, 10)),
    ]
    return nn.Sequential(OrderedDict(layers))


def train(model, x, y, epochs: int = 15, seed: int = 0, lr: float = 5e-3, batch: int = 128):
    """Adam on cross-entropy; returns the model in eval mode.

    Runs on one torch thread: the model is tiny, and more threads only contend.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model.train()
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=gen)
            for i in range(0, len(x), batch):
                idx = order[i : i + batch]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
                loss.backward()
                opt.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval()


def _timed(func, repeats: int = 5) -> float:
    """Median seconds of ``repeats`` calls of ``func()`` after one untimed call."""
    func()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def run_demo(
    epochs=15, budget=0.01, seed=0, per_channel=False, out=None, echo=print, margin=0.5
) -> dict:
    """Train, calibrate, convert and run; print the report and return its numbers.

    Parameters
    ----------
    epochs : int
        Training epochs.
    budget : float
        Allowed accuracy drop on the test split (fraction; 0.01 = one point).
    seed : int
        Seed of the split, the initialisation and the batch order.
    per_channel : bool
        Calibrate one threshold per channel.
    out : str or Path, optional
        Directory for ``network.h5``, ``audit.json`` and ``report.json``.
    echo : callable
        Receives each printed block.
    margin : float
        The calibration searches within ``margin * budget`` on the calibration split,
        keeping the rest of the budget for the gap between held-out and unseen digits.

    Returns
    -------
    dict
        Accuracies, differing predictions, sparsities, counts and timings (``report.json``).
    """
    torch = require("torch", "torch", "the digits demo")
    import neuro
    from converters import convert
    from converters.calibration import calibrate_thresholds
    from neuro.apps.dense_forward import DenseForward

    torch.manual_seed(seed)
    data = load_digits_split(seed)
    x_test, y_test = data["test"]
    start = time.perf_counter()
    model = train(build_model(), *data["train"], epochs=epochs, seed=seed)
    echo(
        f"trained a FATReLU CNN on {len(data['train'][1])} digits in "
        f"{time.perf_counter() - start:.1f} s ({epochs} epochs)"
    )

    cal_budget = budget * margin
    cal = calibrate_thresholds(
        model, data["calib"][0], data["calib"][1], budget=cal_budget, per_channel=per_channel
    )
    echo(
        f"\nthreshold calibration on {len(data['calib'][1])} held-out digits "
        f"(budget {budget:.3f} accuracy on unseen digits; the search spends at most "
        f"{cal_budget:.4f} on the calibration split):"
    )
    echo(cal.table())

    report = {"budget": budget, "calibration_budget": cal_budget, "calibration": cal.to_dict()}
    x64 = x_test.astype(np.float64)
    for label, m in (("relu", model), ("calibrated", cal.model)):
        # compared in float64: in float32, summation order alone can move a
        # pre-activation lying within ~1e-6 of a threshold across it
        m64 = copy.deepcopy(m).double()
        with torch.no_grad():
            logits = m64(torch.as_tensor(x64)).numpy()
        network = convert(m64, example_input=x64[:2], name=f"digits-{label}")
        result = neuro.run(network, x64, backend="cpu", dtype="float64")
        torch_pred = logits.argmax(1)
        event_pred = result.outputs.argmax(1)
        layers = result.counts.per_layer()
        hidden = [r for r in layers.values() if r["model"] == "fatrelu"]
        sparsity = float(np.mean([1 - r["activity"] for r in hidden]))
        report[label] = {
            "torch_accuracy": float((torch_pred == y_test).mean()),
            "event_accuracy": float((event_pred == y_test).mean()),
            "differing_predictions": int((torch_pred != event_pred).sum()),
            "max_abs_logit_difference": float(np.abs(result.outputs - logits).max()),
            "mean_activation_sparsity": sparsity,
            "synops": result.counts.synops,
            "dense_macs": result.counts.dense_macs,
        }
    after = report["calibrated"]
    before = report["relu"]
    echo(
        f"\ntest split ({len(y_test)} digits), torch and event-driven on backend 'cpu' "
        "(both float64):"
    )
    for label in ("relu", "calibrated"):
        r = report[label]
        echo(
            f"  {label:<10} accuracy torch {r['torch_accuracy']:.4f}  event-driven "
            f"{r['event_accuracy']:.4f}  differing predictions {r['differing_predictions']}  "
            f"mean activation sparsity {r['mean_activation_sparsity']:.4f}  "
            f"synops/sample {r['synops'] / len(y_test):.0f}"
        )

    drop = before["event_accuracy"] - after["event_accuracy"]
    report["test_accuracy_drop"] = float(drop)
    echo(
        f"  accuracy drop on the test split: {drop * 100:.2f} points "
        f"({'within' if drop <= budget + 1e-12 else 'OVER'} the budget of "
        f"{budget * 100:.2f} points)"
    )
    echo("\n" + result.audit().table())

    dense = DenseForward(network, np.float32)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    # one compiled program, run per batch as an application would (set-up paid once)
    program = neuro.compile(network, backend="cpu", dtype="float32", threads=cores or 1)
    t_cpu = _timed(lambda: program.run(x_test), repeats=5)
    t_dense = _timed(lambda: dense(x_test), repeats=5)
    x_torch = torch.as_tensor(np.asarray(x_test, dtype=np.float32))
    model32 = cal.model.float().eval()
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(cores or 1)  # the same cores as the cpu backend
    try:
        with torch.no_grad():
            t_torch = _timed(lambda: model32(x_torch), repeats=5)
    finally:
        torch.set_num_threads(torch_threads)
    report["time_s"] = {
        "cpu": t_cpu,
        "dense_numpy": t_dense,
        "torch": t_torch,
        "samples": len(y_test),
    }
    echo(
        f"\ntime per batch of {len(y_test)} samples (median of 5 after a warm-up, float32, "
        f"{cores} cores of this machine for each): cpu backend "
        f"{t_cpu * 1e3:.2f} ms, dense numpy {t_dense * 1e3:.2f} ms (dense / cpu = "
        f"{t_dense / t_cpu:.2f}), torch {t_torch * 1e3:.2f} ms (torch / cpu = "
        f"{t_torch / t_cpu:.2f}); synops {after['synops']} vs dense MACs "
        f"{after['dense_macs']} ({after['dense_macs'] / max(after['synops'], 1):.2f}x fewer); "
        f"calibration cut synops by {before['synops'] / max(after['synops'], 1):.2f}x"
    )

    if out is not None:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        neuro.save(network, folder / "network.h5")
        (folder / "audit.json").write_text(result.audit().to_json())
        (folder / "report.json").write_text(json.dumps(report, indent=2))
        echo(f"\nwrote {folder / 'network.h5'}, {folder / 'audit.json'}, {folder / 'report.json'}")
    return report


def main(args) -> int:
    """Entry point of ``neuro demo`` (one torch thread: the model is tiny)."""
    torch = require("torch", "torch", "the digits demo")
    torch.set_num_threads(1)
    run_demo(args.epochs, args.budget, args.seed, args.per_channel, args.out, margin=args.margin)
    return 0
