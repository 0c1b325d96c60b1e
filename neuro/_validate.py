"""One validator per concern; messages name the object, the value and the rule."""

from __future__ import annotations

import numpy as np

from .exceptions import ParameterError


def as_float_param(value, what: str, dtype=np.float64) -> np.ndarray:
    """``value`` as a float array, or a :class:`ParameterError` naming ``what`` and the value.

    Strings, ragged lists and other non-numbers (``threshold="abc"``) are refused here
    with a message instead of numpy's bare ``could not convert string to float``.
    """
    if isinstance(value, (str, bytes)):
        raise ParameterError(f"{what} == {value!r} is a string, must be a number or numbers.")
    try:
        arr = np.asarray(value)
        if arr.dtype.kind not in "fiub":
            raise TypeError(arr.dtype)
        return arr.astype(dtype)
    except (ValueError, TypeError):
        raise ParameterError(
            f"{what} == {value!r} ({type(value).__name__}), must be a number or an array "
            "of numbers."
        ) from None


def as_int_param(value, what: str, minimum: int | None = None) -> int:
    """``value`` as an int (``3``, ``3.0``, ``np.int64(3)``) or a :class:`ParameterError`.

    Booleans, strings, fractions and values below ``minimum`` are refused; the message
    names ``what``, the value and the rule.
    """
    rule = "an int" if minimum is None else f"an int >= {minimum}"
    try:
        ok = not isinstance(value, (bool, np.bool_, str, bytes)) and int(value) == value
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ParameterError(f"{what} == {value!r}, must be {rule}.")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ParameterError(f"{what} == {value!r}, must be {rule}.")
    return value


def as_bool_param(value, what: str) -> bool:
    """``value`` as a bool; only True/False (or 0/1) are accepted, never ``"no"``."""
    if isinstance(value, (bool, np.bool_)) or (
        isinstance(value, (int, np.integer)) and value in (0, 1)
    ):
        return bool(value)
    raise ParameterError(f"{what} == {value!r}, must be True or False.")


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
    given = value
    if np.isscalar(value):
        value = (value, value)
    try:
        pair = tuple(as_int_param(v, what) for v in value)
    except (ParameterError, TypeError):
        pair, value = (), given
    if len(pair) != 2:
        raise ParameterError(f"{what} == {value!r}, must be an int or a pair of ints.")
    return pair
