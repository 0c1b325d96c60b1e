"""The memory budget: parsing, estimates that bound what the backends allocate, checks
that fire before any allocation."""

import tracemalloc

import numpy as np
import pytest

import neuro
from neuro import Dense, Input, Network, Readout
from neuro.exceptions import ParameterError, ResourceError
from neuro.limits import memory_budget, parse_bytes, run_memory


@pytest.mark.parametrize(
    "text, expected",
    [
        ("4GB", 4 * 10**9),
        ("512MiB", 512 * 2**20),
        ("1.5 GiB", int(1.5 * 2**30)),
        ("2e9", 2 * 10**9),
        ("100", 100),
        (12345, 12345),
        ("7 kb", 7000),
    ],
)
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


def test_budget_sources(monkeypatch):
    monkeypatch.setenv("NEURO_MEMORY_BUDGET", "3MB")
    assert memory_budget() == 3 * 10**6
    assert memory_budget("1KiB") == 1024  # the argument wins over the environment
    monkeypatch.delenv("NEURO_MEMORY_BUDGET")
    assert memory_budget() > 0


def delayed(delay=2000, units=50):
    net = Network(name="d")
    net.add_population("x", (units,), Input())
    net.add_population("y", (units,), Readout())
    net.connect("x", "y", Dense(np.eye(units)), delay=delay)
    return net


def test_recording_estimate_is_steps_batch_units():
    parts = run_memory(delayed(), batch=8, steps=3, record=["y"], record_steps="all")
    assert parts["record y"][0] == 3 * 8 * 50 * 8
    parts = run_memory(delayed(), batch=8, steps=3, record=["y"], record_steps="last")
    assert parts["record y"][0] == 8 * 50 * 8


@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_estimate_bounds_what_a_run_allocates(backend):
    net, x = delayed(), np.ones((8, 50))
    neuro.run(net, x, steps=3, backend=backend)  # compile once, outside the measurement
    tracemalloc.start()
    neuro.run(net, x, steps=3, backend=backend)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    estimate = sum(n for n, _ in run_memory(net, 8, 3, ["y"], "all").values())
    assert peak <= estimate
    assert peak >= 0.2 * estimate  # the ring buffer is the bulk of the run


def test_budget_refuses_and_admits():
    net, x = delayed(), np.ones((8, 50))
    need = sum(n for n, _ in run_memory(net, 8, 1, ["y"], "all").values())
    with pytest.raises(ResourceError, match="delay ring buffer of 2001 steps"):
        neuro.run(net, x, backend="reference", memory_budget=need - 1)
    neuro.run(net, x, backend="reference", memory_budget=need)


def test_check_runs_before_allocation():
    """10**12 steps would make numpy fail (or the OS kill us); the check answers first."""
    with pytest.raises(ResourceError, match=r"record_steps='last'"):
        neuro.run(delayed(1, 4), np.ones((1, 4)), steps=10**12, backend="reference")


def test_bad_budget_values():
    for bad in ("lots", -1, 0, "1 XB", [1], True):
        with pytest.raises(ParameterError, match="memory_budget"):
            parse_bytes(bad, "memory_budget")
