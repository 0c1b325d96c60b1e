"""The sparse-input convolution and max-pooling kernels of the cpu backend: exact against
torch in float64, bit-identical across thread splits, engines and schedules, counts
equal to closed forms."""

import numpy as np
import pytest
from conv_work import guarded_work

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import neuro  # noqa: E402
from converters import convert  # noqa: E402
from neuro.backends.cpu.conv import (  # noqa: E402
    conv2d_columns,
    conv2d_into,
    conv_geometry,
)
from neuro.backends.cpu.kernels import dense_to_events  # noqa: E402
from neuro.backends.cpu.synapses import conv2d_layout  # noqa: E402
from neuro.ir.weights import Conv2d  # noqa: E402
from neuro.torch import FATReLU  # noqa: E402

# (C_in, C_out, H, W, k, stride, padding, groups, dilation, input density)
CASES = [
    (3, 8, 9, 9, 3, 1, 1, 1, 1, 0.5),
    (4, 8, 10, 7, 3, 2, 1, 1, 1, 0.3),
    (6, 6, 9, 9, 3, 1, 1, 6, 1, 0.5),  # depthwise
    (6, 12, 8, 8, 3, 2, 1, 6, 1, 0.6),  # depthwise, multiplier 2
    (8, 16, 7, 7, 1, 1, 0, 1, 1, 0.5),  # 1x1: the dense-row path
    (8, 16, 12, 12, 1, 2, 0, 1, 1, 0.5),  # 1x1 stride 2 (a ResNet shortcut)
    (8, 16, 12, 11, 5, 3, 2, 2, 1, 0.4),
    (16, 40, 9, 9, 3, 2, 0, 4, 1, 0.9),
    (3, 64, 23, 23, 7, 2, 3, 1, 1, 1.0),  # a dense stem
    (5, 7, 11, 13, 3, 1, 2, 1, 2, 0.5),  # dilation
    (4, 6, 10, 10, 3, 2, 2, 2, 3, 0.7),  # dilation with groups and stride
    (40, 24, 6, 6, 3, 1, 1, 1, 1, 0.05),  # mostly silent input
    (600, 20, 4, 4, 3, 1, 1, 1, 1, 0.3),  # several channel blocks
    (6, 136, 5, 6, 3, 1, 1, 1, 1, 0.5),  # rows wider than the register blocks
]


def _weights(c_in, c_out, k, groups, seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((c_out, c_in // groups, k, k))
    w[rng.random(w.shape) < 0.2] = 0  # some zero weights: synops < activity-sparse MACs
    return w


def _events(x, dtype):
    b, n = x.shape
    ptr = np.zeros(b + 1, np.int64)
    idx = np.zeros(x.size, np.int64)
    val = np.zeros(x.size, dtype)
    dense_to_events(np.ascontiguousarray(x, dtype=dtype), ptr, idx, val)
    return ptr, idx, val


def _kernel_inputs(case, dtype, seed=0):
    c_in, c_out, h, w_, k, s, p, g, d, dens = case
    rng = np.random.default_rng(seed + 1)
    weight = _weights(c_in, c_out, k, g, seed)
    op = Conv2d(weight, (c_in, h, w_), (s, s), (p, p), g)
    wt = conv2d_layout(op, dtype)
    geom = conv_geometry(op, wt.shape)
    h_out = (h + 2 * p - d * (k - 1) - 1) // s + 1
    w_out = (w_ + 2 * p - d * (k - 1) - 1) // s + 1
    geom[2], geom[3], geom[13], geom[14] = h_out, w_out, d, d
    x = rng.standard_normal((1, c_in * h * w_)) * (rng.random((1, c_in * h * w_)) < dens)
    return weight, wt, geom, x, (c_out, h_out, w_out)


@pytest.mark.parametrize("case", CASES)
def test_kernel_equals_torch_conv2d_in_float64(case):
    c_in, c_out, h, w_, k, s, p, g, d, dens = case
    weight, wt, geom, x, out_shape = _kernel_inputs(case, np.float64)
    ptr, idx, val = _events(x, np.float64)
    bias = np.random.default_rng(5).standard_normal(int(np.prod(out_shape)))
    o = bias.copy()
    conv2d_into(o, wt, geom, idx, val, 0, ptr[1], *guarded_work(geom, np.float64))
    xt = torch.tensor(x.reshape(1, c_in, h, w_))
    want = F.conv2d(xt, torch.tensor(weight), stride=s, padding=p, groups=g, dilation=d)
    want = want.numpy().ravel() + bias
    scale = max(np.abs(want).max(), 1.0)
    assert np.abs(o - want).max() <= 1e-12 * scale


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_splits_are_bit_identical(case, dtype):
    _, wt, geom, x, out_shape = _kernel_inputs(case, dtype, seed=3)
    ptr, idx, val = _events(x, dtype)
    one = np.zeros(int(np.prod(out_shape)), dtype)
    conv2d_into(one, wt, geom, idx, val, 0, ptr[1], *guarded_work(geom, dtype))
    for chunks in (1, 2, 3, 5):
        split = np.zeros_like(one)
        conv2d_columns(split, wt, geom, idx, val, 0, ptr[1], *guarded_work(geom, dtype), chunks)
        assert np.array_equal(split, one), chunks


def test_no_events_leave_the_port_alone():
    _, wt, geom, x, out_shape = _kernel_inputs(CASES[0], np.float64)
    o = np.arange(float(np.prod(out_shape)))
    idx, val = np.zeros(1, np.int64), np.zeros(1)
    conv2d_into(o, wt, geom, idx, val, 0, 0, *guarded_work(geom, np.float64))
    conv2d_columns(o, wt, geom, idx, val, 0, 0, *guarded_work(geom, np.float64), 2)
    assert np.array_equal(o, np.arange(float(np.prod(out_shape))))


class _Block(nn.Module):
    """A ResNet-18-like piece: stem, max pooling, a basic block with a strided shortcut."""

    def __init__(self, groups=1):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 5, 2, 2, bias=False)
        self.bn0 = nn.BatchNorm2d(8)
        self.act0 = FATReLU(0.1)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.conv1 = nn.Conv2d(8, 16, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.act1 = FATReLU(0.2)
        self.conv2 = nn.Conv2d(16, 16, 3, 1, 1, groups=groups)
        self.short = nn.Conv2d(8, 16, 1, 2, bias=False)
        self.act2 = FATReLU(0.1)
        self.head = nn.Linear(16 * 4 * 4, 5)

    def forward(self, x):
        y = self.pool(self.act0(self.bn0(self.stem(x))))
        z = self.act2(self.conv2(self.act1(self.bn1(self.conv1(y)))) + self.short(y))
        return self.head(torch.flatten(z, 1))


def _block_network(groups=1, batch=3):
    torch.manual_seed(groups)
    model = _Block(groups)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    model = model.double().eval()
    x = torch.randn(batch, 3, 32, 32, dtype=torch.float64)
    return model, x, convert(model, example_input=x)


@pytest.mark.parametrize("groups", [1, 4])
def test_resnet_block_equals_torch_and_reference(groups):
    model, x, net = _block_network(groups)
    kinds = {p.model.type for p in net.populations.values()}
    assert "maxpool" in kinds
    with torch.no_grad():
        want = model(x).numpy()
    cpu = neuro.run(net, x.numpy(), backend="cpu", dtype="float64")
    assert cpu.info["engine"] == "compiled"
    ref = neuro.run(net, x.numpy(), backend="reference")
    np.testing.assert_allclose(cpu.outputs, want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(cpu.outputs, ref.outputs, rtol=1e-12, atol=1e-12)
    assert cpu.counts.synops == ref.counts.synops
    assert cpu.counts.comparisons == ref.counts.comparisons > 0
    assert cpu.counts.dense_macs == ref.counts.dense_macs


def test_engines_threads_and_schedules_are_bit_identical():
    _, x, net = _block_network(1, batch=4)
    xs = x.numpy()
    base = neuro.run(net, xs[:1], backend="cpu", engine="python", record=list(net.populations))
    one = neuro.run(net, xs[:1], backend="cpu", record=list(net.populations))
    two = neuro.run(net, xs[:1], backend="cpu", threads=2, record=list(net.populations))
    for name in net.populations:
        assert np.array_equal(one.recordings[name], base.recordings[name]), name
        assert np.array_equal(two.recordings[name], base.recordings[name]), name
    assert one.counts.synops == two.counts.synops == base.counts.synops
    assert one.counts.comparisons == two.counts.comparisons == base.counts.comparisons
    batch_py = neuro.run(net, xs, backend="cpu", engine="python")
    seen = set()
    for threads in (1, 2):
        res = neuro.run(net, xs, backend="cpu", threads=threads)
        seen.add(res.info["schedule"])
        assert np.array_equal(res.outputs, batch_py.outputs)
        assert res.counts.synops == batch_py.counts.synops
    # the batch-1 rows equal the batched run's first sample
    assert np.array_equal(one.outputs[0], batch_py.outputs[0])
    from neuro.backends.cpu import fastpath

    old = fastpath.LOCKSTEP_WEIGHT_BYTES
    try:  # the other threaded schedule
        fastpath.LOCKSTEP_WEIGHT_BYTES = 0 if "samples" in seen else 1 << 62
        prog_res = neuro.run(net, xs, backend="cpu", threads=2)
        seen.add(prog_res.info["schedule"])
        assert np.array_equal(prog_res.outputs, batch_py.outputs)
    finally:
        fastpath.LOCKSTEP_WEIGHT_BYTES = old
    assert {"serial", "lockstep", "samples"} <= seen


def test_conv_counts_equal_closed_form():
    """synops = Σ over outputs of (non-zero input x non-zero weight) products in the
    window; activity-sparse MACs the same with every weight; dense MACs every connection."""
    case = (6, 10, 11, 9, 3, 2, 1, 2, 1, 0.4)
    c_in, c_out, h, w_, k, s, p, g, _, dens = case
    rng = np.random.default_rng(11)
    weight = _weights(c_in, c_out, k, g, 4)
    op = Conv2d(weight, (c_in, h, w_), (s, s), (p, p), g)
    pre = neuro.Population("x", (c_in, h, w_), neuro.Input())
    post = neuro.Population("y", op.out_shape, neuro.Readout())
    net = neuro.Network([pre, post], [neuro.Projection("xy", "x", "y", op)], name="conv")
    x = rng.standard_normal((2, c_in * h * w_)) * (rng.random((2, c_in * h * w_)) < dens)
    res = neuro.run(net, x.reshape(2, c_in, h, w_), backend="cpu", dtype="float64")
    nz_in = torch.tensor((x != 0).reshape(2, c_in, h, w_), dtype=torch.float64)
    nz_w = torch.tensor(weight != 0, dtype=torch.float64)
    ones_w = torch.ones_like(nz_w)
    kw = dict(stride=s, padding=p, groups=g)
    assert res.counts.synops == int(F.conv2d(nz_in, nz_w, **kw).sum())
    assert res.counts.activity_sparse_macs == int(F.conv2d(nz_in, ones_w, **kw).sum())
    every = torch.ones(2, c_in, h, w_, dtype=torch.float64)
    assert res.counts.dense_macs == int(F.conv2d(every, ones_w, **kw).sum())
    want = F.conv2d(torch.tensor(x.reshape(2, c_in, h, w_)), torch.tensor(weight), **kw)
    got = np.asarray(res.outputs).reshape(2, -1)
    np.testing.assert_allclose(got, want.reshape(2, -1).numpy(), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------
# Randomised geometry sweep: small inputs, kernels, strides and paddings per axis,
# groups (depthwise included), sparse events in any emission order, batches 1..3.


def _sweep_cases(n, seed):
    """(C_in, C_out, H, W, (kh, kw), stride, padding, groups, batch, density) tuples."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        h, w_ = (int(v) for v in rng.integers(1, 7, 2))
        kh, kw = (int(v) for v in rng.integers(1, 5, 2))
        stride = tuple(int(v) for v in rng.integers(1, 4, 2))
        pad = tuple(int(v) for v in rng.integers(0, 3, 2))
        if kh > h + 2 * pad[0] or kw > w_ + 2 * pad[1]:
            continue
        kind = len(cases) % 3  # one group, several groups, depthwise
        groups = (1, int(rng.integers(2, 4)), int(rng.integers(1, 6)))[kind]
        c_in = groups * int(rng.integers(1, 4)) if kind < 2 else groups
        c_out = groups * int(rng.integers(1, 4)) if kind > 0 else int(rng.integers(1, 6))
        batch = int(rng.integers(1, 4))
        density = float(rng.choice([0.1, 0.4, 1.0]))
        cases.append((c_in, c_out, h, w_, (kh, kw), stride, pad, groups, batch, density))
    return cases


SWEEP = _sweep_cases(48, 2026)


def _sweep_data(case, seed):
    c_in, c_out, h, w_, (kh, kw), stride, pad, groups, batch, density = case
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((c_out, c_in // groups, kh, kw))
    x = rng.standard_normal((batch, c_in, h, w_)) * (rng.random((batch, c_in, h, w_)) < density)
    op = Conv2d(weight, (c_in, h, w_), stride, pad, groups)
    with torch.no_grad():
        want = F.conv2d(torch.tensor(x), torch.tensor(weight), None, stride, pad, 1, groups)
    return op, x, want.numpy().reshape(batch, -1)


def _guarded(a, fill, pad=16):
    """``a`` copied into the middle of a larger buffer filled with ``fill``; returns
    (view, buffer): reads past the view meet ``fill``, writes past it change the buffer."""
    buf = np.full(a.size + 2 * pad, fill, a.dtype)
    view = buf[pad : pad + a.size].reshape(a.shape)
    view[...] = a
    return view, buf


@pytest.mark.parametrize("case", SWEEP)
def test_sweep_kernel_equals_torch_in_any_event_order(case):
    """The kernel called directly, events in ascending and in shuffled unit order
    (SAS emits slots out of order), every thread split: exact against torch,
    bit-identical across orders and splits; nothing read or written outside the
    arrays (guard values around every array)."""
    op, x, want = _sweep_data(case, 7)
    batch = x.shape[0]
    wt_, wt_buf = _guarded(conv2d_layout(op, np.float64), np.nan)  # a stray read gives NaN
    geom = conv_geometry(op, wt_.shape)
    ptr, idx, val = _events(x.reshape(batch, -1), np.float64)
    rng = np.random.default_rng(3)
    bias = rng.standard_normal(want.shape[1])
    scale = max(np.abs(want).max(), 1.0)
    for b in range(batch):
        k0, k1 = int(ptr[b]), int(ptr[b + 1])
        perm = k0 + rng.permutation(k1 - k0)
        shuffled = (np.concatenate([idx[:k0], idx[perm]]), np.concatenate([val[:k0], val[perm]]))
        results = []
        for ev_idx, ev_val in ((idx, val), shuffled):
            for chunks in (0, 1, 2, 3):
                o, o_buf = _guarded(bias.copy(), -5.0)
                work = [_guarded(a, a.flat[0]) for a in guarded_work(geom, np.float64)]
                args = (o, wt_, geom, ev_idx, ev_val, k0, k1, *(v for v, _ in work))
                if chunks:
                    conv2d_columns(*args, chunks)
                else:
                    conv2d_into(*args)
                for (_, buf), fill in zip(work, (np.nan, -7, -7, np.nan)):
                    guard = np.concatenate([buf[:16], buf[-16:]])
                    assert np.array_equal(guard, np.full(32, fill), equal_nan=True), "work"
                assert np.all(np.concatenate([o_buf[:16], o_buf[-16:]]) == -5.0), "port"
                results.append(o.copy())
        assert np.all(np.isfinite(wt_buf[16:-16]))
        assert np.abs(results[0] - bias - want[b]).max() <= 1e-12 * scale, case
        for r in results[1:]:
            assert np.array_equal(r, results[0]), case


def _conv_network(op, sas=False):
    c_in, h, w_ = op.in_shape
    c_in = c_in // 2 if sas else c_in
    net = neuro.Network(name="conv_sweep")
    net.add_population("x", (c_in, h, w_), neuro.Input())
    pre = "x"
    if sas:  # SAS 1:2 of x: channel 2c holds max(x, 0), 2c + 1 max(-x, 0); out of order
        net.add_population("s", (2 * c_in, h, w_), neuro.SAS(2, channels=c_in))
        net.connect("x", "s", neuro.Dense(np.eye(c_in * h * w_)))
        pre = "s"
    net.add_population("y", op.out_shape, neuro.Readout())
    net.connect(pre, "y", op)
    return net


@pytest.mark.parametrize("case", SWEEP[::2])
def test_sweep_run_equals_torch_on_both_engines(case):
    """Through ``neuro.run``: the step-by-step and compiled engines equal torch and
    each other bit for bit, on 1 and 2 threads; after a SAS layer (events not in
    ascending unit order) on the step-by-step engine."""
    op, x, want = _sweep_data(case, 11)
    scale = max(np.abs(want).max(), 1.0)
    net = _conv_network(op)
    py = neuro.run(net, x, backend="cpu", engine="python", dtype="float64")
    assert np.abs(np.asarray(py.outputs).reshape(want.shape) - want).max() <= 1e-12 * scale
    for threads in (1, 2):
        comp = neuro.run(net, x, backend="cpu", engine="compiled", threads=threads, dtype="float64")
        assert comp.info["engine"] == "compiled"
        assert np.array_equal(comp.outputs, py.outputs), threads

    c_in, c_out, h, w_, (kh, kw), stride, pad, groups, batch, _ = case
    w_sas = np.repeat(op.weight, 2, axis=1)  # the same kernel on both SAS channels
    w_sas[:, 1::2] *= -1.0  # max(x, 0) w - max(-x, 0) w = x w
    op_sas = Conv2d(w_sas, (2 * c_in, h, w_), stride, pad, groups)
    sas = neuro.run(
        _conv_network(op_sas, sas=True), x, backend="cpu", engine="python", dtype="float64"
    )
    got = np.asarray(sas.outputs).reshape(want.shape)
    assert np.abs(got - want).max() <= 1e-12 * scale


def test_sweep_under_numba_boundscheck(tmp_path):
    """The sweep again in a fresh process compiled with ``NUMBA_BOUNDSCHECK=1`` (and a
    fresh cache, so nothing unchecked is loaded): an out-of-bounds index fails."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", __file__]
    cmd += ["-k", "test_sweep_kernel or test_sweep_run"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


def test_repeated_or_foreign_units_raise():
    """Events the convolution's input cannot hold raise instead of indexing past the
    work space."""
    from neuro.exceptions import InputError

    _, wt, geom, x, out_shape = _kernel_inputs(CASES[0], np.float64)
    n_in = int(geom[8] * geom[9] * geom[0] * geom[1])
    o = np.zeros(int(np.prod(out_shape)))
    for bad in ([5, 3, 5], [2, n_in], [-1, 4]):
        idx = np.asarray(bad, np.int64)
        with pytest.raises(InputError, match="conv2d events"):
            conv2d_into(
                o, wt, geom, idx, np.ones(len(bad)), 0, len(bad), *guarded_work(geom, np.float64)
            )
