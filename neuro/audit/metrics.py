"""Task metrics an audit can compare between float and fixed-point runs."""

from __future__ import annotations

import numpy as np

from ..exceptions import InputError

__all__ = ["METRICS", "evaluate"]


def _align(outputs, labels):
    out = np.asarray(outputs, np.float64)
    lab = np.asarray(labels)
    if lab.dtype.kind not in "iu":
        raise InputError(f"labels have dtype {lab.dtype}, must be integer class or token ids.")
    if out.shape[:-1] != lab.shape:
        # (T, B, n) outputs of a static input scored on the last step
        if out.ndim == lab.ndim + 2 and out.shape[1:-1] == lab.shape:
            out = out[-1]
        else:
            raise InputError(
                f"labels have shape {lab.shape}, outputs {out.shape}; labels must match the "
                "outputs without their last (class) axis."
            )
    return out.reshape(-1, out.shape[-1]), lab.reshape(-1)


def accuracy(outputs, labels) -> float:
    """Fraction of samples (or tokens) whose arg-max output equals the label."""
    out, lab = _align(outputs, labels)
    return float(np.mean(out.argmax(axis=1) == lab))


def cross_entropy(outputs, labels) -> float:
    """Mean negative log-likelihood (nats) of the labels under softmax(outputs)."""
    out, lab = _align(outputs, labels)
    top = out.max(axis=1, keepdims=True)
    logz = top[:, 0] + np.log(np.exp(out - top).sum(axis=1))
    return float(np.mean(logz - out[np.arange(lab.size), lab]))


def perplexity(outputs, labels) -> float:
    """exp(cross entropy): the language-model metric."""
    return float(np.exp(cross_entropy(outputs, labels)))


METRICS = {"accuracy": accuracy, "cross_entropy": cross_entropy, "perplexity": perplexity}


def evaluate(metric, outputs, labels) -> tuple[str, float]:
    """Return (name, value) of ``metric`` (a name in :data:`METRICS` or a callable)."""
    if callable(metric):
        return getattr(metric, "__name__", "metric"), float(metric(outputs, labels))
    if metric not in METRICS:
        raise InputError(f"metric == {metric!r}, must be a callable or one of {sorted(METRICS)}.")
    return metric, METRICS[metric](outputs, labels)
