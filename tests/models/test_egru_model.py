"""EGRU neuron model: numpy step, cpu kernel vs reference, event and synop counts."""

import numpy as np
import pytest
from identity import assert_identical  # noqa: E402
from tiles import use_small_tiles

import neuro
from neuro import Dense, Input, Network, Readout, Sparse
from neuro.exceptions import ParameterError, ShapeError
from neuro.models import MODELS
from neuro.models.egru import EGRU


def _independent_step(a, q, c, thr):
    """Unit-by-unit loops written from the EvNN equations."""
    batch, h = c.shape
    y = np.zeros_like(c)
    c_new = np.zeros_like(c)
    for b in range(batch):
        for i in range(h):
            z = 1.0 / (1.0 + np.exp(-(a[b, i] + q[b, i])))
            r = 1.0 / (1.0 + np.exp(-(a[b, h + i] + q[b, h + i])))
            g = np.tanh(a[b, 2 * h + i] + r * q[b, 2 * h + i])
            c_hat = z * c[b, i] + (1 - z) * g
            if c_hat > thr[i]:
                y[b, i] = c_hat
                c_new[b, i] = c_hat - thr[i]
            else:
                c_new[b, i] = c_hat
    return y, c_new


@pytest.mark.parametrize("seed", range(4))
def test_step_matches_independent_loops(seed):
    rng = np.random.default_rng(seed)
    batch, h = 3, 7
    a, q = rng.normal(size=(batch, 3 * h)) * 2, rng.normal(size=(batch, 3 * h)) * 2
    c = rng.normal(size=(batch, h)) * 0.5
    thr = rng.uniform(0, 0.5, size=h)
    model = EGRU(thr)
    assert model.ports(h) == {"input": 3 * h, "recurrent": 3 * h}
    assert model.init_state(h, batch)["c"].shape == (batch, h)
    y, state = model.step({"c": c}, {"input": a, "recurrent": q})
    y_ref, c_ref = _independent_step(a, q, c, thr)
    np.testing.assert_allclose(y, y_ref, atol=1e-14)
    np.testing.assert_allclose(state["c"], c_ref, atol=1e-14)
    assert 0 < np.count_nonzero(y) < y.size  # both events and silence were exercised


def test_threshold_is_strict():
    # z = 0.5 (zero gate drives) and g = tanh(atanh(0.4)) -> c_hat = 0.5 * 0.4 = 0.2 exactly
    # for c = 0; a threshold of exactly c_hat sends nothing.
    h = 2
    a = np.zeros((1, 3 * h))
    a[0, 2 * h :] = np.arctanh(0.4)
    q = np.zeros((1, 3 * h))
    y0, _ = EGRU(np.zeros(h)).step({"c": np.zeros((1, h))}, {"input": a, "recurrent": q})
    c_hat = y0[0, 0]
    y, st = EGRU(np.full(h, c_hat)).step({"c": np.zeros((1, h))}, {"input": a, "recurrent": q})
    assert np.all(y == 0) and np.all(st["c"] == c_hat)


def test_validation_errors():
    net = Network(name="bad")
    net.add_population("x", (3,), Input())
    net.add_population("e", (2,), EGRU([0.1, -0.2]))
    net.connect("x", "e", Dense(np.ones((3, 6))))
    with pytest.raises(ParameterError, match="egru threshold"):
        net.validate()
    net.populations["e"].model = EGRU([0.1, np.nan])
    with pytest.raises(ParameterError, match="non-finite"):
        net.validate()
    net.populations["e"].model = EGRU([0.1, 0.2, 0.3])
    with pytest.raises(ShapeError, match="one value per unit"):
        net.validate()
    assert MODELS.get("egru") is EGRU


def _weights(rng, n_pre, n_out, scale):
    w = rng.normal(size=(n_pre, n_out)) * scale / np.sqrt(n_pre)
    w[rng.random(w.shape) < rng.uniform(0, 0.6)] = 0
    return Sparse.from_matrix(w) if rng.random() < 0.4 else Dense(w)


def random_egru_network(seed):
    """Input -> EGRU stack (delay-1 self projections) -> readout, with random biases."""
    rng = np.random.default_rng(seed)
    net = Network(name=f"egru{seed}")
    n_in = int(rng.integers(3, 12))
    net.add_population("in", (n_in,), Input())
    prev, width = "in", n_in
    for k in range(int(rng.integers(1, 4))):
        h = int(rng.integers(2, 15))
        name = f"e{k}"
        net.add_population(name, (h,), EGRU(rng.uniform(0, 0.3, size=h)))
        net.connect(prev, name, _weights(rng, width, 3 * h, 3.0), bias=rng.normal(size=3 * h))
        net.connect(
            name,
            name,
            _weights(rng, h, 3 * h, 2.0),
            port="recurrent",
            delay=1,
            bias=rng.normal(size=3 * h) if rng.random() < 0.7 else None,
        )
        prev, width = name, h
    n_out = int(rng.integers(1, 5))
    net.add_population("out", (n_out,), Readout())
    net.connect(prev, "out", _weights(rng, width, n_out, 1.0), bias=rng.normal(size=n_out))
    x = rng.normal(size=(int(rng.integers(3, 12)), int(rng.integers(1, 4)), n_in))
    x[rng.random(x.shape) < 0.3] = 0
    return net, x


def _independent_counts(net, recs, x):
    """events per population and synops per projection from recorded outputs."""
    outs = dict(recs)
    outs["in"] = x
    events = {n: int(np.count_nonzero(outs[n])) for n in net.populations}
    synops = {}
    for p in net.projections.values():
        src = outs[p.pre]
        if p.delay:
            src = src[: src.shape[0] - p.delay]
        w = p.weights.apply(np.eye(p.weights.n_pre))
        per_unit = np.count_nonzero(w, axis=1)
        synops[p.name] = int(((src != 0) * per_unit).sum())
    return events, synops


@pytest.mark.parametrize("seed", range(6))
def test_cpu_matches_reference_and_counts(seed):
    net, x = random_egru_network(seed)
    record = list(net.populations)[1:]
    ref = neuro.run(net, x, backend="reference", record=record)
    cpu = neuro.run(net, x, backend="cpu", record=record, dtype="float64")
    for name in record:
        np.testing.assert_allclose(
            cpu.recordings[name], ref.recordings[name], rtol=1e-12, atol=1e-12
        )
    assert cpu.counts == ref.counts
    events, synops = _independent_counts(net, ref.recordings, x)
    for name, n in events.items():
        assert ref.counts.populations[name].events == n
    for name, n in synops.items():
        assert ref.counts.projections[name].synops == n
    assert sum(events[n] for n in net.populations if n.startswith("e")) > 0


def test_final_state_holds_c_per_sample():
    """The state a chunked run carries (chunks on every backend: test_conformance.py)."""
    net, x = random_egru_network(3)
    first = neuro.run(net, x[: x.shape[0] // 2], backend="reference")
    c = first.final_state["e0"]["state"]["c"]
    assert c.dtype == np.float64 and c.shape == (x.shape[1], net.populations["e0"].size)


def test_float32_cpu_close_to_reference():
    net, x = random_egru_network(4)
    ref = neuro.run(net, x, backend="reference")
    cpu = neuro.run(net, x, backend="cpu")
    assert cpu.info["dtype"] == "float32"
    np.testing.assert_allclose(cpu.outputs, ref.outputs, atol=1e-4)


def test_hdf5_round_trip(tmp_path):
    net, x = random_egru_network(5)
    path = neuro.save(net, tmp_path / "egru.h5")
    back = neuro.load(path)
    assert isinstance(back.populations["e0"].model, EGRU)
    np.testing.assert_array_equal(
        back.populations["e0"].model.threshold, net.populations["e0"].model.threshold
    )
    a = neuro.run(net, x, backend="cpu", dtype="float64")
    b = neuro.run(back, x, backend="cpu", dtype="float64")
    np.testing.assert_array_equal(a.outputs, b.outputs)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("schedule", ["serial", "samples", "lockstep"])
def test_compiled_egru_equals_stepwise_bit_for_bit(seed, schedule, monkeypatch):
    """The compiled loop runs EGRU populations with the step-by-step scheduler's kernel."""
    from neuro.backends.cpu import fastpath

    net, x = random_egru_network(seed)
    x = np.concatenate([x, x[:, ::-1]], axis=1)  # at least two samples
    threads = 1 if schedule == "serial" else 2
    monkeypatch.setattr(fastpath, "LOCKSTEP_WEIGHT_BYTES", 0 if schedule == "lockstep" else 1 << 40)
    use_small_tiles(monkeypatch)  # batches: tiles of 16 columns by a few rows
    record = list(net.populations)
    cut = x.shape[0] // 2
    slow = [neuro.run(net, x[:cut], record=record, engine="python")]
    slow.append(
        neuro.run(net, x[cut:], record=record, engine="python", initial_state=slow[0].final_state)
    )
    fast = [neuro.run(net, x[:cut], record=record, engine="compiled", threads=threads)]
    fast.append(
        neuro.run(
            net,
            x[cut:],
            record=record,
            engine="compiled",
            threads=threads,
            initial_state=fast[0].final_state,
        )
    )
    assert fast[0].info["schedule"] == schedule
    for a, b in zip(slow, fast):
        assert_identical(a, b, record)
