"""The backend-neutral run state: model state plus recent outputs, dense.

``state[population] = {"state": {name: array (B, ...)}, "history": [out_{t-D}, ..., out_{t-1}]}``
where D is the largest delay leaving the population and each ``out`` is (B, size).
The ``"state"`` entries are the model's declared state fields
(:meth:`neuro.models.base.NeuronModel.state_fields`): their names, dtypes and shapes are
read from the declaration, never from a backend's own knowledge of the model.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_finite
from ..exceptions import InputError

__all__ = ["check_initial_state", "initial_histories", "initial_model_state", "neutral_state"]


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
        fields = {f.name: f for f in pop.model.state_fields()}
        if saved and set(saved) != set(fields):
            raise InputError(
                f"{where}['state'] has keys {sorted(saved)}; population {name!r} "
                f"({pop.model.type}) keeps {sorted(fields) or 'no state'}."
            )
        for key, value in saved.items():
            arr = _as_state_array(value, f"{where}['state'][{key!r}]")
            shape = fields[key].shape(pop.size, batch)
            if arr.shape != shape:
                raise InputError(
                    f"{where}['state'][{key!r}] has shape {arr.shape}, must be "
                    f"{shape} (batch {batch})."
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


def initial_model_state(population, batch: int, saved: dict | None) -> dict[str, np.ndarray]:
    """The model state a run starts from: ``saved`` (checked by :func:`check_initial_state`)
    in the declared dtypes, or the declared initial values for a fresh run.

    Parameters
    ----------
    population : neuro.ir.Population
    batch : int
    saved : dict of str → array or None
        ``initial_state[population]["state"]``; None or empty: a fresh start.

    Returns
    -------
    dict of str → ndarray, shapes ``field.shape(size, batch)``
    """
    fields = population.model.state_fields()
    if not saved:
        return {f.name: f.zeros(population.size, batch) for f in fields}
    return {
        f.name: np.asarray(saved[f.name], dtype=f.dtype).reshape(f.shape(population.size, batch))
        for f in fields
    }


def neutral_state(population, arrays: dict) -> dict[str, np.ndarray]:
    """A backend's model state in the backend-neutral form: every declared field, in
    its declared dtype (``arrays`` maps field names to the backend's arrays)."""
    return {
        f.name: np.asarray(arrays[f.name]).astype(f.dtype) for f in population.model.state_fields()
    }
