"""``Projection.role`` survives a file round trip; files without it load as synaptic."""

import h5py
import numpy as np
import pytest

import neuro
from neuro.exceptions import ValidationError


def _net(role):
    net = neuro.Network(name="pooled")
    net.add_population("x", (4,), neuro.Input())
    net.add_population("y", (4,), neuro.Readout())
    net.connect("x", "y", neuro.Dense(np.eye(4)), name="p").role = role
    return net


@pytest.mark.parametrize("role", ["synaptic", "pool"])
def test_role_round_trip(tmp_path, role):
    path = tmp_path / "net.h5"
    neuro.save(_net(role), path)
    with h5py.File(path, "r") as f:
        assert ("role" in f["projections/000000"].attrs) == (role != "synaptic")
    assert neuro.load(path).projections["p"].role == role


def test_pool_role_counts_pool_ops_not_synops():
    x = np.array([[1.0, 0.0, 2.0, 0.0]])
    syn = neuro.run(_net("synaptic"), x, backend="reference").counts
    pool = neuro.run(_net("pool"), x, backend="reference").counts
    assert syn.synops == 2 and syn.pool_ops == 0
    assert pool.synops == pool.dense_macs == pool.weight_sparse_macs == 0 and pool.pool_ops == 2


def test_unknown_role_is_refused():
    with pytest.raises(ValidationError, match="role"):
        neuro.Projection("p", "x", "y", neuro.Dense(np.eye(2)), role="magic")
