"""Resource limits checked before a run, a mapping or a delay buffer is allocated.

neuro estimates the memory a run needs from the network and the input shapes alone
(delay ring buffers, recorded outputs, run state) and refuses, with a
:class:`~neuro.exceptions.ResourceError`, to start one that does not fit the **memory
budget**, instead of letting the operating system kill the process half-way.

The budget, in bytes, is taken from (first match):

1. the ``memory_budget`` argument of :func:`neuro.run` (an int, or a string such as
   ``"4GB"``, ``"512 MiB"``);
2. the environment variable ``NEURO_MEMORY_BUDGET`` (same forms);
3. 80 % of the memory the operating system reports available (``MemAvailable`` of
   ``/proc/meminfo``), or 4 GiB where that cannot be read.

The estimates count the large arrays only (float64 everywhere, the widest a backend
uses), so they are upper bounds of what the backends allocate for those parts.
"""

from __future__ import annotations

import os
import re

import numpy as np

from .exceptions import ParameterError, ResourceError

__all__ = [
    "ALWAYS_FITS",
    "ENV_VAR",
    "budget_in_environment",
    "MAX_DELAY",
    "check_mapping_memory",
    "check_run_memory",
    "format_bytes",
    "memory_budget",
    "parse_bytes",
    "run_memory",
    "run_memory_total",
    "skips_budget_check",
]

#: Environment variable holding the memory budget (bytes, or "4GB", "512MiB", ...).
ENV_VAR = "NEURO_MEMORY_BUDGET"

#: Longest delay, in steps, a projection may have.  Every step of delay holds one
#: buffer of the pre-synaptic population's outputs for every sample of a run.
MAX_DELAY = 65_535

#: Bytes a backend spends per ring-buffer slot besides the values themselves
#: (Python objects of the step-by-step engines).
_SLOT_OVERHEAD = 512

#: Bytes per unit and sample of one ring-buffer slot: event index (int64) and value
#: (float64), the initial history a run starts from and the final one it returns, and
#: room for one working copy.
_BYTES_PER_SLOT_UNIT = 40

#: Runs estimated below this size are not checked against the free memory (reading it
#: costs more than a small run); an explicit budget is always checked.
ALWAYS_FITS = 64 * 2**20

#: Bytes per stored synapse while a network is mapped onto cores (connectivity
#: matrices per projection: values, indices, and the per-core destination tables).
_BYTES_PER_MAPPED_SYNAPSE = 48

_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_bytes(value, what: str = "memory budget") -> int:
    """An amount of memory in bytes from an int or a string like ``"4GB"`` / ``"512 MiB"``.

    Raises
    ------
    ParameterError
        Naming ``what`` and the value if it is not a positive amount.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        amount = int(value)
    elif isinstance(value, float) and np.isfinite(value):
        amount = int(value)
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][0-9]+)?)\s*([A-Za-z]*)\s*", value)
        unit = match.group(2).lower() if match else None
        if unit not in _UNITS:
            raise ParameterError(
                f"{what} == {value!r} is not an amount of memory; give bytes or a number "
                "with a unit, e.g. 4GB, 512MiB, 2e9."
            )
        amount = int(float(match.group(1)) * _UNITS[unit])
    else:
        raise ParameterError(
            f"{what} == {value!r} ({type(value).__name__}) is not an amount of memory; "
            "give bytes or a string such as '4GB'."
        )
    if amount < 1:
        raise ParameterError(f"{what} == {value!r}, must be > 0 bytes.")
    return amount


def _available_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_budget(value=None) -> int:
    """The memory budget in bytes: ``value``, else ``$NEURO_MEMORY_BUDGET``, else 80 % free."""
    if value is not None:
        return parse_bytes(value, "memory_budget")
    env = os.environ.get(ENV_VAR)
    if env:
        return parse_bytes(env, f"environment variable {ENV_VAR}")
    available = _available_bytes()
    return int(0.8 * available) if available else 4 * 2**30


def format_bytes(n: float) -> str:
    """``n`` bytes in the largest binary unit that keeps the number >= 1 (``"14.6 TiB"``)."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def _budget_text(value) -> str:
    source = (
        "memory_budget="
        if value is not None
        else (f"${ENV_VAR}" if os.environ.get(ENV_VAR) else "80% of available memory")
    )
    return f"the memory budget is {format_bytes(memory_budget(value))} ({source})"


def delay_depths(network) -> list[tuple[str, int, int]]:
    """(population, largest outgoing delay D, units) of every population with D > 0."""
    depths = []
    for name, pop in network.populations.items():
        depth = network.max_delay(name)
        if depth:
            depths.append((name, depth, pop.size))
    return depths


def run_memory(network, batch: int, steps: int, record, record_steps: str, depths=None) -> dict:
    """Estimated bytes of the large arrays of a run, per part.

    Parameters
    ----------
    network : Network
    batch, steps : int
    record : list of str
        Recorded populations.
    record_steps : {"all", "last"}

    Returns
    -------
    dict of str → (int, str)
        ``{part: (bytes, description)}``; parts are ``"delay <population>"`` (its ring
        of D + 1 event buffers and the D outputs of its final state, D its largest
        outgoing delay) and ``"record <population>"`` (steps kept × batch × units).
    """
    parts = {}
    kept = steps if record_steps == "all" else 1
    for name, depth, size in delay_depths(network) if depths is None else depths:
        # per slot and unit: event index and value, the initial and the final history
        nbytes = (depth + 1) * (batch * size * _BYTES_PER_SLOT_UNIT + _SLOT_OVERHEAD)
        parts[f"delay {name}"] = (
            nbytes,
            f"population {name!r}: delay ring buffer of {depth + 1} steps × batch {batch} "
            f"× {size} units",
        )
    for name in record:
        size = network.populations[name].size
        parts[f"record {name}"] = (
            kept * batch * size * 8,
            f"recorded outputs of {name!r}: {kept} steps × batch {batch} × {size} units × 8 B",
        )
    return parts


def run_memory_total(
    network, batch: int, steps: int, record, record_steps: str, depths=None
) -> int:
    """The sum of :func:`run_memory`'s parts in bytes, without their descriptions
    (what a run checks; a compiled program keeps it per batch, steps and recording)."""
    kept = steps if record_steps == "all" else 1
    total = 0
    for _, depth, size in delay_depths(network) if depths is None else depths:
        total += (depth + 1) * (batch * size * _BYTES_PER_SLOT_UNIT + _SLOT_OVERHEAD)
    for name in record:
        total += kept * batch * network.populations[name].size * 8
    return total


# os.environ's own mapping (the one os.environ.get reads): a lookup in it takes tens of
# nanoseconds instead of a microsecond of key encoding, for checks made on every call
_ENVIRON = getattr(os.environ, "_data", None)
_ENV_KEY = os.environ.encodekey(ENV_VAR) if isinstance(_ENVIRON, dict) else None


def budget_in_environment() -> bool:
    """Whether ``$NEURO_MEMORY_BUDGET`` is set (non-empty), read now."""
    if _ENV_KEY is None:  # pragma: no cover - other Python implementations
        return bool(os.environ.get(ENV_VAR))
    return bool(_ENVIRON.get(_ENV_KEY))


def skips_budget_check(total: int, budget=None) -> bool:
    """Whether a run of ``total`` estimated bytes is small enough not to be checked:
    below 64 MiB, with no explicit budget (argument or ``$NEURO_MEMORY_BUDGET``)."""
    return total <= ALWAYS_FITS and budget is None and not budget_in_environment()


def check_run_memory(
    network, batch: int, steps: int, record, record_steps, budget=None, depths=None, total=None
):
    """Raise :class:`ResourceError` before a run whose arrays would exceed the budget.

    The message names the largest part, its size, the total, the budget and what to
    change.  Returns the estimated total in bytes (``total``: already computed by
    :func:`run_memory_total`).
    """
    if total is None:
        total = run_memory_total(network, batch, steps, record, record_steps, depths)
    if skips_budget_check(total, budget):
        return total  # small runs skip reading the free memory (a per-call cost)
    limit = memory_budget(budget)
    if total <= limit:
        return total
    parts = run_memory(network, batch, steps, record, record_steps, depths)
    key = max(parts, key=lambda k: parts[k][0])
    nbytes, desc = parts[key]
    if key.startswith("record"):
        advice = (
            "pass record_steps='last' (keeps one step), run fewer steps per call and continue "
            "with initial_state=result.final_state, record fewer populations, or raise the "
            f"budget (memory_budget= or ${ENV_VAR})"
        )
    else:
        advice = (
            "shorten the delay, run a smaller batch, or raise the budget "
            f"(memory_budget= or ${ENV_VAR})"
        )
    raise ResourceError(
        f"network {network.name!r}: the run needs about {format_bytes(total)}, "
        f"{_budget_text(budget)}; the largest part is {desc} = {format_bytes(nbytes)}; {advice}."
    )


def check_mapping_memory(network, budget=None) -> int:
    """Raise :class:`ResourceError` before mapping tables larger than the budget are built.

    Returns the estimated bytes (stored synapses × a fixed cost per synapse).
    """
    synapses = {p.name: int(np.sum(p.weights.fanout_nnz())) for p in network.projections.values()}
    total = sum(synapses.values()) * _BYTES_PER_MAPPED_SYNAPSE
    limit = memory_budget(budget)
    if total > limit:
        worst = max(synapses, key=synapses.get)
        raise ResourceError(
            f"network {network.name!r}: mapping onto cores builds tables of "
            f"{sum(synapses.values())} synapses, about {format_bytes(total)}, "
            f"{_budget_text(budget)}; the largest is projection {worst!r} with "
            f"{synapses[worst]} synapses; prune or split it, or raise the budget "
            f"(${ENV_VAR})."
        )
    return total
