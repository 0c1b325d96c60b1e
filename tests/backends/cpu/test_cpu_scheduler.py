"""The cpu backend's two engines: the compiled whole-run loop and the step-by-step scheduler."""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
from identity import assert_identical
from netgen import COMPILED_KINDS, assert_layers_fire, cases, random_case
from tiles import use_small_tiles

import neuro
from neuro.backends.cpu import fastpath
from neuro.backends.cpu.kernels import count_nonzero_rows, scatter_dense, scatter_dense_columns
from neuro.exceptions import BackendError


@pytest.mark.parametrize("seed, kind", cases(COMPILED_KINDS, per_kind=8))
@pytest.mark.parametrize("threads", [1, 2])
def test_compiled_engine_is_bit_identical_to_stepwise(seed, kind, threads):
    net, x, _ = random_case(seed, kind)
    pops = list(net.populations)
    slow = neuro.run(net, x, record=pops, engine="python")
    fast = neuro.run(net, x, record=pops, engine="compiled", threads=threads)
    assert slow.info["engine"] == "python" and fast.info["engine"] == "compiled"
    assert_layers_fire(net, fast.recordings)
    assert_identical(slow, fast, pops)


@pytest.mark.parametrize("seed, kind", cases(COMPILED_KINDS, per_kind=4, start=100))
def test_lockstep_schedule_is_bit_identical_to_stepwise(seed, kind, monkeypatch):
    """Samples in lockstep (the schedule of large networks), dense deliveries tile by tile."""
    net, x, _ = random_case(seed, kind)
    x = np.concatenate([x, x[:, ::-1]], axis=1)  # at least two samples
    monkeypatch.setattr(fastpath, "LOCKSTEP_WEIGHT_BYTES", 0)
    use_small_tiles(monkeypatch)  # tiles of 16 columns by 4 rows
    pops = list(net.populations)
    slow = neuro.run(net, x, record=pops, engine="python")
    for threads in (1, 2):
        fast = neuro.run(net, x, record=pops, engine="compiled", threads=threads)
        assert fast.info["schedule"] == ("lockstep" if threads == 2 else "serial")
        assert_identical(slow, fast, pops)


def test_column_blocks():
    assert fastpath.column_block("dense", 4096, 4096, 4, True) == 512
    assert fastpath.column_block("dense", 4096, 4096, 4, False) == 4096  # rows not shared
    assert fastpath.column_block("dense", 1000, 300, 4, True) == 300  # fits: one block
    assert fastpath.column_block("sparse", 10**6, 10**6, 4, True) == 10**6  # only dense
    assert fastpath.column_block("dense", 10**7, 10**4, 4, True) == 16  # at least 16 columns


def test_dense_tiles():
    assert fastpath.dense_tile("dense", 4096, 4096, 4, True) == (512, 128)  # 256 KiB tiles
    assert fastpath.dense_tile("dense", 4096, 4096, 8, True) == (512, 64)
    assert fastpath.dense_tile("dense", 4096, 4096, 4, False) == (4096, 4096)  # rows not shared
    assert fastpath.dense_tile("dense", 1000, 300, 4, True) == (300, 1000)  # fits: one tile
    assert fastpath.dense_tile("sparse", 10**6, 10**6, 4, True) == (10**6, 10**6)  # only dense
    assert fastpath.dense_tile("dense", 10**7, 300, 4, True) == (300, 218)  # narrow: all columns


def test_schedule_follows_weight_bytes_threads_and_batch(monkeypatch):
    net, x, _ = random_case(5, "cnn")
    x = np.concatenate([x, x], axis=1)
    assert neuro.run(net, x).info["schedule"] == "serial"
    assert neuro.run(net, x[:, :1], threads=2).info["schedule"] == "serial"
    assert neuro.run(net, x, threads=2).info["schedule"] == "samples"
    monkeypatch.setattr(fastpath, "LOCKSTEP_WEIGHT_BYTES", 1)
    assert neuro.run(net, x, threads=2).info["schedule"] == "lockstep"


def test_auto_engine_picks_the_compiled_loop():
    net, x, _ = random_case(3, "rcnn")
    assert neuro.run(net, x).info["engine"] == "compiled"


def test_single_sample_column_split_is_identical(monkeypatch):
    """Dense deliveries split over parallel column blocks add terms in the same order."""
    rng = np.random.default_rng(5)
    w = rng.normal(size=(70, 301)).astype(np.float32)
    net = neuro.Network()
    net.add_population("x", (70,), neuro.Input())
    net.add_population("h", (301,), neuro.FATReLU(0.2))
    net.add_population("y", (5,), neuro.Readout(accumulate=True))
    net.connect("x", "h", neuro.Dense(w))
    net.connect("h", "y", neuro.Dense(rng.normal(size=(301, 5))))
    net.connect("y", "h", neuro.Dense(rng.normal(size=(5, 301))), delay=1, name="fb")
    x = rng.normal(size=(6, 1, 70)) * (rng.random((6, 1, 70)) < 0.5)
    monkeypatch.setattr(fastpath, "MIN_PARALLEL_CONNECTIONS", 0)
    use_small_tiles(monkeypatch)  # tiles, were it a batch
    pops = list(net.populations)
    slow = neuro.run(net, x, record=pops, engine="python")
    fast = neuro.run(net, x, record=pops, engine="compiled", threads=2)
    assert_identical(slow, fast, pops)
    ref = neuro.run(net, x, backend="reference", record=pops)
    np.testing.assert_allclose(fast.outputs, ref.outputs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n_events", range(10))
def test_dense_scatter_matches_numpy_for_every_unroll_remainder(n_events):
    rng = np.random.default_rng(n_events)
    w = rng.normal(size=(12, 37))
    w[rng.random(w.shape) < 0.3] = 0
    x = np.zeros((2, 12))
    for b in range(2):
        x[b, rng.choice(12, size=n_events, replace=False)] = rng.normal(size=n_events)
    ev = neuro.backends.cpu.events.EventBuffer(2, 12, np.float64)
    ev.from_dense(x)
    out = np.full((2, 37), 0.5)
    nnz, tot = np.count_nonzero(w, axis=1), np.full(12, 37)
    syn, act = scatter_dense(ev.ptr, ev.idx, ev.val, w, out, nnz, tot)
    np.testing.assert_allclose(out, 0.5 + x @ w, rtol=1e-12, atol=1e-12)
    assert syn == int(((x != 0).astype(int) @ (w != 0).astype(int)).sum())
    assert act == 37 * int((x != 0).sum())
    cols = np.full(37, 0.5)
    scatter_dense_columns(cols, w, ev.idx, ev.val, 0, ev.ptr[1], 3)
    np.testing.assert_array_equal(cols, out[0])


def test_count_nonzero_rows_matches_numpy():
    w = np.random.default_rng(0).normal(size=(9, 33)).astype(np.float32)
    w[::2, ::3] = 0
    np.testing.assert_array_equal(count_nonzero_rows(w), np.count_nonzero(w, axis=1))


@pytest.mark.parametrize("engine", ["compiled", "python"])
def test_chunked_run_continues_exactly(engine):
    """Delayed feedback and an accumulating readout carry over through final_state."""
    net, x, steps = next(
        c
        for c in (random_case(s, "rnn") for s in range(50))
        if c[2] >= 3 and any(p.delay > 2 for p in c[0].projections.values())
    )
    whole = neuro.run(net, x, engine=engine, dtype="float64")
    a = neuro.run(net, x[:1], engine=engine, dtype="float64")
    b = neuro.run(net, x[1:], engine="python", dtype="float64", initial_state=a.final_state)
    c = neuro.run(net, x[1:], engine="compiled", dtype="float64", initial_state=a.final_state)
    np.testing.assert_allclose(np.concatenate([a.outputs, b.outputs]), whole.outputs, atol=1e-12)
    np.testing.assert_array_equal(b.outputs, c.outputs)
    assert a.counts + c.counts == whole.counts


def test_accumulating_readout_state_is_carried():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(4, 3))
    net = neuro.Network()
    net.add_population("x", (4,), neuro.Input())
    net.add_population("y", (3,), neuro.Readout(accumulate=True))
    net.connect("x", "y", neuro.Dense(w), bias=np.array([0.1, 0.0, -0.2]))
    x = rng.normal(size=(5, 2, 4))
    a = neuro.run(net, x[:2], engine="compiled", dtype="float64")
    b = neuro.run(net, x[2:], engine="compiled", dtype="float64", initial_state=a.final_state)
    expected = np.cumsum(x @ w + np.array([0.1, 0.0, -0.2]), axis=0)
    np.testing.assert_allclose(np.concatenate([a.outputs, b.outputs]), expected, atol=1e-12)
    np.testing.assert_allclose(b.final_state["y"]["state"]["v"], expected[-1], atol=1e-12)


def test_token_embedding_runs_compiled():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(10, 4))
    net = neuro.Network()
    net.add_population("tok", (10,), neuro.TokenInput())
    net.add_population("e", (4,), neuro.Readout())
    net.connect("tok", "e", neuro.Dense(emb))
    ids = np.array([[1, 2], [3, 9], [0, 0]])
    r = neuro.run(net, ids, engine="compiled", dtype="float64")
    np.testing.assert_allclose(r.outputs, emb[ids])
    static = neuro.run(net, ids[1], steps=2, engine="compiled", dtype="float64")
    np.testing.assert_allclose(static.outputs, emb[[ids[1], ids[1]]])
    assert r.counts.synops == int((emb[ids] != 0).sum())


@dataclass(frozen=True)
class _Leaky(neuro.Readout):
    type: ClassVar[str] = "test_leaky"


def test_compiled_engine_refuses_models_without_compiled_kernel():
    net = neuro.Network(name="leaky")
    net.add_population("x", (3,), neuro.Input())
    net.add_population("y", (2,), _Leaky())
    net.connect("x", "y", neuro.Dense(np.ones((3, 2))))
    with pytest.raises(BackendError, match="'leaky'.*engine='auto'"):
        neuro.run(net, np.ones((1, 3)), engine="compiled")


@pytest.mark.parametrize(
    "options, message",
    [
        ({"threads": 0}, "threads == 0"),
        ({"threads": 1.5}, "threads == 1.5"),
        ({"engine": "gpu"}, "engine == 'gpu'"),
        ({"dtype": "int8"}, "dtype == 'int8'"),
    ],
)
def test_invalid_options_are_named(options, message):
    net, x, _ = random_case(0, "mlp")
    with pytest.raises(BackendError, match=message):
        neuro.run(net, x, **options)
