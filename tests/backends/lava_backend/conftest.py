"""Shared fixtures of the Lava tests."""

import signal

import pytest

TIME_LIMIT_S = 120


@pytest.fixture(autouse=True)
def _time_limit():
    """Turn a hung Lava run (an exception inside a process model) into a failure."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def _raise(signum, frame):
        raise TimeoutError(f"Lava run took longer than {TIME_LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(TIME_LIMIT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
