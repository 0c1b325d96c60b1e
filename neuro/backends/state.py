"""The backend-neutral run state: model state plus recent outputs, dense.

``state[population] = {"state": {name: array (B, ...)}, "history": [out_{t-D}, ..., out_{t-1}]}``
where D is the largest delay leaving the population and each ``out`` is (B, size).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import InputError

__all__ = ["initial_histories"]


def initial_histories(network, batch: int, initial_state: dict | None) -> dict[str, list]:
    """Per population, the D most recent outputs (oldest first) a run starts from.

    Zeros (no events) for a fresh run; taken from ``initial_state`` when given.
    """
    out = {}
    for name, pop in network.populations.items():
        depth = network.max_delay(name)
        saved = (initial_state or {}).get(name, {}).get("history")
        if initial_state is not None and depth and saved is None:
            raise InputError(f"initial_state has no history for population {name!r}.")
        if saved is None or not depth:
            out[name] = [np.zeros((batch, pop.size)) for _ in range(max(1, depth))]
            continue
        hist = [np.asarray(h, dtype=np.float64) for h in saved]
        if len(hist) != depth or any(h.shape != (batch, pop.size) for h in hist):
            raise InputError(
                f"initial_state history of {name!r} must be {depth} arrays of shape "
                f"({batch}, {pop.size}); got {[h.shape for h in hist]}."
            )
        out[name] = hist
    return out
