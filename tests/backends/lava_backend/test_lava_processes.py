"""Lava processes of ``neuro.backends.lava.processes`` against plain numpy.

Needs lava-nc (Python 3.10, numpy < 2), e.g. in ``.venv-lava``::

    .venv-lava/bin/python -m pytest tests/backends/lava_backend
"""

from __future__ import annotations

import numpy as np
import pytest

# Not just "lava": with tests/ on sys.path, the tests/lava directory itself imports as a
# namespace package of that name.
pytest.importorskip("lava.magma.core.run_configs")

from lava.magma.core.run_conditions import RunSteps  # noqa: E402
from lava.magma.core.run_configs import Loihi2SimCfg  # noqa: E402
from lava.proc.dense.process import Dense  # noqa: E402
from lava.proc.io.sink import RingBuffer as Sink  # noqa: E402

from neuro.backends.lava.processes import (  # noqa: E402
    CountingDense,
    CountingSparse,
    EGRUNeuron,
    FATReLUNeuron,
    GradedSource,
    ReadoutNeuron,
)

CFG = Loihi2SimCfg(select_tag="floating_pt")


def _run(root, num_steps: int) -> None:
    root.run(condition=RunSteps(num_steps=num_steps), run_cfg=CFG)


def _sparse(rng, shape, p):
    return rng.standard_normal(shape) * (rng.random(shape) < p)


def _synops(x: np.ndarray, w_post_pre: np.ndarray) -> np.ndarray:
    """Per-step synaptic operations: fan-out (non-zero weights) of each non-zero input."""
    return (x != 0).astype(np.int64) @ np.count_nonzero(w_post_pre, axis=0)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _egru_numpy(xs, kernel, rec, bx, br, thr):
    """Reference EGRU over a (T, I) input; kernel [I, 3H], rec [H, 3H]."""
    hidden = thr.size
    y = np.zeros(hidden)
    c = np.zeros(hidden)
    ys, events = [], []
    for x in xs:
        a = x @ kernel + bx
        q = y @ rec + br
        z = _sigmoid(a[:hidden] + q[:hidden])
        r = _sigmoid(a[hidden : 2 * hidden] + q[hidden : 2 * hidden])
        g = np.tanh(a[2 * hidden :] + r * q[2 * hidden :])
        c_hat = z * c + (1 - z) * g
        e = c_hat > thr
        y = np.where(e, c_hat, 0.0)
        c = np.where(e, c_hat - thr, c_hat)
        ys.append(y)
        events.append(int(e.sum()))
    return np.array(ys), c, np.array(events)


def test_source_sends_one_row_per_step_and_counts():
    data = np.array([[0.0, 1.5, 0.0], [-2.0, 0.0, 0.25], [0.0, 0.0, 0.0], [3.0, 4.0, 5.0]])
    src = GradedSource(data=data)
    sink = Sink(shape=(3,), buffer=6)
    src.s_out.connect(sink.a_in)
    try:
        _run(src, 6)
        got = sink.data.get().T
        total = src.event_count.get()
        per_step = src.step_event_count.get()
    finally:
        src.stop()
    np.testing.assert_array_equal(got[:4], data)  # no hop: row k at buffer index k
    np.testing.assert_array_equal(got[4:], 0.0)  # zeros after the last row
    assert int(total[0]) == 6
    np.testing.assert_array_equal(per_step, [1, 2, 0, 3])


def test_fatrelu_and_readout_without_hop():
    theta = np.array([0.5, 0.5, 1.0, 0.0])
    data = np.array(
        [
            [0.5, 0.49, 2.0, -1.0],  # 0.5 >= 0.5 passes; 0.49 does not; negative stays 0
            [1.0, 0.0, 1.0, 0.0],  # v == theta passes (inclusive comparison)
            [0.0, 0.0, 0.0, 0.3],
        ]
    )
    bias = np.array([0.0, 0.0, 0.0, 0.5])
    steps = data.shape[0]
    src = GradedSource(data=data)
    relu = FATReLUNeuron(shape=4, theta=theta, num_steps=steps)
    readout = ReadoutNeuron(shape=4, bias=bias, num_steps=steps)
    sink_relu = Sink(shape=(4,), buffer=steps + 1)
    sink_ro = Sink(shape=(4,), buffer=steps + 1)
    src.s_out.connect(relu.a_in)
    src.s_out.connect(readout.a_in)
    relu.s_out.connect(sink_relu.a_in)
    readout.s_out.connect(sink_ro.a_in)
    try:
        _run(src, steps + 1)
        out_relu = sink_relu.data.get().T
        out_ro = sink_ro.data.get().T
        relu_counts = relu.event_count.get(), relu.step_event_count.get()
        ro_counts = readout.event_count.get(), readout.step_event_count.get()
    finally:
        src.stop()
    expected_relu = np.where(data >= theta, data, 0.0)
    expected_ro = data + bias
    np.testing.assert_array_equal(out_relu[:steps], expected_relu)
    np.testing.assert_array_equal(out_ro[:steps], expected_ro)
    # After num_steps logical steps both go idle: the bias no longer drives the readout.
    np.testing.assert_array_equal(out_relu[steps], 0.0)
    np.testing.assert_array_equal(out_ro[steps], 0.0)
    np.testing.assert_array_equal(relu_counts[1], np.count_nonzero(expected_relu, axis=1))
    assert int(relu_counts[0][0]) == np.count_nonzero(expected_relu)
    np.testing.assert_array_equal(ro_counts[1], np.count_nonzero(expected_ro, axis=1))
    assert int(ro_counts[0][0]) == np.count_nonzero(expected_ro)


def test_counting_synapses_match_lava_dense_one_step_late():
    rng = np.random.default_rng(3)
    steps, n_pre, n_post = 5, 12, 7
    data = _sparse(rng, (steps, n_pre), 0.4)
    weights = _sparse(rng, (n_post, n_pre), 0.5)  # (post, pre) like lava's Dense
    src = GradedSource(data=data)
    dense = Dense(weights=weights, num_message_bits=24)
    counting = CountingDense(weights=weights, num_steps=steps)
    sparse = CountingSparse(weights=weights, num_steps=steps)
    sinks = [Sink(shape=(n_post,), buffer=steps + 1) for _ in range(3)]
    for syn, sink in zip((dense, counting, sparse), sinks):
        src.s_out.connect(syn.s_in)
        syn.a_out.connect(sink.a_in)
    try:
        _run(src, steps + 1)
        outs = [sink.data.get().T for sink in sinks]
        counts = [(syn.synop_count.get(), syn.step_synop_count.get()) for syn in (counting, sparse)]
    finally:
        src.stop()
    expected = data @ weights.T
    for out in outs:
        np.testing.assert_array_equal(out[0], 0.0)  # one step of delay per hop
        np.testing.assert_allclose(out[1:], expected, rtol=1e-12, atol=1e-12)
    expected_synops = _synops(data, weights)
    for total, per_step in counts:
        np.testing.assert_array_equal(per_step, expected_synops)
        assert int(total[0]) == expected_synops.sum()


def test_two_layer_fatrelu_mlp_alignment_and_counts():
    rng = np.random.default_rng(0)
    steps, n_in, n_hid, n_out = 6, 16, 8, 4
    data = np.abs(_sparse(rng, (steps, n_in), 0.3))
    w1 = _sparse(rng, (n_hid, n_in), 0.6)
    w2 = rng.standard_normal((n_out, n_hid))
    theta = rng.uniform(0.0, 1.0, n_hid)
    depth = 2
    src = GradedSource(data=data)
    syn1 = CountingDense(weights=w1, delay=0, num_steps=steps)
    hid = FATReLUNeuron(shape=n_hid, theta=theta, delay=1, num_steps=steps)
    syn2 = CountingDense(weights=w2, delay=1, num_steps=steps)
    out = ReadoutNeuron(shape=n_out, delay=2, num_steps=steps)
    sink = Sink(shape=(n_out,), buffer=steps + depth)
    src.s_out.connect(syn1.s_in)
    syn1.a_out.connect(hid.a_in)
    hid.s_out.connect(syn2.s_in)
    syn2.a_out.connect(out.a_in)
    out.s_out.connect(sink.a_in)
    try:
        _run(src, steps + depth)
        got = sink.data.get().T
        hid_steps = hid.step_event_count.get()
        synops = syn1.step_synop_count.get(), syn2.step_synop_count.get()
        out_events = out.event_count.get()
    finally:
        src.stop()
    a1 = data @ w1.T
    h1 = np.where(a1 >= theta, a1, 0.0)
    y = h1 @ w2.T
    np.testing.assert_array_equal(got[:depth], 0.0)
    np.testing.assert_allclose(got[depth:], y, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(hid_steps, np.count_nonzero(h1, axis=1))
    np.testing.assert_array_equal(synops[0], _synops(data, w1))
    np.testing.assert_array_equal(synops[1], _synops(h1, w2))
    assert int(out_events[0]) == np.count_nonzero(y)


def test_egru_with_recurrent_synapse_matches_numpy():
    rng = np.random.default_rng(1)
    steps, n_in, hidden = 8, 6, 5
    data = _sparse(rng, (steps, n_in), 0.5)
    kernel = rng.standard_normal((n_in, 3 * hidden)) * 0.8  # [I, 3H] as in neuro.torch
    rec = rng.standard_normal((hidden, 3 * hidden)) * 0.8
    bx = rng.standard_normal(3 * hidden) * 0.3
    br = rng.standard_normal(3 * hidden) * 0.3
    thr = rng.uniform(0.05, 0.3, hidden)
    src = GradedSource(data=data)
    syn_x = CountingDense(weights=kernel.T, delay=0, num_steps=steps)
    egru = EGRUNeuron(hidden_size=hidden, theta=thr, bias_x=bx, bias_r=br, delay=1, num_steps=steps)
    syn_r = CountingDense(weights=rec.T, delay=1, num_steps=steps)
    sink = Sink(shape=(hidden,), buffer=steps + 2)
    src.s_out.connect(syn_x.s_in)
    syn_x.a_out.connect(egru.a_in_input)
    egru.s_out.connect(syn_r.s_in)
    syn_r.a_out.connect(egru.a_in_recurrent)
    egru.s_out.connect(sink.a_in)
    try:
        _run(src, steps + 2)
        got = sink.data.get().T
        c_final = egru.c.get()
        total, per_step = egru.event_count.get(), egru.step_event_count.get()
        rec_synops = syn_r.step_synop_count.get()
    finally:
        src.stop()
    ys, c_ref, events = _egru_numpy(data, kernel, rec, bx, br, thr)
    assert events.sum() > 0
    np.testing.assert_array_equal(got[0], 0.0)  # idle while the input is one hop away
    np.testing.assert_allclose(got[1 : steps + 1], ys, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(got[steps + 1], 0.0)  # idle again after num_steps
    np.testing.assert_allclose(c_final, c_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(per_step, events)
    assert int(total[0]) == events.sum()
    # Recurrent synops are attributed to the step of the presynaptic event.
    np.testing.assert_array_equal(rec_synops, _synops(ys, rec.T))


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: GradedSource(data=np.zeros(3)), "shape"),
        (lambda: GradedSource(data=np.full((2, 2), np.nan)), "finite"),
        (lambda: FATReLUNeuron(shape=(2, 2)), "shape"),
        (lambda: FATReLUNeuron(shape=3, theta=[1.0, 2.0]), "theta"),
        (lambda: FATReLUNeuron(shape=3, delay=-1), "delay"),
        (lambda: ReadoutNeuron(shape=0), "shape"),
        (lambda: EGRUNeuron(hidden_size=2, theta=0.1, bias_x=np.zeros(4)), "bias_x"),
        (lambda: CountingDense(weights=np.zeros(3)), "weights"),
        (lambda: CountingSparse(weights=np.zeros((2, 2)), num_steps=1.5), "num_steps"),
    ],
)
def test_invalid_arguments_raise_value_error(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()
