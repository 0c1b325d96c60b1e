"""The backend-neutral run state: model state plus recent outputs, dense.

``state[population] = {"state": {name: array (B, ...)}, "history": [out_{t-D}, ..., out_{t-1}]}``
where D is the largest delay leaving the population and each ``out`` is (B, size).
"""

from __future__ import annotations

import numpy as np

from .._validate import check_finite
from ..exceptions import InputError

__all__ = ["check_initial_state", "initial_histories"]


def _as_state_array(value, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        arr = None
    if arr is None or arr.dtype.kind not in "fiub":
        raise InputError(
            f"{what} is a {type(value).__name__}, must be a numeric array "
            "(as in result.final_state)."
        )
    try:
        check_finite(arr, what)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return arr


def check_initial_state(network, batch: int, initial_state) -> None:
    """Check the types and shapes of ``initial_state`` (a previous run's ``final_state``).

    Raises
    ------
    InputError
        Naming the population and entry that is not what a ``final_state`` holds.
    """
    if initial_state is None:
        return
    if not isinstance(initial_state, dict):
        raise InputError(
            f"initial_state is a {type(initial_state).__name__}, must be a dict "
            "{population: {'state': ..., 'history': ...}} such as result.final_state."
        )
    unknown = sorted(str(k) for k in initial_state if k not in network.populations)
    if unknown:
        raise InputError(
            f"initial_state names population(s) {unknown} that network {network.name!r} "
            f"does not have; its populations are {sorted(network.populations)}."
        )
    for name, entry in initial_state.items():
        pop = network.populations[name]
        where = f"initial_state[{name!r}]"
        if not isinstance(entry, dict):
            raise InputError(
                f"{where} is a {type(entry).__name__}, must be a dict with keys "
                "'state' and 'history' (as in result.final_state)."
            )
        extra = sorted(set(entry) - {"state", "history"})
        if extra:
            raise InputError(f"{where} has key(s) {extra}; only 'state' and 'history' exist.")
        history = entry.get("history")
        if history is not None:
            if isinstance(history, (str, bytes, dict)) or not hasattr(history, "__len__"):
                raise InputError(
                    f"{where}['history'] is a {type(history).__name__}, must be a list of "
                    f"arrays of shape ({batch}, {pop.size})."
                )
            for i, h in enumerate(history):
                _as_state_array(h, f"{where}['history'][{i}]")
        saved = entry.get("state")
        if saved is None:
            continue
        if not isinstance(saved, dict):
            raise InputError(
                f"{where}['state'] is a {type(saved).__name__}, must be a dict of arrays."
            )
        fresh = pop.model.init_state(pop.size, batch)
        if saved and set(saved) != set(fresh):
            raise InputError(
                f"{where}['state'] has keys {sorted(saved)}; population {name!r} "
                f"({pop.model.type}) keeps {sorted(fresh) or 'no state'}."
            )
        for key, value in saved.items():
            arr = _as_state_array(value, f"{where}['state'][{key!r}]")
            if arr.shape != fresh[key].shape:
                raise InputError(
                    f"{where}['state'][{key!r}] has shape {arr.shape}, must be "
                    f"{fresh[key].shape} (batch {batch})."
                )


def initial_histories(network, batch: int, initial_state: dict | None) -> dict[str, list]:
    """Per population, the D most recent outputs (oldest first) a run starts from.

    Zeros (no events) for a fresh run; taken from ``initial_state`` when given.
    """
    check_initial_state(network, batch, initial_state)
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
