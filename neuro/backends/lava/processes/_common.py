"""Argument checks and step bookkeeping shared by the Lava processes of this package.

Lava executes every ``.py`` file of this directory on its own (under its bare module
name) when it looks for ProcessModels, so this module must import nothing but numpy
and must not define any Process or ProcessModel.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "as_unit_vector",
    "check_count",
    "check_size",
    "check_stride",
    "is_active",
    "logical_step",
    "step_buffer_shape",
    "trace_shape",
]


def check_size(shape, name: str = "shape") -> int:
    """Return the number of units of a one-dimensional population.

    Parameters
    ----------
    shape : int or tuple of int
        ``N`` or ``(N,)`` with ``N >= 1``.
    name : str
        Argument name used in error messages.

    Returns
    -------
    int
        ``N``.

    Raises
    ------
    ValueError
        If ``shape`` is not a positive int or a one-element tuple of one.
    """
    if isinstance(shape, tuple | list):
        if len(shape) != 1:
            raise ValueError(f"{name} must be an int or a 1-tuple, got {shape!r}")
        shape = shape[0]
    if isinstance(shape, bool) or not isinstance(shape, int | np.integer) or shape < 1:
        raise ValueError(f"{name} must be a positive int, got {shape!r}")
    return int(shape)


def check_count(value, name: str) -> int:
    """Return ``value`` as a non-negative int.

    Parameters
    ----------
    value : int
        The value to check.
    name : str
        Argument name used in error messages.

    Returns
    -------
    int
        ``value``.

    Raises
    ------
    ValueError
        If ``value`` is not a non-negative integer.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return int(value)


def check_stride(value) -> int:
    """Return ``value`` (Lava time steps per logical step) as an int >= 1.

    Raises
    ------
    ValueError
        If ``value`` is not an integer >= 1.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"stride must be an int >= 1, got {value!r}")
    return int(value)


def as_unit_vector(value, size: int, name: str) -> np.ndarray:
    """Broadcast a scalar or a per-unit array to a float64 vector of length ``size``.

    Parameters
    ----------
    value : float or array-like or None
        Scalar, array of ``size`` values, or None for zeros.
    size : int
        Number of units.
    name : str
        Argument name used in error messages.

    Returns
    -------
    numpy.ndarray
        Float64 array of shape ``(size,)`` (a fresh copy).

    Raises
    ------
    ValueError
        If ``value`` has another number of elements or contains NaN.
    """
    if value is None:
        return np.zeros(size)
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(size, float(arr))
    else:
        arr = arr.reshape(-1)
        if arr.size != size:
            raise ValueError(f"{name} must be a scalar or have {size} values, got {arr.size}")
        arr = arr.copy()
    if np.isnan(arr).any():
        raise ValueError(f"{name} must not contain NaN")
    return arr


def step_buffer_shape(num_steps: int) -> tuple[int]:
    """Shape of a per-step count Var: ``(num_steps,)``, or ``(1,)`` when not recorded.

    Parameters
    ----------
    num_steps : int
        Number of logical steps to record; 0 records none.

    Returns
    -------
    tuple of int
        ``(max(num_steps, 1),)``.
    """
    return (max(int(num_steps), 1),)


def trace_shape(trace_steps: int, size: int) -> tuple[int, int]:
    """Shape of an output trace Var: ``(trace_steps, size)``, or ``(1, size)`` when off.

    Parameters
    ----------
    trace_steps : int
        Number of most recent logical steps kept (0: no trace).
    size : int
        Units of the population.

    Returns
    -------
    tuple of int
    """
    return (max(int(trace_steps), 1), int(size))


def logical_step(time_step: int, delay: int, stride: int = 1) -> int:
    """Logical step processed at Lava time step ``time_step`` by a process ``delay`` hops deep.

    Lava numbers time steps from 1.  A process that is ``delay`` synapse hops away from
    the source handles logical step ``k`` at Lava time step ``k * stride + 1 + delay``;
    the Lava time steps in between are idle.

    Parameters
    ----------
    time_step : int
        Lava time step (1-based).
    delay : int
        Number of one-step synapse hops between the source and the process.
    stride : int
        Lava time steps per logical step (>= 1).

    Returns
    -------
    int
        ``(time_step - 1 - delay) / stride`` when that is a whole number; negative
        while the process is idle (before its first step or between two steps).
    """
    offset = int(time_step) - 1 - int(delay)
    if offset < 0 or offset % int(stride):
        return -1
    return offset // int(stride)


def is_active(k: int, num_steps: int) -> bool:
    """Whether a neuron works on logical step ``k``.

    Parameters
    ----------
    k : int
        Logical step, see :func:`logical_step`.
    num_steps : int
        Number of logical steps to process; 0 means no upper bound.

    Returns
    -------
    bool
        ``k >= 0 and (num_steps == 0 or k < num_steps)``.
    """
    return k >= 0 and (num_steps == 0 or k < num_steps)
