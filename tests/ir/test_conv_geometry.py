"""Conv geometry and Conv2d operator facts against torch's conv2d on one-hot inputs."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the references; the lava environment has no torch
import torch.nn.functional as F  # noqa: E402

from neuro.ir.conv_geometry import ConvGeometry, output_size, tap_outputs, window_inputs  # noqa: E402
from neuro.ir.weights import Conv2d  # noqa: E402

# (in_shape, c_out, kernel, stride, padding, groups)
CASES = [
    ((1, 5, 5), 2, (3, 3), (1, 1), (0, 0), 1),
    ((2, 6, 7), 3, (3, 3), (1, 1), (1, 1), 1),
    ((2, 7, 6), 4, (3, 2), (2, 1), (1, 0), 2),
    ((4, 8, 8), 4, (3, 3), (2, 2), (1, 1), 4),  # depthwise, strided, padded
    ((3, 5, 9), 6, (2, 4), (3, 2), (1, 2), 3),
    ((2, 4, 4), 2, (4, 4), (1, 1), (2, 2), 1),  # padding > half the kernel: edge taps
    ((1, 1, 6), 2, (1, 3), (1, 2), (0, 1), 1),  # 1-D as (C, 1, L)
]


def _random_conv(case, seed=0):
    in_shape, c_out, (kh, kw), stride, padding, groups = case
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(c_out, in_shape[0] // groups, kh, kw))
    w[rng.random(w.shape) < 0.3] = 0.0
    return Conv2d(w, in_shape, stride, padding, groups)


def _torch_matrix(op: Conv2d, weight: np.ndarray, dilation=(1, 1)) -> np.ndarray:
    """Row i: torch conv2d of the i-th one-hot input, (n_pre, n_out) float64."""
    eye = torch.eye(op.n_pre, dtype=torch.float64).reshape(op.n_pre, *op.in_shape)
    out = F.conv2d(
        eye,
        torch.from_numpy(np.asarray(weight, np.float64)),
        stride=op.stride,
        padding=op.padding,
        dilation=dilation,
        groups=op.groups,
    )
    return out.reshape(op.n_pre, -1).numpy()


@pytest.mark.parametrize("case", CASES)
def test_conv_facts_match_torch_one_hot(case):
    op = _random_conv(case)
    ref = _torch_matrix(op, op.weight)
    assert ref.shape == op.shape == (op.n_pre, op.n_out)
    c_out, h_out, w_out = op.out_shape
    assert ref.shape[1] == c_out * h_out * w_out
    np.testing.assert_array_equal(op.dense(), ref)
    np.testing.assert_array_equal(op.csr().toarray(), ref)
    np.testing.assert_array_equal(op.matrix().toarray(), ref)
    # connections (zero weights included) are the one-hot outputs of an all-ones kernel,
    # exact at the borders: taps on padding are not counted
    ones = _torch_matrix(op, np.ones_like(op.weight)) != 0
    nonzero = _torch_matrix(op, (op.weight != 0).astype(np.float64)) != 0
    np.testing.assert_array_equal(op.fanout_total(), ones.sum(axis=1))
    np.testing.assert_array_equal(op.fanout_dense(), ones.sum(axis=1))
    np.testing.assert_array_equal(op.fanout_nnz(), nonzero.sum(axis=1))
    assert op.csr().nnz == ones.sum()  # explicit zeros: every connection stored
    np.testing.assert_array_equal(op.synapses().toarray(), nonzero.astype(np.int64))
    np.testing.assert_array_equal(op.synapses(zeros=True).toarray(), ones.astype(np.int64))
    # products
    x = np.random.default_rng(1).normal(size=(3, op.n_pre))
    np.testing.assert_allclose(op.apply(x), x @ ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(op.forward(np.float64)(x), x @ ref, rtol=1e-12, atol=1e-12)
    assert op.forward(np.float32)(x.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("case", CASES)
def test_tap_maps_are_inverse_and_match_torch_sizes(case):
    in_shape, c_out, kernel, stride, padding, groups = case
    geo = ConvGeometry(in_shape, c_out, kernel, stride, padding, groups)
    op = _random_conv(case)
    assert geo.out_shape == op.out_shape
    for axis in (0, 1):
        win = geo.window_inputs(axis)  # (n_out, k)
        taps = geo.tap_outputs(axis)  # (k, n_in)
        for o in range(win.shape[0]):
            for k in range(win.shape[1]):
                y = win[o, k]
                if y >= 0:
                    assert taps[k, y] == o
        for k in range(taps.shape[0]):
            for y in range(taps.shape[1]):
                if taps[k, y] >= 0:
                    assert win[taps[k, y], k] == y
    # the array the cpu event kernels take
    _, h, w = in_shape
    _, h_out, w_out = op.out_shape
    expected = [h, w, h_out, w_out, *stride, *padding]
    np.testing.assert_array_equal(op.geometry_array(), expected)
    assert op.geometry_array().dtype == np.int64


@pytest.mark.parametrize("dilation", [(1, 1), (2, 1), (2, 3)])
@pytest.mark.parametrize("case", CASES[1:5])
def test_dilated_connections_match_torch(case, dilation):
    in_shape, c_out, kernel, stride, padding, groups = case
    geo = ConvGeometry(in_shape, c_out, kernel, stride, padding, groups, dilation)
    if min(geo.out_shape[1:]) < 1:
        pytest.skip("kernel does not fit")
    rng = np.random.default_rng(2)
    weight = rng.normal(size=(c_out, in_shape[0] // groups, *kernel))
    pre, post, widx = geo.connections()
    mine = np.zeros((geo.n_pre, geo.n_out))
    mine[pre, post] = weight.reshape(-1)[widx]
    eye = torch.eye(geo.n_pre, dtype=torch.float64).reshape(geo.n_pre, *in_shape)
    ref = F.conv2d(eye, torch.from_numpy(weight), None, stride, padding, dilation, groups)
    assert tuple(ref.shape[1:]) == geo.out_shape
    np.testing.assert_array_equal(mine, ref.reshape(geo.n_pre, -1).numpy())
    ones = F.conv2d(eye, torch.ones_like(torch.from_numpy(weight)), None, stride, padding,
                    dilation, groups)  # fmt: skip
    counts = (ones.reshape(geo.n_pre, -1) != 0).sum(dim=1).numpy()
    np.testing.assert_array_equal(geo.fanout(np.ones(weight.shape, bool)), counts)
    x = rng.normal(size=(2, geo.n_pre))
    np.testing.assert_allclose(geo.correlate(x, weight), x @ mine, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [1, 4, 7, 10])
@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("s", [1, 2, 3])
@pytest.mark.parametrize("p", [0, 1])
@pytest.mark.parametrize("d", [1, 2])
def test_output_size_is_torchs(n, k, s, p, d):
    x = torch.zeros(1, 1, n)
    if 2 * p <= k:  # torch's pooling rule
        for ceil in (False, True):
            try:
                ref = F.max_pool1d(x, k, s, p, d, ceil_mode=ceil).shape[-1]
            except RuntimeError:
                continue
            assert output_size(n, k, s, p, d, ceil) == ref
    try:
        ref = F.conv1d(x, torch.zeros(1, 1, k), None, s, p, d).shape[-1]
    except RuntimeError:
        assert output_size(n, k, s, p, d) < 1
    else:
        assert output_size(n, k, s, p, d) == ref


def test_window_and_tap_functions_mark_padding():
    win = window_inputs(5, 3, 2, 1, output_size(5, 3, 2, 1))
    np.testing.assert_array_equal(win, [[-1, 0, 1], [1, 2, 3], [3, 4, -1]])
    taps = tap_outputs(5, 3, 2, 1, 3)
    np.testing.assert_array_equal(taps, [[-1, 1, -1, 2, -1], [0, -1, 1, -1, 2], [-1, 0, -1, 1, -1]])
