"""One validator per concern; messages name the object, the value and the rule."""

from __future__ import annotations

import numpy as np

from .exceptions import ParameterError


def check_finite(array: np.ndarray, what: str) -> None:
    """Raise :class:`ParameterError` if ``array`` holds NaN or infinity."""
    arr = np.asarray(array)
    if not arr.size or np.isfinite(np.sum(arr)):
        return  # a NaN or an infinity makes the sum non-finite (one pass, no temporaries)
    if not np.all(np.isfinite(arr)):  # the sum can also overflow: check value by value
        bad = arr[~np.isfinite(arr)].ravel()[0]
        count = int(np.count_nonzero(~np.isfinite(arr)))
        raise ParameterError(
            f"{what} contains {count} non-finite value(s) (first: {bad}); "
            "all values must be finite."
        )


def check_nonnegative(array: np.ndarray, what: str) -> None:
    """Raise :class:`ParameterError` unless every value of ``array`` is finite and >= 0."""
    check_finite(array, what)
    arr = np.asarray(array)
    if arr.size and arr.min() < 0:
        raise ParameterError(f"{what} == {float(arr.min())!r}, must be >= 0.")


def as_int_pair(value, what: str) -> tuple[int, int]:
    """Normalise an int or a pair of ints (stride, padding, kernel size)."""
    if np.isscalar(value):
        value = (value, value)
    pair = tuple(int(v) for v in value)
    if len(pair) != 2:
        raise ParameterError(f"{what} == {value!r}, must be an int or a pair of ints.")
    return pair
