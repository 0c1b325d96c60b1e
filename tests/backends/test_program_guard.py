"""The guard of a compiled program on the plain call's path: one sample per call, default
options.  Every kind of edit between two calls (an array edited in place after being made
writeable again, a field, a model, a population or projection replaced) gives the result
of a network compiled afresh, never the compiled one's; results of the plain call keep
their lazily built parts (final state, counts, AC split) through copies and pickles."""

import copy
import pickle

import numpy as np
import pytest
from identity import assert_identical

import neuro


def mlp(seed=0):
    rng = np.random.default_rng(seed)
    net = neuro.Network(name="mlp")
    net.add_population("x", (12,), neuro.Input())
    net.add_population("h", (9,), neuro.FATReLU(np.full(9, 0.1, np.float32)))
    net.add_population("y", (4,), neuro.Readout())
    w1 = rng.normal(size=(12, 9)).astype(np.float32)
    w2 = rng.normal(size=(9, 4)).astype(np.float32)
    net.connect("x", "h", neuro.Dense(w1), bias=np.zeros(9, np.float32))
    net.connect("h", "y", neuro.Dense(w2), bias=np.ones(4, np.float32))
    return net


def _unlocked(array):
    array.flags.writeable = True
    return array


def _edit_weight(net):
    _unlocked(net.projections["x->h"].weights.weight)[:, :3] *= -2.0


def _edit_threshold(net):
    _unlocked(net.populations["h"].model.threshold)[:4] = 2.5


def _edit_bias(net):
    _unlocked(net.projections["h->y"].bias)[1] = -5.0


def _replace_population(net):
    net.populations["h"] = neuro.ir.Population("h", (9,), neuro.FATReLU(3.0))


def _replace_projection(net):
    old = net.projections["h->y"]
    w = np.ascontiguousarray(-old.weights.weight)
    net.projections["h->y"] = neuro.ir.Projection("h->y", "h", "y", neuro.Dense(w), bias=old.bias)


def _replace_weights_by_a_writeable_copy_edited_in_place(net):
    op = net.projections["h->y"].weights
    op.weight = np.array(op.weight)  # equal values, writeable
    op.weight[:, 0] = 7.0


def _change_role(net):
    net.projections["x->h"].role = "pool"  # counted as pooling additions, not synops


EDITS = [
    _edit_weight,
    _edit_threshold,
    _edit_bias,
    _replace_population,
    _replace_projection,
    _replace_weights_by_a_writeable_copy_edited_in_place,
    _change_role,
]


@pytest.mark.parametrize("edit", EDITS, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("cached", [False, True], ids=["program", "neuro.run"])
def test_an_edit_between_two_plain_calls_is_run(edit, cached):
    net = mlp()
    x = np.random.default_rng(1).random((1, 12)).astype(np.float32)

    def call():
        if cached:
            return neuro.run(net, x, dtype="float32")
        return program.run(x)

    program = neuro.compile(net, dtype="float32")
    before = call()
    assert call().program.compiles == 1
    edit(net)
    after = call()
    fresh = neuro.run(net, x, dtype="float32", cache=False)
    assert after.program.compiles == 2
    np.testing.assert_array_equal(after.outputs, fresh.outputs)
    assert after.counts == fresh.counts
    changed = not np.array_equal(after.outputs, before.outputs) or after.counts != before.counts
    assert changed  # the edit matters: a stale program would have failed above
    assert after.program.current and call().program.compiles == 2  # locked again


def test_plain_call_results_read_lazily_equal_the_general_path():
    net = mlp()
    program = neuro.compile(net, dtype="float32")
    x = np.random.default_rng(2).random((3, 12)).astype(np.float32)
    x[0] = np.round(x[0])  # ternary inputs in one sample only: still graded
    plain, general = program.run(x), program.run(x, steps=1)
    assert type(plain) is not type(general)  # the plain call took its own path
    assert_identical(plain, general, ["y"])
    for result in (copy.deepcopy(plain), pickle.loads(pickle.dumps(plain))):
        assert result.final_state == general.final_state
        assert result.counts == general.counts and result.counts.ac == general.counts.ac
    ternary = np.round(x)
    plain, general = program.run(ternary), program.run(ternary, steps=1)
    assert plain.counts.ac == general.counts.ac == {"x->h"}
    plain.final_state = {"x": {}}
    assert plain.final_state == {"x": {}}


def test_plain_calls_of_earlier_batches_are_not_changed_by_later_ones():
    net = mlp()
    program = neuro.compile(net, dtype="float32")
    rng = np.random.default_rng(3)
    xs = [rng.random((b, 12)).astype(np.float32) for b in (1, 2, 1, 5, 2, 1, 3, 4, 6, 1)]
    results = [program.run(x) for x in xs]
    for x, result in zip(xs, results):
        fresh = neuro.run(net, x, dtype="float32", cache=False)
        np.testing.assert_array_equal(result.outputs, fresh.outputs)
        assert result.counts == fresh.counts
