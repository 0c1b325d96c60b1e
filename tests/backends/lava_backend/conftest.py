"""Shared fixtures of the Lava tests."""

import pytest
from time_limit import time_limit

TIME_LIMIT_S = 120


@pytest.fixture(autouse=True)
def _time_limit():
    """Turn a hung Lava run (an exception inside a process model) into a failure."""
    with time_limit(TIME_LIMIT_S, "Lava run"):
        yield
