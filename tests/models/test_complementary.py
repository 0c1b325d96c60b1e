"""Complementary sparsity: packed projections equal the unpacked sparse ones."""

import numpy as np
import pytest

import neuro
from neuro.exceptions import ValidationError
from neuro.ir.complementary import Complementary, check_complementary, complementary_masks, pack
from neuro.models.kwta import KWTA


def _complementary_dense(rng, n_pre, n_out, g, density=None):
    """(n_pre, n_out) weights whose output groups of g have disjoint non-zeros."""
    w = np.zeros((n_pre, n_out))
    for start in range(0, n_out, g):
        stop = min(n_out, start + g)
        masks = complementary_masks(g, (n_pre,), density=density, seed=rng)[: stop - start]
        w[:, start:stop] = (rng.normal(size=(stop - start, n_pre)) * masks).T
    return w


def _complementary_conv(rng, c_out, c_in, k, g):
    w = np.zeros((c_out, c_in, k, k))
    for start in range(0, c_out, g):
        stop = min(c_out, start + g)
        masks = complementary_masks(g, (c_in, k, k), seed=rng)[: stop - start]
        w[start:stop] = rng.normal(size=masks.shape) * masks
    return w


def test_masks_are_disjoint_with_requested_density():
    masks = complementary_masks(5, (4, 3, 3), density=0.2, seed=0)
    assert masks.shape == (5, 4, 3, 3)
    assert masks.sum(axis=0).max() == 1
    np.testing.assert_array_equal(masks.reshape(5, -1).sum(1), [7] * 5)  # round(0.2 * 36)
    check_complementary(masks)  # no error
    with pytest.raises(neuro.exceptions.ParameterError, match="density == 0.3"):
        complementary_masks(5, (10,), density=0.3)


def test_overlapping_masks_are_rejected_with_kernels_and_position():
    masks = complementary_masks(3, (6, 2), seed=1)
    masks[:, 4, 1] = False
    masks[2, 4, 1] = masks[0, 4, 1] = True
    with pytest.raises(ValidationError, match=r"kernel 0 and kernel 2 .*position \(4, 1\)"):
        check_complementary(masks)
    w = np.zeros((6, 4))
    w[3, 0] = w[3, 1] = 1.0  # output units 0 and 1 share input 3
    with pytest.raises(ValidationError, match=r"output unit 0 and output unit 1 .*\(3,\)"):
        pack(w, 2)


def _network(op_first, op_second, in_shape, hidden_shape, k):
    net = neuro.Network()
    net.add_population("x", in_shape, neuro.Input())
    channels = hidden_shape[0] if len(hidden_shape) == 3 else None
    net.add_population("h", hidden_shape, KWTA(k, local=channels is not None, channels=channels))
    net.add_population("y", (op_second.n_out,), neuro.Readout())
    net.connect("x", "h", op_first, bias=np.linspace(-0.1, 0.1, hidden_shape[0]))
    net.connect("h", "y", op_second)
    return net


@pytest.mark.parametrize("conv", [False, True])
def test_packed_equals_unpacked_outputs_and_counts(conv):
    rng = np.random.default_rng(2)
    if conv:
        in_shape, hidden = (6, 7, 7), (10, 3, 3)
        first = neuro.Conv2d(_complementary_conv(rng, 10, 6, 3, 4), in_shape, stride=2)
        second = neuro.Dense(_complementary_dense(rng, 90, 9, 3))
        k = 3
    else:
        in_shape, hidden = (40,), (23,)
        first = neuro.Dense(_complementary_dense(rng, 40, 23, 5, density=0.15))
        second = neuro.Dense(_complementary_dense(rng, 23, 9, 3))
        k = 6
    unpacked = _network(first, second, in_shape, hidden, k)
    packed = _network(pack(first, 4 if conv else 5), pack(second, 3), in_shape, hidden, k)
    x = rng.normal(size=(5, *in_shape))
    x[x < 0.3] = 0  # sparse input events
    expected = neuro.run(unpacked, x, backend="reference", record=["h", "y"])
    # packed networks on every backend equal the reference: test_conformance.py
    got = neuro.run(packed, x, backend="reference", record=["h", "y"])
    for name in ("h", "y"):
        np.testing.assert_allclose(got.recordings[name], expected.recordings[name], atol=1e-9)
    assert got.counts == expected.counts
    # synops: non-zero weights reached by the events, counted independently
    active = np.asarray(expected.recordings["h"]).reshape(5, -1) != 0
    assert expected.counts.projections["h->y"].synops == int(
        (active * (second.weight != 0).sum(1)).sum()
    )


def test_apply_memory_and_unpack():
    rng = np.random.default_rng(3)
    w = _complementary_dense(rng, 30, 20, 6)
    op = pack(w, 6)
    assert isinstance(op, Complementary) and op.n_groups == 4
    np.testing.assert_array_equal(op.unpack().weight, w)
    x = rng.normal(size=(3, 30))
    np.testing.assert_allclose(op.apply(x), x @ w)
    np.testing.assert_array_equal(op.fanout_nnz(), (w != 0).sum(1))
    np.testing.assert_array_equal(op.fanout_total(), np.full(30, 20))
    assert op.packed_words() == 30 * 4  # P = ceil(20 / 6) packed columns
    assert op.stored_nnz() == np.count_nonzero(w)
    assert op.id_bits() == 3


def test_hdf5_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    conv = neuro.Conv2d(_complementary_conv(rng, 8, 2, 3, 4), (2, 5, 5), padding=1)
    dense = neuro.Dense(_complementary_dense(rng, 200, 6, 3))
    net = _network(pack(conv, 4), pack(dense, 3), (2, 5, 5), (8, 5, 5), 2)
    back = neuro.load(neuro.save(net, tmp_path / "comp.h5"))
    for name in ("x->h", "h->y"):
        a, b = net.projections[name].weights, back.projections[name].weights
        assert isinstance(b, Complementary)
        np.testing.assert_array_equal(a.packed, b.packed)
        np.testing.assert_array_equal(a.kernel_ids, b.kernel_ids)
        assert (a.in_shape, a.stride, a.padding, a.n_kernels) == (
            b.in_shape,
            b.stride,
            b.padding,
            b.n_kernels,
        )
    x = rng.normal(size=(2, 2, 5, 5))
    np.testing.assert_array_equal(
        neuro.run(back, x, backend="cpu").outputs, neuro.run(net, x, backend="cpu").outputs
    )
