"""backend="lava" against the cpu backend and against numpy computed here.

The runs need lava-nc (Python 3.10, numpy < 2) and skip without it; the schedule,
the convolution unrolling and the missing-dependency errors are checked everywhere.
Random networks of every kind run on Lava in ``tests/backends/test_conformance.py``.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import scipy.sparse as sp

import neuro
from neuro.backends.lava.dependency import require_lava
from neuro.backends.lava.layout import conv_matrix, fold_weights
from neuro.backends.lava.schedule import Schedule
from neuro.exceptions import BackendError, MissingDependencyError
from neuro.models.egru import EGRU

try:
    require_lava()
    HAVE_LAVA = True
except MissingDependencyError:
    HAVE_LAVA = False

needs_lava = pytest.mark.skipif(not HAVE_LAVA, reason="lava-nc 0.10 (Python 3.10) not available")


def _sparse_normal(rng, shape, density, scale=1.0):
    return rng.normal(size=shape) * scale * (rng.random(shape) < density)


def _mlp(rng):
    """FATReLU MLP with biases, a skip connection, a delay-2 feedback and an integrator."""
    net = neuro.Network(name="mlp")
    net.add_population("in", (12,), neuro.Input())
    net.add_population("h0", (10,), neuro.FATReLU(0.2))
    net.add_population("h1", (8,), neuro.FATReLU(rng.uniform(0, 0.3, 8)))
    net.add_population("out", (3,), neuro.Readout(accumulate=True))
    net.connect(
        "in",
        "h0",
        neuro.Dense(_sparse_normal(rng, (12, 10), 0.6, 0.5)),
        bias=0.1 * rng.normal(size=10),
    )
    net.connect("h0", "h1", neuro.Sparse.from_matrix(_sparse_normal(rng, (10, 8), 0.5, 0.6)))
    net.connect("h1", "out", neuro.Dense(rng.normal(size=(8, 3))), bias=rng.normal(size=3))
    net.connect("in", "out", neuro.Dense(_sparse_normal(rng, (12, 3), 0.5)), name="skip")
    net.connect("out", "h0", neuro.Dense(0.3 * rng.normal(size=(3, 10))), delay=2, name="feedback")
    return net


def _cnn(rng):
    net = neuro.Network(name="cnn")
    net.add_population("in", (2, 7, 6), neuro.Input())
    c1 = neuro.Conv2d(_sparse_normal(rng, (4, 1, 3, 3), 0.7, 0.5), (2, 7, 6), 2, (1, 2), groups=2)
    net.add_population("c1", c1.out_shape, neuro.FATReLU(rng.uniform(0, 0.2, 4)))
    net.connect("in", "c1", c1, bias=0.1 * rng.normal(size=4))
    c2 = neuro.Conv2d(_sparse_normal(rng, (3, 4, 2, 2), 0.8, 0.5), c1.out_shape, 1, 1)
    net.add_population("c2", c2.out_shape, neuro.FATReLU(0.05))
    net.connect("c1", "c2", c2)
    net.add_population("out", (5,), neuro.Readout())
    net.connect("c2", "out", neuro.Dense(rng.normal(size=(c2.n_out, 5))))
    return net


def _egru(rng, n_in=6, hidden=7, n_out=4):
    """One EGRU layer (input bias b_x, delay-1 self projection with bias b_r) and a readout."""
    net = neuro.Network(name="egru")
    net.add_population("x", (n_in,), neuro.Input())
    net.add_population("h", (hidden,), EGRU(threshold=rng.uniform(0.05, 0.3, hidden)))
    net.add_population("y", (n_out,), neuro.Readout())
    w_x = _sparse_normal(rng, (n_in, 3 * hidden), 0.8, 0.8)
    w_r = _sparse_normal(rng, (hidden, 3 * hidden), 0.7, 0.8)
    net.connect("x", "h", neuro.Dense(w_x), bias=0.3 * rng.normal(size=3 * hidden))
    net.connect(
        "h",
        "h",
        neuro.Dense(w_r),
        port="recurrent",
        delay=1,
        bias=0.3 * rng.normal(size=3 * hidden),
    )
    net.connect("h", "y", neuro.Dense(rng.normal(size=(hidden, n_out))))
    return net


def _inputs(rng, shape, density=0.5):
    x = rng.normal(size=shape)
    x[rng.random(shape) > density] = 0.0
    return x


def _assert_same_run(lava, cpu, names):
    for name in names:
        np.testing.assert_allclose(
            lava.recordings[name], cpu.recordings[name], rtol=1e-12, atol=1e-12, err_msg=name
        )
    assert lava.counts.per_projection() == cpu.counts.per_projection()
    for name, pop in cpu.counts.populations.items():
        assert lava.counts.populations[name] == pop, name
    assert lava.counts == cpu.counts


# -- no lava needed ------------------------------------------------------------------


def test_schedule_offsets_skips_and_feedback():
    net = _mlp(np.random.default_rng(0))
    s = Schedule.for_network(net, steps=5)
    assert s.depth == {"in": 0, "h0": 1, "h1": 2, "out": 3}
    # feedback out -> h0 with delay 2: 2 S >= depth[out] + 1 - depth[h0] = 3, so S = 2
    assert s.stride == 2
    assert s.latency == {"in->h0": 0, "h0->h1": 0, "h1->out": 0, "skip": 2, "feedback": 1}
    assert s.lava_steps == (5 - 1) * 2 + 1 + 3
    assert s.extra_steps == s.lava_steps - 5
    egru = Schedule.for_network(_egru(np.random.default_rng(0)), steps=4)
    assert (egru.stride, egru.latency["h->h.recurrent"], egru.extra_steps) == (1, 0, 2)


def test_conv_matrix_is_the_convolution():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(4, 1, 3, 2))
    op = neuro.Conv2d(w, (2, 5, 6), stride=(2, 1), padding=(1, 2), groups=2)
    x = rng.normal(size=(2, 5, 6))
    xp = np.pad(x, ((0, 0), (1, 1), (2, 2)))
    _, h_out, w_out = op.out_shape
    expected = np.zeros(op.out_shape)
    for co in range(4):
        ci = co // 2  # groups of one input and two output channels
        for oy in range(h_out):
            for ox in range(w_out):
                patch = xp[ci, 2 * oy : 2 * oy + 3, ox : ox + 2]
                expected[co, oy, ox] = np.sum(patch * w[co, 0])
    m = conv_matrix(op)
    np.testing.assert_allclose(m.T @ x.ravel(), expected.ravel(), rtol=1e-12, atol=1e-12)
    # the stored pattern is the connectivity, exact at the borders
    np.testing.assert_array_equal(np.diff(m.indptr), op.fanout_total())


def test_folded_weights_keep_samples_apart():
    w = np.arange(6.0).reshape(2, 3) + 1  # (n_pre, n_out)
    folded = fold_weights(sp.csr_matrix(w), batch=2, post_order=None).toarray()
    np.testing.assert_array_equal(folded[:3, :2], w.T)
    np.testing.assert_array_equal(folded[3:, 2:], w.T)
    assert not folded[:3, 2:].any() and not folded[3:, :2].any()


def test_wrong_python_names_the_fix(monkeypatch):
    monkeypatch.setattr(sys, "version_info", (3, 11, 7, "final", 0))
    net = _egru(np.random.default_rng(0))
    with pytest.raises(MissingDependencyError, match=r"Python 3\.10.*pip install 'neuro\[lava\]'"):
        neuro.run(net, np.ones((1, 6)), backend="lava")


def test_missing_lava_names_the_fix(monkeypatch):
    monkeypatch.setattr(sys, "version_info", (3, 10, 13, "final", 0))
    monkeypatch.setitem(sys.modules, "lava.magma.core.run_configs", None)
    with pytest.raises(MissingDependencyError, match=r"lava-nc.*pip install 'neuro\[lava\]'"):
        require_lava()


# -- lava runs -----------------------------------------------------------------------


@needs_lava
def test_fatrelu_mlp_matches_cpu_with_skip_feedback_and_batch():
    rng = np.random.default_rng(2)
    net = _mlp(rng)
    x = np.abs(_inputs(rng, (5, 3, 12)))
    names = list(net.populations)
    cpu = neuro.run(net, x, backend="cpu", record=names, dtype="float64")
    lava = neuro.run(net, x, backend="lava", record=names)
    assert cpu.counts.populations["h0"].events > 0
    assert cpu.counts.projections["feedback"].synops > 0
    _assert_same_run(lava, cpu, names)
    assert lava.outputs.shape == (5, 3, 3)
    assert lava.info["stride"] == 2
    assert lava.info["extra_steps"] == lava.info["lava_steps"] - 5 == (5 - 1) * 2 + 1 + 3 - 5
    np.testing.assert_allclose(
        lava.final_state["out"]["state"]["v"], cpu.final_state["out"]["state"]["v"], rtol=1e-12
    )


@needs_lava
def test_small_cnn_matches_cpu():
    rng = np.random.default_rng(3)
    net = _cnn(rng)
    x = _inputs(rng, (2, 2, 7, 6), 0.6)  # static batch of 2, one step
    names = list(net.populations)
    cpu = neuro.run(net, x, backend="cpu", record=names, dtype="float64")
    lava = neuro.run(net, x, backend="lava", record=names)
    assert cpu.counts.populations["c2"].events > 0
    _assert_same_run(lava, cpu, names)
    assert lava.outputs.shape == (2, 5)
    assert lava.info["extra_steps"] == 3


@needs_lava
def test_egru_matches_cpu_and_numpy():
    rng = np.random.default_rng(4)
    net = _egru(rng)
    steps, batch = 6, 2
    x = _inputs(rng, (steps, batch, 6), 0.6)
    names = list(net.populations)
    cpu = neuro.run(net, x, backend="cpu", record=names, dtype="float64")
    lava = neuro.run(net, x, backend="lava", record=names)
    _assert_same_run(lava, cpu, names)
    # independent: the EGRU recurrence in numpy
    proj = net.projections
    w_x, b_x = proj["x->h"].weights.weight, proj["x->h"].bias
    w_r, b_r = proj["h->h.recurrent"].weights.weight, proj["h->h.recurrent"].bias
    thr = net.populations["h"].model.threshold
    hidden = thr.size
    y, c = np.zeros((batch, hidden)), np.zeros((batch, hidden))
    for t in range(steps):
        a, q = x[t] @ w_x + b_x, y @ w_r + b_r
        z = 1 / (1 + np.exp(-(a[:, :hidden] + q[:, :hidden])))
        r = 1 / (1 + np.exp(-(a[:, hidden : 2 * hidden] + q[:, hidden : 2 * hidden])))
        c_hat = z * c + (1 - z) * np.tanh(a[:, 2 * hidden :] + r * q[:, 2 * hidden :])
        y = np.where(c_hat > thr, c_hat, 0.0)
        c = np.where(c_hat > thr, c_hat - thr, c_hat)
        np.testing.assert_allclose(lava.recordings["h"][t], y, rtol=1e-12, atol=1e-12)
    assert 0 < lava.counts.populations["h"].events < steps * batch * hidden
    np.testing.assert_allclose(lava.final_state["h"]["state"]["c"], c, rtol=1e-12, atol=1e-12)
    assert lava.info["extra_steps"] == 2


def _egru_with_feedback(rng):
    net = _egru(rng, n_in=5, hidden=6, n_out=3)
    net.connect("y", "h", neuro.Dense(0.5 * rng.normal(size=(3, 18))), delay=2, name="fb")
    return net


@needs_lava
@pytest.mark.parametrize("build", [_egru_with_feedback, _mlp])
def test_run_continues_from_final_state(build):
    """Two chunks with initial_state give the run of the whole sequence (outputs, counts).

    The delayed projections replay the first chunk's last outputs: inside the second
    run (EGRU) and, with the MLP's stride 2, partly before its first Lava step.
    """
    rng = np.random.default_rng(5)
    net = build(rng)
    n_in = net.populations[net.inputs[0]].size
    x = np.abs(_inputs(rng, (6, 2, n_in), 0.7))
    whole = neuro.run(net, x, backend="cpu", dtype="float64")
    first = neuro.run(net, x[:3], backend="lava")
    second = neuro.run(net, x[3:], backend="lava", initial_state=first.final_state)
    np.testing.assert_allclose(second.outputs, whole.outputs[3:], rtol=1e-12, atol=1e-12)
    assert (first.counts + second.counts).to_dict()["totals"] == whole.counts.totals()
    assert (first.counts + second.counts).per_projection() == whole.counts.per_projection()


@needs_lava
def test_record_last_step_and_disconnected_network():
    rng = np.random.default_rng(6)
    net = _egru(rng)
    x = _inputs(rng, (4, 1, 6))
    cpu = neuro.run(net, x, backend="cpu", record=["h", "y"], record_steps="last", dtype="float64")
    lava = neuro.run(net, x, backend="lava", record=["h", "y"], record_steps="last")
    assert lava.recordings["h"].shape == (1, 7)
    _assert_same_run(lava, cpu, ["h", "y"])
    net.add_population("lonely", (2,), neuro.Readout())
    with pytest.raises(BackendError, match="lonely"):
        neuro.run(net, x, backend="lava")
