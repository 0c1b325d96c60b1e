"""The dense-input path of the cpu convolution (inputs where most units carry an
event): exact against torch in float64, bit-identical to the sparse-input gather and
across thread splits, and taken only when its preconditions hold."""

import numpy as np
import pytest
from conv_work import guarded_work

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from neuro.backends.cpu.conv import (  # noqa: E402
    _block_channels,
    add_channels_last,
    bucket_events,
    conv2d_columns,
    conv2d_gather,
    conv2d_into,
    conv_geometry,
)
from neuro.backends.cpu.conv_dense import DENSE_FRACTION, pad_events, padded_size  # noqa: E402
from neuro.backends.cpu.synapses import conv2d_layout  # noqa: E402
from neuro.exceptions import InputError  # noqa: E402
from neuro.ir.weights import Conv2d  # noqa: E402

# (C_in, C_out, H, W, k, stride, padding, dilation, input density); one group
CASES = [
    (3, 64, 23, 23, 7, 2, 3, 1, 1.0),  # a stem
    (3, 16, 17, 12, 7, 2, 3, 1, 1.0),  # non-square, output rows not a multiple of 4
    (8, 8, 9, 9, 3, 1, 1, 1, 0.9),  # max-pooled maps: most units fire
    (4, 12, 10, 7, 3, 2, 1, 1, 0.95),
    (5, 7, 11, 13, 3, 1, 2, 2, 1.0),  # dilation
    (6, 10, 9, 9, 5, 3, 0, 1, 1.0),  # no padding, stride 3: taps past the end
    (8, 16, 12, 12, 1, 2, 0, 1, 1.0),  # 1x1 stride 2
    (600, 20, 4, 4, 3, 1, 1, 1, 0.9),  # several channel blocks
    (4, 37, 6, 9, 3, 1, 1, 1, 1.0),  # vector segments and a scalar tail per pixel
    (2, 3, 1, 1, 3, 1, 1, 1, 1.0),  # one pixel: every tap but the centre is padding
]


def _inputs(case, dtype, seed=0):
    c_in, c_out, h, w_, k, s, p, d, dens = case
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((c_out, c_in, k, k))
    op = Conv2d(weight, (c_in, h, w_), (s, s), (p, p), 1)
    wt = conv2d_layout(op, dtype)
    geom = conv_geometry(op, wt.shape)
    h_out = (h + 2 * p - d * (k - 1) - 1) // s + 1
    w_out = (w_ + 2 * p - d * (k - 1) - 1) // s + 1
    geom[2], geom[3], geom[13], geom[14] = h_out, w_out, d, d
    x = rng.standard_normal(c_in * h * w_)
    off = rng.permutation(x.size)[: int(round((1 - dens) * x.size))]
    x[off] = 0
    idx = np.flatnonzero(x).astype(np.int64)
    val = x[idx].astype(dtype)
    return weight, wt, geom, x, idx, val, (c_out, h_out, w_out)


def _sparse_gather(o, wt, geom, idx, val, work):
    """The sparse-input path on the same events (bucketing, then the gather)."""
    s, pstart, pc, pv = work
    cb = _block_channels(geom, s.itemsize)
    hw = int(geom[0] * geom[1])
    n_blk = bucket_events(idx, val, 0, idx.size, hw, cb, geom[9] * hw, pstart, pc, pv)
    n_pix, c_out = int(geom[2] * geom[3]), int(geom[12])
    terms = int(geom[10] * geom[11]) * cb
    woff, wv = np.empty(terms, np.int64), np.empty(terms, s.dtype)
    conv2d_gather(s[: n_pix * c_out], wt, geom, pstart, pc, pv, n_blk, 0, n_pix, woff, wv)
    add_channels_last(o, s, n_pix, c_out, 0, c_out, 0, n_pix)


@pytest.mark.parametrize("case", CASES)
def test_dense_path_is_taken_and_equals_torch_in_float64(case):
    c_in, c_out, h, w_, k, s, p, d, dens = case
    weight, wt, geom, x, idx, val, out_shape = _inputs(case, np.float64)
    assert idx.size >= DENSE_FRACTION * x.size
    xp = np.full(padded_size(geom), np.nan)
    assert pad_events(idx, val, 0, idx.size, geom, xp)
    assert np.count_nonzero(xp) == idx.size and not np.isnan(xp).any()
    bias = np.random.default_rng(5).standard_normal(int(np.prod(out_shape)))
    o = bias.copy()
    conv2d_into(o, wt, geom, idx, val, 0, idx.size, *guarded_work(geom, np.float64))
    xt = torch.tensor(x.reshape(1, c_in, h, w_))
    want = F.conv2d(xt, torch.tensor(weight), stride=s, padding=p, dilation=d)
    want = want.numpy().ravel() + bias
    assert np.abs(o - want).max() <= 1e-12 * max(np.abs(want).max(), 1.0)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_path_is_bit_identical_to_the_sparse_gather_and_across_splits(case, dtype):
    _, wt, geom, _, idx, val, out_shape = _inputs(case, dtype, seed=3)
    dense = np.zeros(int(np.prod(out_shape)), dtype)
    conv2d_into(dense, wt, geom, idx, val, 0, idx.size, *guarded_work(geom, dtype))
    sparse = np.zeros_like(dense)
    _sparse_gather(sparse, wt, geom, idx, val, guarded_work(geom, dtype))
    assert np.array_equal(dense, sparse)
    for chunks in (1, 2, 3, 5):
        split = np.zeros_like(dense)
        conv2d_columns(split, wt, geom, idx, val, 0, idx.size, *guarded_work(geom, dtype), chunks)
        assert np.array_equal(split, dense), chunks


def test_events_out_of_order_take_the_sparse_path_with_the_same_result():
    _, wt, geom, _, idx, val, out_shape = _inputs(CASES[2], np.float64, seed=4)
    xp = np.empty(padded_size(geom))
    order = np.random.default_rng(0).permutation(idx.size)
    assert not pad_events(idx[order], val[order], 0, idx.size, geom, xp)
    want = np.zeros(int(np.prod(out_shape)))
    conv2d_into(want, wt, geom, idx, val, 0, idx.size, *guarded_work(geom, np.float64))
    got = np.zeros_like(want)
    conv2d_into(got, wt, geom, idx[order], val[order], 0, idx.size, *guarded_work(geom, np.float64))
    assert np.array_equal(got, want)


def test_a_repeated_or_out_of_range_unit_still_raises():
    _, wt, geom, x, idx, val, out_shape = _inputs(CASES[0], np.float64)
    o = np.zeros(int(np.prod(out_shape)))
    rep = idx.copy()
    rep[5] = rep[6]
    with pytest.raises(InputError, match="repeats"):
        conv2d_into(o, wt, geom, rep, val, 0, idx.size, *guarded_work(geom, np.float64))
    far = idx.copy()
    far[-1] = x.size
    with pytest.raises(InputError, match="outside"):
        conv2d_into(o, wt, geom, far, val, 0, idx.size, *guarded_work(geom, np.float64))
