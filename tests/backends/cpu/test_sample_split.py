"""One sample's phases split over threads (``sample_split``): each split gives the
serial kernel's result exactly, the independent groups are those of the operator, and
a whole run on two threads equals the step-by-step engine."""

import numpy as np
import pytest
from identity import assert_identical

import neuro
from neuro.backends.cpu import fastpath
from neuro.backends.cpu.kernels import (
    fan_counts,
    sparse_rows_into,
    threshold_row_events,
    threshold_row_scan,
)
from neuro.backends.cpu.maxpool_kernels import route_max_into
from neuro.backends.cpu.sample_split import (
    fill_split,
    independent_group,
    route_max_split,
    sparse_split,
    tally_split,
    threshold_split,
)


@pytest.mark.parametrize("n", [1, 63, 64, 65, 1000, 4097])
@pytest.mark.parametrize("chunks", [1, 2, 3, 8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threshold_split_equals_the_serial_threshold(n, chunks, dtype):
    rng = np.random.default_rng(n + chunks)
    row = rng.standard_normal(n).astype(dtype)
    row[rng.random(n) < 0.2] = 0
    theta = np.full(n, 0.5, dtype)
    theta[::7] = -1.0  # zeros never fire, even under a negative threshold
    off = 3
    want_idx, want_val = np.full(n + off, -9, np.int64), np.full(n + off, np.nan, dtype)
    got_idx, got_val = want_idx.copy(), want_val.copy()
    m = threshold_row_events(row, theta, want_idx, want_val, off)
    assert threshold_split(row, theta, got_idx, got_val, off, chunks) == (m, True)
    np.testing.assert_array_equal(got_idx[off : off + m], want_idx[off : off + m])
    np.testing.assert_array_equal(got_val[off : off + m], want_val[off : off + m])
    fire = (row >= theta) & (row != 0)  # the rule, independently
    np.testing.assert_array_equal(got_idx[off : off + m], np.flatnonzero(fire))
    assert np.all(got_idx[:off] == -9)  # nothing written before the offset
    for bad in (np.nan, np.inf, -np.inf):  # one non-finite value anywhere is reported
        where = int(rng.integers(n))
        row2 = row.copy()
        row2[where] = bad
        n2, finite = threshold_split(row2, theta, got_idx, got_val, off, chunks)
        assert not finite
        assert threshold_row_scan(row2, theta, want_idx, want_val, off) == (n2, False)


@pytest.mark.parametrize("chunks", [1, 2, 5])
def test_fill_and_tally_splits(chunks):
    rng = np.random.default_rng(chunks)
    src = rng.standard_normal(1001).astype(np.float32)
    dst = np.full_like(src, np.nan)
    fill_split(dst, src, chunks)
    np.testing.assert_array_equal(dst, src)
    idx = np.sort(rng.choice(5000, 777, replace=False)).astype(np.int64)
    nnz = rng.integers(0, 100, 5000).astype(np.int64)
    dense = rng.integers(100, 200, 5000).astype(np.int64)
    for k0, k1 in [(0, 777), (10, 11), (5, 5), (100, 700)]:
        want = (int(nnz[idx[k0:k1]].sum()), int(dense[idx[k0:k1]].sum()))
        assert tally_split(idx, k0, k1, nnz, dense, chunks) == want
        assert fan_counts(idx, k0, k1, nnz, dense) == want


def _csr(rows):
    indptr = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
    return indptr, np.asarray([c for r in rows for c in r], dtype=np.int64)


def test_independent_groups_of_known_operators():
    assert independent_group(*_csr([[i] for i in range(12)]), 12) == 1  # identity
    # block diagonal with blocks of 3 units reaching 2 outputs each
    blocks = [[2 * (u // 3), 2 * (u // 3) + 1] for u in range(12)]
    assert independent_group(*_csr(blocks), 12) == 3
    # a unit of the second block also reaches the first block's output: blocks of 6
    joined = [list(r) for r in blocks]
    joined[4].append(0)
    assert independent_group(*_csr(joined), 12) == 6
    assert independent_group(*_csr([[0, 5]] + [[1]] * 5), 6) == 6  # all tied: one group
    # units without a fan-out never join groups
    assert independent_group(*_csr([[0], [], [1], []]), 4) == 1
    # 2x2/2 max pooling of 2 channels of 4x4 (windows of 2x2): a channel's 16 units
    # reach its 4 windows only; smaller groups split a window's rows
    rows = [[c * 4 + (y // 2) * 2 + x // 2] for c in range(2) for y in range(4) for x in range(4)]
    assert independent_group(*_csr(rows), 32) == 8  # two input rows = one row of windows


@pytest.mark.parametrize("chunks", [2, 3])
def test_grouped_sparse_and_route_splits_equal_the_serial_kernels(chunks):
    rng = np.random.default_rng(chunks)
    n_groups, g, outs = 9, 5, 4  # units of a group reach their group's 4 outputs
    rows = [sorted(rng.choice(outs, 2, replace=False) + (u // g) * outs) for u in range(45)]
    indptr, cols = _csr(rows)
    assert independent_group(indptr, cols, 45) == g
    data = rng.standard_normal(cols.size).astype(np.float32)
    idx = np.sort(rng.choice(45, 30, replace=False)).astype(np.int64)
    val = rng.standard_normal(30).astype(np.float32)
    want = rng.standard_normal(n_groups * outs).astype(np.float32)
    got = want.copy()
    sparse_rows_into(want, indptr, cols, data, idx, val, 2, 29)
    sparse_split(got, indptr, cols, data, idx, val, 2, 29, g, chunks)
    np.testing.assert_array_equal(got, want)
    size = n_groups * outs
    want = np.concatenate([np.full(size, -np.inf, np.float32), np.zeros(size, np.float32)])
    got = want.copy()
    route_max_into(want, indptr, cols, idx, val, 0, 30)
    route_max_split(got, indptr, cols, idx, val, 0, 30, g, chunks)
    np.testing.assert_array_equal(got, want)


def _lenet_with_shortcut():
    """A LeNet-5-like CNN: conv, max pooling, a block with an identity shortcut."""
    torch = pytest.importorskip("torch")
    from converters import convert
    from neuro.torch import FATReLU

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(3, 6, 5, padding=2)
            self.act1 = FATReLU(0.3)
            self.pool = torch.nn.MaxPool2d(2)
            self.conv2 = torch.nn.Conv2d(6, 6, 3, padding=1)
            self.act2 = FATReLU(0.2)
            self.fc = torch.nn.Linear(600, 10)

        def forward(self, x):
            x = self.pool(self.act1(self.conv1(x)))
            return self.fc(torch.flatten(self.act2(self.conv2(x) + x), 1))

    torch.manual_seed(0)
    model = Net().double().eval()
    x = torch.randn(1, 3, 20, 20, dtype=torch.float64)
    return model, convert(model, example_input=x), x


def test_a_cnn_on_two_threads_equals_the_step_by_step_engine(monkeypatch):
    model, net, x = _lenet_with_shortcut()
    kinds = {p.weights.type for p in net.projections.values()}
    assert {"conv2d", "sparse", "dense"} <= kinds  # pooling route and shortcut are sparse
    monkeypatch.setattr(fastpath, "MIN_PARALLEL_CONNECTIONS", 0)  # split every phase
    pops = list(net.populations)
    xs = x.numpy()
    opts = dict(record=pops, dtype="float64")
    slow = neuro.run(net, xs, engine="python", **opts)
    fast = neuro.run(net, xs, engine="compiled", threads=2, **opts)
    assert fast.info["schedule"] == "serial"
    assert_identical(slow, fast, pops)
    with __import__("torch").no_grad():
        want = model(x).numpy()
    np.testing.assert_allclose(fast.outputs, want, rtol=1e-9, atol=1e-9)
