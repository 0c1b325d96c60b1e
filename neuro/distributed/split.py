"""Cutting a run's batch into contiguous parts, one per task.

Samples of a batch are independent in every backend, so a batch ``B`` is cut into
contiguous ranges ``[b_0, b_1), [b_1, b_2), ...``; inputs are cut along their batch axis
(axis 0 of a static ``(B, ...)`` input, axis 1 of a ``(T, B, ...)`` series) and an
``initial_state`` along axis 0 of every array it holds.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bounds", "split_inputs", "split_state"]


def bounds(batch: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges covering ``range(batch)``, sizes differing by at most 1."""
    edges = [i * batch // parts for i in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:]))


def split_inputs(prepared, ranges) -> list[dict]:
    """Per range, the inputs of every input population (a dict for :func:`neuro.run`).

    Parameters
    ----------
    prepared : neuro.backends.base.RunInputs
        Validated inputs of the whole batch.
    ranges : list of (int, int)

    Returns
    -------
    list of dict of str → ndarray
    """
    parts = []
    for lo, hi in ranges:
        part = {}
        for name, x in prepared.arrays.items():
            part[name] = np.ascontiguousarray(x[lo:hi] if prepared.static[name] else x[:, lo:hi])
        parts.append(part)
    return parts


def split_state(state: dict | None, ranges) -> list[dict | None]:
    """Per range, the rows of a ``final_state``/``initial_state`` (batch-first arrays)."""
    if state is None:
        return [None] * len(ranges)
    out = []
    for lo, hi in ranges:
        part = {}
        for name, entry in state.items():
            part[name] = {
                "state": {k: np.asarray(v)[lo:hi] for k, v in entry["state"].items()},
                "history": [np.asarray(h)[lo:hi] for h in entry["history"]],
            }
        out.append(part)
    return out
