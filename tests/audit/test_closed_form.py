"""Static and activity counts of every operator, derived here in closed form.

``dense_macs`` and ``weight_sparse_macs`` are static: all connections (or all non-zero
weights) times every input, every step, whatever the activity.  ``activity_sparse_macs``
and ``synops`` follow delivered events: an event of step t reaches the port at step
t + delay if that is inside the run.  None of the expected values below uses the
project's fan-out helpers or ``Counts``; convolutions are counted tap by tap from the
index arithmetic of a strided, padded, grouped cross-correlation.
"""

import numpy as np
import pytest

import neuro

RUNS = [
    ("reference", {}),
    ("cpu", {"engine": "python", "dtype": "float64"}),
    ("cpu", {"engine": "compiled", "dtype": "float64"}),
]
IDS = ["reference", "python", "compiled"]


def _single_projection(in_shape, op, delay):
    net = neuro.Network(name="one projection")
    net.add_population("x", in_shape, neuro.Input())
    out = op.out_shape if isinstance(op, neuro.Conv2d) else (op.n_out,)
    net.add_population("y", out, neuro.Readout())
    net.connect("x", "y", op, delay=delay)
    return net


def _inputs(rng, steps, batch, shape, density):
    x = rng.normal(size=(steps, batch, *shape))
    x[rng.random(x.shape) > density] = 0
    return x


def _delivered(x, delay):
    """(T - delay, B, n) activity masks of the steps whose events arrive in the run."""
    steps, batch = x.shape[:2]
    n = int(np.prod(x.shape[2:]))
    return (x[: max(0, steps - delay)] != 0).reshape(max(0, steps - delay), batch, n)


def _check(net, x, expected, backend, opts):
    c = neuro.run(net, x, backend=backend, **opts).counts
    got = {k: getattr(c, k) for k in expected}
    assert got == expected


# -- dense ------------------------------------------------------------------------------


@pytest.mark.parametrize("backend, opts", RUNS, ids=IDS)
@pytest.mark.parametrize("seed", range(4))
def test_dense(seed, backend, opts):
    rng = np.random.default_rng(seed)
    n_in, n_out = int(rng.integers(1, 30)), int(rng.integers(1, 30))
    w = rng.normal(size=(n_in, n_out))
    w[rng.random(w.shape) < 0.5] = 0
    steps, batch, delay = int(rng.integers(2, 6)), int(rng.integers(1, 4)), int(rng.integers(0, 4))
    x = _inputs(rng, steps, batch, (n_in,), 0.4)
    a = _delivered(x, delay)
    nz_row = [sum(1 for v in w[i] if v != 0) for i in range(n_in)]
    expected = {
        "dense_macs": steps * batch * n_in * n_out,
        "weight_sparse_macs": steps * batch * sum(nz_row),
        "activity_sparse_macs": int(a.sum()) * n_out,
        "synops": int(sum(a[..., i].sum() * nz_row[i] for i in range(n_in))),
    }
    _check(_single_projection((n_in,), neuro.Dense(w), delay), x, expected, backend, opts)


# -- sparse (stored explicit zeros are not non-zero weights; dense counts ignore storage) --


@pytest.mark.parametrize("backend, opts", RUNS, ids=IDS)
@pytest.mark.parametrize("seed", range(4))
def test_sparse_with_stored_zeros(seed, backend, opts):
    rng = np.random.default_rng(100 + seed)
    n_in, n_out = int(rng.integers(2, 25)), int(rng.integers(2, 25))
    rows = [np.sort(rng.choice(n_out, size=int(rng.integers(0, n_out + 1)), replace=False))
            for _ in range(n_in)]  # fmt: skip
    data = [rng.normal(size=r.size) * (rng.random(r.size) < 0.7) for r in rows]  # some stored 0
    stored = [r.size for r in rows]
    nz = [int(np.count_nonzero(d)) for d in data]
    indptr = np.concatenate([[0], np.cumsum(stored)])
    op = neuro.Sparse(indptr, np.concatenate(rows), np.concatenate(data), n_out)
    steps, batch, delay = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(0, 3))
    x = _inputs(rng, steps, batch, (n_in,), 0.5)
    a = _delivered(x, delay)
    per_unit = a.sum(axis=(0, 1))  # events of each input unit that arrive
    expected = {  # the dense layer's connections whatever the storage: n_in x n_out
        "dense_macs": steps * batch * n_in * n_out,
        "weight_sparse_macs": steps * batch * sum(nz),
        "activity_sparse_macs": int(per_unit.sum()) * n_out,
        "synops": int(per_unit @ np.array(nz)),
    }
    _check(_single_projection((n_in,), op, delay), x, expected, backend, opts)


# -- conv2d: borders, stride, padding, groups ---------------------------------------------


def _out_size(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def _outputs_of_tap(n, k_idx, s, p, n_out):
    """How many output positions o in [0, n_out) read input o*s - p + k_idx inside [0, n)."""
    lo = max(0, -((k_idx - p) // s))  # ceil((p - k_idx) / s)
    hi = min(n_out - 1, (n - 1 + p - k_idx) // s)
    return max(0, hi - lo + 1)


def _taps_reaching(i, k, s, p, n_out):
    """Kernel offsets through which input position i reaches some output position."""
    return [kk for kk in range(k) if (i + p - kk) % s == 0 and 0 <= (i + p - kk) // s < n_out]


CONVS = [  # (C_in, H, W, C_out, kh, kw, stride, padding, groups)
    (1, 4, 4, 1, 3, 3, (1, 1), (1, 1), 1),
    (2, 5, 7, 4, 3, 2, (2, 1), (1, 0), 2),
    (3, 6, 5, 6, 2, 3, (2, 2), (2, 1), 3),
    (4, 7, 7, 2, 3, 3, (3, 2), (0, 2), 2),
    (2, 3, 3, 2, 3, 3, (1, 1), (2, 2), 1),  # padding wider than the kernel overlap
    (3, 8, 6, 3, 1, 1, (2, 3), (0, 0), 3),  # 1x1, depthwise, unreached inputs
]


@pytest.mark.parametrize("backend, opts", RUNS, ids=IDS)
@pytest.mark.parametrize("case", range(len(CONVS)))
def test_conv2d(case, backend, opts):
    c_in, h, w_, c_out, kh, kw, s, p, g = CONVS[case]
    rng = np.random.default_rng(200 + case)
    cg, og = c_in // g, c_out // g
    weight = rng.normal(size=(c_out, cg, kh, kw))
    weight[rng.random(weight.shape) < 0.4] = 0
    op = neuro.Conv2d(weight, (c_in, h, w_), stride=s, padding=p, groups=g)
    h_out, w_out = _out_size(h, kh, s[0], p[0]), _out_size(w_, kw, s[1], p[1])
    assert op.out_shape == (c_out, h_out, w_out)
    ny = [_outputs_of_tap(h, ky, s[0], p[0], h_out) for ky in range(kh)]
    nx = [_outputs_of_tap(w_, kx, s[1], p[1], w_out) for kx in range(kw)]
    steps, batch, delay = int(rng.integers(1, 4)), int(rng.integers(1, 3)), case % 3
    # static counts, tap by tap: every tap is read once per output position it lands inside
    dense = steps * batch * c_out * cg * sum(ny) * sum(nx)
    wsparse = steps * batch * sum(ny[ky] * nx[kx] for co, ci, ky, kx in zip(*np.nonzero(weight)))
    # activity counts, input unit by input unit
    x = _inputs(rng, steps, batch, (c_in, h, w_), 0.5)
    a = _delivered(x, delay).reshape(-1, c_in, h, w_).sum(axis=0)  # arrivals per unit
    act = syn = 0
    for ci in range(c_in):
        grp = ci // cg
        for y in range(h):
            ky_s = _taps_reaching(y, kh, s[0], p[0], h_out)
            for xx in range(w_):
                kx_s = _taps_reaching(xx, kw, s[1], p[1], w_out)
                n = int(a[ci, y, xx])
                act += n * og * len(ky_s) * len(kx_s)
                syn += n * sum(
                    1
                    for co in range(grp * og, (grp + 1) * og)
                    for ky in ky_s
                    for kx in kx_s
                    if weight[co, ci - grp * cg, ky, kx] != 0
                )
    # the two views agree: Σ over units of all reached taps == Σ over taps of outputs
    rows = sum(len(_taps_reaching(y, kh, s[0], p[0], h_out)) for y in range(h))
    cols = sum(len(_taps_reaching(xx, kw, s[1], p[1], w_out)) for xx in range(w_))
    assert c_in * og * rows * cols == c_out * cg * sum(ny) * sum(nx)
    expected = {
        "dense_macs": dense,
        "weight_sparse_macs": wsparse,
        "activity_sparse_macs": act,
        "synops": syn,
    }
    _check(_single_projection((c_in, h, w_), op, delay), x, expected, backend, opts)


def test_conv2d_border_counts_by_hand():
    """3x3, padding 1 on 4x4: 4 corners x 4 + 8 edges x 6 + 4 inner x 9 = 100 taps."""
    op = neuro.Conv2d(np.ones((1, 1, 3, 3)), (1, 4, 4), padding=1)
    x = np.ones((1, 1, 1, 4, 4))
    c = neuro.run(_single_projection((1, 4, 4), op, 0), x, backend="reference").counts
    assert c.dense_macs == c.weight_sparse_macs == c.synops == c.activity_sparse_macs == 100


def test_delay_longer_than_the_run_delivers_nothing():
    """Static counts still charge every step; nothing arrives, so no synops."""
    w = np.ones((3, 2))
    net = _single_projection((3,), neuro.Dense(w), 5)
    c = neuro.run(net, np.ones((4, 2, 3)), backend="cpu", dtype="float64").counts
    assert (c.dense_macs, c.weight_sparse_macs) == (4 * 2 * 6, 4 * 2 * 6)
    assert (c.activity_sparse_macs, c.synops) == (0, 0)
