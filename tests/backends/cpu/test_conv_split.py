"""The convolution's event set-up split over threads (``conv_split``): the same work
space, entry for entry, as the serial set-up, for every split; the serial set-up for
events that do not ascend."""

import numpy as np
import pytest
from conv_work import guarded_work

from neuro.backends.cpu.conv import _block_channels, bucket_events, conv_geometry
from neuro.backends.cpu.conv_dense import pad_events, padded_size
from neuro.backends.cpu.conv_split import bucket_events_split, pad_events_split
from neuro.backends.cpu.event_ranges import events_ascend
from neuro.backends.cpu.synapses import conv2d_layout
from neuro.ir.weights import Conv2d

# (C_in, H, W, k, stride, padding, input density)
CASES = [
    (64, 14, 14, 3, 1, 1, 0.25),  # a ResNet layer's map
    (600, 4, 4, 3, 1, 1, 0.3),  # many channel blocks
    (3, 23, 17, 7, 2, 3, 1.0),  # a stem
    (5, 1, 1, 3, 1, 1, 0.8),  # one pixel
    (9, 6, 5, 3, 1, 0, 0.02),  # a few events
]


def _events(case, seed, dtype=np.float64):
    c_in, h, w, k, s, p, dens = case
    rng = np.random.default_rng(seed)
    op = Conv2d(rng.standard_normal((8, c_in, k, k)), (c_in, h, w), (s, s), (p, p), 1)
    wt = conv2d_layout(op, dtype)
    geom = conv_geometry(op, wt.shape)
    x = rng.standard_normal(c_in * h * w)
    x[rng.random(x.size) >= dens] = 0
    idx = np.flatnonzero(x).astype(np.int64)
    return geom, idx, x[idx].astype(dtype)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("chunks", [1, 2, 3, 7])
@pytest.mark.parametrize("seed", [0, 1])
def test_split_buckets_equal_the_serial_buckets(case, chunks, seed):
    geom, idx, val = _events(case, seed)
    if idx.size == 0:
        pytest.skip("no events drawn")
    hw = int(geom[0] * geom[1])
    cb = _block_channels(geom, 8)
    cb = min(cb, 4) if case[0] > 8 else cb  # several blocks also for the small cases
    n_units = int(geom[8] * geom[9]) * hw
    want = guarded_work(geom, np.float64)[1:]
    got = guarded_work(geom, np.float64)[1:]
    n_blk = bucket_events(idx, val, 0, idx.size, hw, cb, n_units, *want)
    assert events_ascend(idx, 0, idx.size, chunks)
    assert bucket_events_split(idx, val, 0, idx.size, hw, cb, *got, chunks) == n_blk
    n_keys = n_blk * hw
    np.testing.assert_array_equal(got[0][: n_keys + 1], want[0][: n_keys + 1])
    np.testing.assert_array_equal(got[1][: 2 * idx.size], want[1][: 2 * idx.size])
    np.testing.assert_array_equal(got[2][: idx.size], want[2][: idx.size])


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("chunks", [1, 2, 5])
def test_split_padded_map_equals_the_serial_map(case, chunks):
    geom, idx, val = _events(case, 3)
    if idx.size == 0:
        pytest.skip("no events drawn")
    n = padded_size(geom)
    want = np.full(n, np.nan)
    got = np.full(n, np.nan)
    assert pad_events(idx, val, 0, idx.size, geom, want)
    pad_events_split(idx, val, 0, idx.size, geom, got, chunks)
    np.testing.assert_array_equal(got, want)
    # the map holds exactly the events: their sum, and zeros elsewhere
    assert np.count_nonzero(got) == np.count_nonzero(val)
    assert got.sum() == pytest.approx(val.sum())


def test_events_ascend_finds_a_disorder_at_any_position():
    idx = np.arange(0, 1000, 3, dtype=np.int64)
    for chunks in (1, 2, 4):
        assert events_ascend(idx, 0, idx.size, chunks)
        for j in (1, idx.size // 2, idx.size // 2 + 1, idx.size - 1):
            bad = idx.copy()
            bad[j] = bad[j - 1]  # a repeat
            assert not events_ascend(bad, 0, bad.size, chunks)
            bad[j] = bad[j - 1] - 1  # a descent
            assert not events_ascend(bad, 0, bad.size, chunks)
    assert events_ascend(idx, 5, 6, 2)  # one event
