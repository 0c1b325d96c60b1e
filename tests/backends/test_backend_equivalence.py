"""cpu == reference on 120 seeded random networks of five kinds, with independent synops."""

import numpy as np
import pytest
from netgen import (
    COMPILED_KINDS,
    KINDS,
    assert_layers_fire,
    cases,
    independent_static_macs,
    independent_synops,
    random_case,
)

import neuro

# float64 cpu vs the float64 reference: only the order of additions differs
F64 = {"rtol": 1e-12, "atol": 1e-12}


@pytest.mark.parametrize("seed, kind", cases(KINDS, per_kind=24))
def test_cpu_matches_reference_and_independent_counts(seed, kind):
    net, x, steps = random_case(seed, kind)
    pops = list(net.populations)
    ref = neuro.run(net, x, backend="reference", record=pops)
    cpu = neuro.run(net, x, backend="cpu", record=pops, dtype="float64")
    assert_layers_fire(net, cpu.recordings)
    for name in pops:
        np.testing.assert_allclose(cpu.recordings[name], ref.recordings[name], **F64, err_msg=name)
    activity = {n: ref.recordings[n].reshape(steps, x.shape[1], -1) for n in pops}
    expected = independent_synops(net, activity, steps)
    assert cpu.counts.synops == expected
    assert ref.counts.synops == expected
    assert cpu.counts.activity_sparse_macs == independent_synops(net, activity, steps, True)
    dense, weight_sparse = independent_static_macs(net, x.shape[1], steps)
    assert (cpu.counts.dense_macs, cpu.counts.weight_sparse_macs) == (dense, weight_sparse)
    assert cpu.counts == ref.counts
    events = sum(int(np.count_nonzero(a)) for a in activity.values())
    assert cpu.counts.events == events


@pytest.mark.parametrize("seed, kind", cases(COMPILED_KINDS, per_kind=4))
def test_float32_relu_networks_stay_close(seed, kind):
    """float32 arithmetic: with θ = ϑ = 0 outputs are continuous, so they stay close."""
    net, x, _ = random_case(seed, kind)
    for pop in net.populations.values():
        if pop.model.type == "fatrelu":
            pop.model = neuro.FATReLU(0.0)
        if pop.model.type == "egru":
            pop.model = neuro.EGRU(np.zeros(pop.size))
    ref = neuro.run(net, x, backend="reference")
    cpu = neuro.run(net, x, backend="cpu")
    assert cpu.outputs.dtype == np.float32
    scale = max(1.0, float(np.abs(ref.outputs).max()))
    np.testing.assert_allclose(cpu.outputs, ref.outputs, rtol=1e-4, atol=1e-4 * scale)


def test_static_counts_closed_form():
    """A dense layer: dense and weight-sparse MACs and neuron updates in closed form."""
    rng = np.random.default_rng(1)
    w = rng.normal(size=(20, 7))
    w[:, :3] = 0
    net = neuro.Network()
    net.add_population("x", (20,), neuro.Input())
    net.add_population("y", (7,), neuro.Readout())
    net.connect("x", "y", neuro.Dense(w))
    x = np.zeros((3, 4, 20))
    x[:, :, :5] = 1.0  # 5 active inputs per sample and step
    c = neuro.run(net, x).counts
    assert c.dense_macs == 3 * 4 * 20 * 7
    assert c.weight_sparse_macs == 3 * 4 * 20 * 4
    assert c.synops == 3 * 4 * 5 * 4
    assert c.activity_sparse_macs == 3 * 4 * 5 * 7
    assert c.neuron_updates == 3 * 4 * 7
    assert c.per_sample()["synops"] == 3 * 5 * 4
    red = c.reductions()
    assert red["both"] == pytest.approx(20 * 7 / (5 * 4))


def test_conv_fanout_exact_at_borders():
    """3x3 kernel, padding 1, stride 1 on 4x4: corner units reach 4 outputs, edges 6."""
    op = neuro.Conv2d(np.ones((1, 1, 3, 3)), (1, 4, 4), padding=1)
    fan = op.fanout_total().reshape(4, 4)
    expected = np.array([[4, 6, 6, 4], [6, 9, 9, 6], [6, 9, 9, 6], [4, 6, 6, 4]])
    np.testing.assert_array_equal(fan, expected)
    w = np.ones((1, 1, 3, 3))
    w[0, 0, 1, 1] = 0  # the centre tap is zero: every unit loses exactly one synapse
    np.testing.assert_array_equal(
        neuro.Conv2d(w, (1, 4, 4), padding=1).fanout_nnz().reshape(4, 4), expected - 1
    )


def test_stride_two_skips_unreached_inputs():
    """1x1 kernel, stride 2: only even rows/columns reach an output."""
    op = neuro.Conv2d(np.ones((2, 1, 1, 1)), (1, 4, 4), stride=2)
    fan = op.fanout_total().reshape(4, 4)
    expected = np.zeros((4, 4), int)
    expected[::2, ::2] = 2
    np.testing.assert_array_equal(fan, expected)


def test_tokens_are_one_event_each():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(10, 4))
    net = neuro.Network()
    net.add_population("tok", (10,), neuro.TokenInput())
    net.add_population("e", (4,), neuro.Readout())
    net.connect("tok", "e", neuro.Dense(emb))
    ids = np.array([[1, 2], [3, 9], [0, 0]])
    r = neuro.run(net, ids, backend="reference")  # every backend: test_conformance.py
    np.testing.assert_allclose(r.outputs, emb[ids])
    assert r.counts.populations["tok"].events == ids.size
    assert r.counts.synops == int((emb[ids] != 0).sum())
    # an embedding is a lookup: a dense layer reads one row of 4 per token
    assert r.counts.dense_macs == ids.size * 4
    assert r.counts.weight_sparse_macs == r.counts.synops


def test_record_last_keeps_memory_flat():
    net, x, steps = random_case(8, "rnn")
    r = neuro.run(net, x, record_steps="last", dtype="float64")
    full = neuro.run(net, x, dtype="float64")
    np.testing.assert_allclose(r.outputs, full.outputs[-1])
