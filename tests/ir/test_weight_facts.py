"""Facts of every weight operator against an independent dense reference; caching."""

import copy
import pickle

import numpy as np
import pytest

import neuro
from neuro import FATReLU, Input, Network, Readout
from neuro.ir.complementary import Complementary, complementary_masks, pack
from neuro.ir.weights import WEIGHTS, Conv2d, Dense, Sparse


def _matrix(n_pre=7, n_out=5, density=0.5, seed=0):
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(n_pre, n_out))
    m[rng.random(m.shape) >= density] = 0.0
    m[2] = 0.0  # a unit without fan-out
    return m


def _reference_facts(m: np.ndarray) -> dict:
    """What every operator holding the dense matrix m must answer (numpy only)."""
    return {
        "shape": m.shape,
        "fanout_nnz": np.count_nonzero(m, axis=1),
        "fanout_dense": np.full(m.shape[0], m.shape[1]),
        "dense": m,
        "synapses": (m != 0).astype(np.int64),
    }


def _check(op, m):
    ref = _reference_facts(m)
    assert op.shape == ref["shape"] == (op.n_pre, op.n_out)
    np.testing.assert_array_equal(op.fanout_nnz(), ref["fanout_nnz"])
    np.testing.assert_array_equal(op.fanout_dense(), ref["fanout_dense"])
    assert op.fanout_nnz().dtype == op.fanout_total().dtype == np.int64
    assert op.nnz() == np.count_nonzero(m)
    np.testing.assert_array_equal(op.dense(), ref["dense"])
    assert op.dense().dtype == np.float64 and op.dense(np.float32).dtype == np.float32
    np.testing.assert_array_equal(op.csr().toarray(), ref["dense"])
    mat = op.matrix()
    np.testing.assert_array_equal(mat if isinstance(mat, np.ndarray) else mat.toarray(), m)
    np.testing.assert_array_equal(op.synapses().toarray(), ref["synapses"])
    x = np.random.default_rng(5).normal(size=(3, m.shape[0]))
    np.testing.assert_allclose(op.apply(x), x @ m, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(op.forward(np.float64)(x), x @ m, rtol=1e-13, atol=1e-13)
    s_out = np.linspace(0.5, 2.0, m.shape[1])
    s_in = np.linspace(-1.0, 3.0, m.shape[0])
    scaled = op.scale_outputs(s_out)
    if scaled is not None:
        np.testing.assert_allclose(scaled.dense(), m * s_out[None, :], rtol=1e-15)
    scaled = op.scale_inputs(s_in)
    if scaled is not None:
        np.testing.assert_allclose(scaled.dense(), m * s_in[:, None], rtol=1e-15)


def test_dense_and_sparse_storage_give_identical_facts():
    m = _matrix()
    dense, sparse = Dense(m), Sparse.from_matrix(m)
    _check(dense, m)
    _check(sparse, m)
    for fact in ("fanout_nnz", "fanout_dense"):
        np.testing.assert_array_equal(getattr(dense, fact)(), getattr(sparse, fact)())
    # fanout_total is the *stored* connections: every entry of a matrix, the listed ones
    np.testing.assert_array_equal(dense.fanout_total(), np.full(7, 5))
    np.testing.assert_array_equal(sparse.fanout_total(), np.count_nonzero(m, axis=1))
    np.testing.assert_array_equal(dense.synapses(zeros=True).toarray(), np.ones(m.shape))
    assert dense.scale_outputs(np.ones(5)) is not None
    assert sparse.scale_inputs(np.ones(7)) is not None


def test_sparse_with_stored_zeros_keeps_them_as_connections():
    s = Sparse(np.array([0, 2, 3]), np.array([0, 3, 1]), np.array([1.5, 0.0, -2.0]), 4)
    np.testing.assert_array_equal(s.fanout_total(), [2, 1])
    np.testing.assert_array_equal(s.fanout_nnz(), [1, 1])
    np.testing.assert_array_equal(s.fanout_dense(), [4, 4])
    assert s.csr().nnz == 3  # the stored zero stays
    np.testing.assert_array_equal(s.synapses(zeros=True).toarray().sum(axis=1), [2, 1])
    np.testing.assert_array_equal(s.dense(), [[1.5, 0, 0, 0], [0, -2.0, 0, 0]])


def test_conv_scaling_and_bias_against_the_dense_view():
    rng = np.random.default_rng(3)
    op = Conv2d(rng.normal(size=(4, 1, 3, 3)), (2, 5, 5), (2, 2), (1, 1), groups=2)
    m = op.dense()
    c_out, h_out, w_out = op.out_shape
    per_channel = np.repeat([0.5, 2.0, -1.0, 3.0], h_out * w_out)
    np.testing.assert_allclose(op.scale_outputs(per_channel).dense(), m * per_channel)
    assert op.scale_outputs(np.linspace(1, 2, op.n_out)) is None  # varies within a channel
    s_in = np.repeat([2.0, -0.5], 25)
    np.testing.assert_allclose(op.scale_inputs(s_in).dense(), m * s_in[:, None])
    assert op.scale_inputs(np.linspace(1, 2, op.n_pre)) is None
    bias = np.array([1.0, 2.0, 3.0, 4.0])
    full = op.expand_bias(bias)
    np.testing.assert_array_equal(op.compact_bias(full), bias)
    ragged = full.copy()
    ragged[0] += 1
    np.testing.assert_array_equal(op.compact_bias(ragged), ragged)
    assert op.input_shape == (2, 5, 5) and Dense(m).input_shape is None


@pytest.mark.parametrize("conv", [False, True])
def test_complementary_facts_are_the_unpacked_operators(conv):
    rng = np.random.default_rng(4)
    if conv:
        masks = complementary_masks(3, (2, 3, 3), seed=1)  # (G, C_in, kh, kw)
        w = rng.normal(size=masks.shape) * masks
        unpacked = Conv2d(w, (2, 6, 6), (1, 1), (1, 1))
    else:
        masks = complementary_masks(3, (8,), seed=1)  # (G, n_pre)
        unpacked = Dense((rng.normal(size=masks.shape) * masks).T)
    op = pack(unpacked, 3)
    assert isinstance(op, Complementary)
    m = unpacked.dense()
    np.testing.assert_array_equal(op.dense(), m)
    np.testing.assert_array_equal(op.csr().toarray(), m)
    assert op.shape == unpacked.shape
    assert op.input_shape == (unpacked.in_shape if conv else None)
    for fact in ("fanout_nnz", "fanout_total", "fanout_dense"):
        np.testing.assert_array_equal(getattr(op, fact)(), getattr(unpacked, fact)())
    np.testing.assert_array_equal(op.synapses().toarray(), (m != 0).astype(np.int64))
    x = rng.normal(size=(2, op.n_pre))
    np.testing.assert_allclose(op.forward(np.float64)(x), x @ m, rtol=1e-12, atol=1e-12)


def test_stored_weights_and_compact():
    m = _matrix(density=0.2)
    d = Dense(m)
    assert d.stored_weights() is d.weight
    d2 = d.with_stored_weights(np.zeros_like(m))
    assert type(d2) is Dense and d2.nnz() == 0 and d.nnz() == np.count_nonzero(m)
    s = d.compact(0.5)
    assert isinstance(s, Sparse)
    np.testing.assert_array_equal(s.dense(), m)
    assert d.compact(0.1) is d and s.compact(0.9) is s
    assert s.with_stored_weights(s.data * 2).nnz() == s.nnz()
    c = pack(Dense(np.eye(4)), 2)
    assert c.stored_weights() is None
    assert s.diagonal() is None and Sparse.from_matrix(np.diag([1.0, 2.0])).diagonal() is not None


# -- caching --------------------------------------------------------------------------
def _counting(op):
    """Count how often ``op`` computes its non-zero fan-out."""
    calls = []
    compute = op._fanout_nnz
    op._fanout_nnz = lambda: calls.append(1) or compute()
    return calls


def _frozen(a):
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("kind", ["dense", "sparse", "conv2d"])
def test_cache_never_stale_after_a_field_is_replaced(kind):
    rng = np.random.default_rng(6)
    if kind == "dense":
        op = Dense(_frozen(_matrix()))
        field, new = "weight", _frozen(np.ones((7, 5)))
    elif kind == "sparse":
        op = Sparse.from_matrix(_matrix())
        for name in ("indptr", "indices", "data"):
            setattr(op, name, _frozen(getattr(op, name)))
        field, new = "data", _frozen(np.zeros(op.data.size))
    else:
        w = rng.normal(size=(2, 1, 3, 3))
        w[0, 0, 0] = 0.0
        op = Conv2d(_frozen(w), (1, 5, 5), 1, 1)
        field, new = "weight", _frozen(np.ones_like(w))
    calls = _counting(op)
    first = op.fanout_nnz()
    first[:] = -1  # callers get copies: the cache cannot be edited through them
    again = op.fanout_nnz()
    assert len(calls) == 1 and again.min() >= 0  # read-only arrays: cached
    setattr(op, field, new)  # a replaced array
    fresh = op.fanout_nnz()
    assert len(calls) == 2
    np.testing.assert_array_equal(fresh, type(op).from_dict(op.to_dict())._fanout_nnz())
    if kind == "conv2d":  # a replaced scalar field
        total = op.fanout_total()
        op.padding = (0, 0)
        assert op.fanout_total().sum() < total.sum()
        np.testing.assert_array_equal(op.fanout_total(), op._fanout_total())


def test_writeable_arrays_are_never_cached():
    op = Dense(_matrix())
    calls = _counting(op)
    before = op.fanout_nnz()
    op.weight[2, :] = 1.0  # in-place edit of a writeable array
    after = op.fanout_nnz()
    assert after[2] == 5 and before[2] == 0
    assert len(calls) == 2  # computed on every call


def test_cache_follows_a_compiled_program_and_does_not_travel():
    net = Network(name="facts")
    net.add_population("x", (7,), Input())
    net.add_population("h", (5,), FATReLU(0.0))
    net.add_population("y", (2,), Readout())
    net.connect("x", "h", Dense(_matrix()))
    net.connect("h", "y", Sparse.from_matrix(_matrix(5, 2, density=0.7, seed=1)))
    x = np.random.default_rng(0).random((2, 1, 7))
    neuro.run(net, x, backend="reference")  # compiles and locks the arrays
    w = next(p for p in net.projections.values() if p.pre == "x").weights
    assert not w.weight.flags.writeable
    calls = _counting(w)
    w.fanout_nnz()
    w.fanout_nnz()
    assert len(calls) <= 1  # once at most (the run may have filled the cache already)
    del w._fanout_nnz
    w.weight = np.ones((7, 5))  # how a user changes a compiled network
    np.testing.assert_array_equal(w.fanout_nnz(), np.full(7, 5))
    out = neuro.run(net, x, backend="reference")
    assert out is not None
    # copies and pickles carry no cache entries
    assert "_facts" not in pickle.loads(pickle.dumps(w)).__dict__
    assert "_facts" not in copy.deepcopy(w).__dict__


def test_registry_operators_all_answer_the_facts():
    for name in ("dense", "sparse", "conv2d", "complementary"):
        cls = WEIGHTS.get(name)
        for method in ("fanout_nnz", "fanout_total", "fanout_dense", "dense", "csr",
                       "matrix", "synapses", "forward", "scale_outputs", "scale_inputs",
                       "compact", "compact_bias", "expand_bias", "diagonal"):  # fmt: skip
            assert callable(getattr(cls, method))
