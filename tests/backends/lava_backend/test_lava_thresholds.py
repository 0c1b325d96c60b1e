"""Strict FATReLU thresholds on Lava; max pooling and clipped FATReLU refused by name."""

from __future__ import annotations

import numpy as np
import pytest

import neuro
from neuro.backends.lava.dependency import require_lava
from neuro.exceptions import BackendError, MissingDependencyError
from neuro.models.maxpool import MaxPool, routing

try:
    require_lava()
    HAVE_LAVA = True
except MissingDependencyError:
    HAVE_LAVA = False

needs_lava = pytest.mark.skipif(not HAVE_LAVA, reason="lava-nc 0.10 (Python 3.10) not available")


def _identity_net(model):
    net = neuro.Network(name="ties")
    net.add_population("x", (4,), neuro.Input())
    net.add_population("h", (4,), model)
    net.connect("x", "h", neuro.Dense(np.eye(4)))
    return net


@needs_lava
def test_strict_threshold_zeroes_ties_on_lava():
    x = np.array([[1.0, 0.5, 2.0, 1.0], [1.0, 1.0, 1.0, 3.0]])
    for strict in (False, True):
        net = _identity_net(neuro.FATReLU(1.0, strict=strict))
        want = np.where(x > 1.0 if strict else x >= 1.0, x, 0.0)
        np.testing.assert_array_equal(neuro.run(net, x, backend="lava").outputs, want)


@needs_lava
def test_clip_and_max_pooling_are_refused_by_name():
    net = _identity_net(neuro.FATReLU(0.0, clip=6.0))
    with pytest.raises(BackendError, match="'h'.*lava.*clip"):
        neuro.run(net, np.ones((1, 4)), backend="lava")
    pool = MaxPool((1, 4), (2,), (2,))
    net = neuro.Network(name="pool")
    net.add_population("x", (1, 4), neuro.Input())
    net.add_population("p", pool.out_shape(), pool)
    net.connect("x", "p", routing(pool))
    with pytest.raises(BackendError, match="'p'.*lava.*max-pooling"):
        neuro.run(net, np.ones((1, 1, 4)), backend="lava")


def test_max_pool_network_runs_on_the_reference():
    pool = MaxPool((1, 4), (2,), (2,))
    net = neuro.Network(name="pool")
    net.add_population("x", (1, 4), neuro.Input())
    net.add_population("p", pool.out_shape(), pool)
    net.connect("x", "p", routing(pool))
    x = np.array([[[1.0, 3.0, -1.0, 0.0]]])
    out = neuro.run(net, x, backend="reference")
    np.testing.assert_array_equal(out.outputs, [[[3.0, 0.0]]])
    assert out.counts.comparisons == 3 and out.counts.synops == 0
