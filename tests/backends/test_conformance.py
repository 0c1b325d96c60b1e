"""Backend conformance: every registered backend runs the same networks as ``reference``.

The same seeded random networks of every kind (:data:`netgen.ALL_KINDS`: MLPs, CNNs with
stride, padding and groups, depthwise convolutions, average and max pooling, feed-forward
and feedback delays over 2, self-recurrent nets and recurrent CNNs, EGRU, token
embeddings, k-WTA, SAS, complementary-sparse operators and mixed networks) run on every
backend of :data:`neuro.BACKENDS` and must give

* the reference backend's recorded outputs of every population and its final state,
  within the backend's tolerance (:data:`CONFORMANCE`);
* exactly the reference backend's counts: every field of every population and
  projection (integers, compared exactly), whatever the counting definitions are;
* the same run when it is cut in two and continued from ``final_state`` (on the backend
  itself, and from a state the reference backend left);

and the reference counts equal independent closed forms (synops of every dense, sparse,
convolutional and complementary projection outside pooling; events of every population).

A backend that does not run a model raises :class:`~neuro.exceptions.BackendError` whose
first line names the population and the backend (:data:`REFUSES`); that is asserted, not
skipped.  Lava runs only where lava-nc imports (the ``lava`` tox environment, Python
3.10); elsewhere its cases skip with a reason naming lava, and with
``NEURO_REQUIRE_LAVA=1`` such a skip is a failure (``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np
import pytest
from netgen import (
    ALL_KINDS,
    POOL,
    cases,
    independent_projection_synops,
    layers_fire,
    random_case,
)
from time_limit import time_limit

import neuro
from neuro.backends.lava.dependency import require_lava
from neuro.exceptions import BackendError, MissingDependencyError

# backend → (run options, output tolerance, why that tolerance).  The tolerance is
# relative to the largest |value| of the population in the reference run (at least 1):
# |got − reference| <= rtol · max(1, max |reference|).
CONFORMANCE = {
    "reference": ({}, 0.0, "the reference itself, float64: a second run is bit-identical"),
    "cpu": (
        {"dtype": "float64"},
        1e-12,
        "float64 events; only the order of the additions into a port differs",
    ),
    "cores": (
        {"dtype": "float64", "hardware": "loihi"},
        1e-12,
        "the cpu step semantics in float64 per core; the order of additions differs",
    ),
    "lava": (
        {},
        1e-12,
        "float64 numpy in Lava's floating-point process models (Loihi2SimCfg "
        "'floating_pt'); convolutions are unrolled, so additions come in another order",
    ),
}


def _lava_refuses(pop) -> bool:
    model = pop.model
    if model.type == "fatrelu":
        return model.clip is not None
    return model.type in ("maxpool", "kwta", "sas")


# backend → rule: the populations whose model the backend does not run (by design)
REFUSES = {"lava": _lava_refuses}

BACKEND_NAMES = tuple(neuro.BACKENDS.names())
CASES = cases(ALL_KINDS, per_kind=2)
LAVA_TIME_LIMIT_S = 180


def _lava_missing() -> str | None:
    try:
        require_lava()
    except MissingDependencyError as exc:
        return str(exc)
    return None


LAVA_MISSING = _lava_missing()


@functools.cache
def _case(seed, kind):
    return random_case(seed, kind)


@functools.cache
def _reference(seed, kind):
    net, x, _ = _case(seed, kind)
    return neuro.run(net, x, backend="reference", record=list(net.populations))


@functools.cache
def _chunk_case(kind):
    """The first seed of ``kind`` with at least 3 steps: (seed, network, inputs, cut)."""
    for seed in range(100, 200):
        net, x, steps = _case(seed, kind)
        if steps >= 3:
            return seed, net, x, steps // 2 + (steps > 4)
    raise AssertionError(f"no {kind} case with 3 steps or more")  # pragma: no cover


@contextlib.contextmanager
def _time_limit(backend):
    """A hung Lava run (an exception inside a process model) becomes a failure."""
    if backend != "lava":
        yield
        return
    with time_limit(LAVA_TIME_LIMIT_S, "Lava run"):
        yield


def _run(backend, net, x, **kwargs):
    options = CONFORMANCE[backend][0]
    with _time_limit(backend):
        return neuro.run(net, x, backend=backend, **options, **kwargs)


def _needs(backend):
    if backend == "lava" and LAVA_MISSING:
        pytest.skip(f"backend 'lava' cannot run here: {LAVA_MISSING}")


def _refused(backend, net) -> list[str]:
    rule = REFUSES.get(backend)
    return [n for n, p in net.populations.items() if rule is not None and rule(p)]


def _assert_refused(backend, net, x, refused):
    """The backend refuses the network with a BackendError naming a population and itself."""
    with pytest.raises(BackendError) as info:
        _run(backend, net, x)
    first = str(info.value).splitlines()[0]
    assert f"'{backend}'" in first, first
    assert any(f"{name!r}" in first for name in refused), (refused, first)


def _close(got, expected, rtol, what):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (what, got.shape, expected.shape)
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    if rtol == 0:
        np.testing.assert_array_equal(got, expected, err_msg=what)
    else:
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * scale, err_msg=what)


def _assert_same_state(got, expected, rtol, pops):
    """Model state (float64 arrays) and recent outputs equal."""
    for name in pops:
        g, e = got[name], expected[name]
        assert sorted(g["state"]) == sorted(e["state"]), name
        for key in e["state"]:
            value = np.asarray(g["state"][key])
            assert value.dtype == np.float64, (name, key, value.dtype)
            _close(value, e["state"][key], rtol, f"{name} state {key}")
        assert len(g["history"]) == len(e["history"]), name
        for k, (hg, he) in enumerate(zip(g["history"], e["history"])):
            _close(hg, he, rtol, f"{name} history[{k}]")


def _integers(tree, where):
    """Every count in a part of ``Counts.to_dict()`` is an integer (names aside)."""
    for key, value in tree.items():
        if isinstance(value, str):
            continue
        if isinstance(value, dict):
            _integers(value, f"{where}.{key}")
        else:
            assert isinstance(value, (int, np.integer)), f"{where}.{key} == {value!r}"


def assert_same_counts(got, expected):
    """Every count of every population and projection equal, field by field."""
    g, e = got.to_dict(), expected.to_dict()
    for part in ("totals", "populations", "projections"):
        _integers(g[part], part)
    for part in ("populations", "projections"):
        assert sorted(g[part]) == sorted(e[part]), part
        for name, row in e[part].items():
            assert g[part][name] == row, f"{part[:-1]} {name!r}"
    assert g["totals"] == e["totals"]
    assert got == expected


# -- the registry ------------------------------------------------------------------------


def test_every_registered_backend_is_in_the_suite():
    """A new backend must state its options and tolerance here to be registered."""
    assert set(BACKEND_NAMES) == set(CONFORMANCE)
    assert set(REFUSES) <= set(BACKEND_NAMES)


# -- outputs, final state and counts equal the reference -------------------------------


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("seed, kind", CASES)
def test_same_outputs_state_and_counts_as_reference(seed, kind, backend):
    _needs(backend)
    net, x, _ = _case(seed, kind)
    refused = _refused(backend, net)
    if refused:
        _assert_refused(backend, net, x, refused)
        return
    pops = list(net.populations)
    ref = _reference(seed, kind)
    got = _run(backend, net, x, record=pops)
    rtol = CONFORMANCE[backend][1]
    assert layers_fire(net, got.recordings), f"{net.name}: a vacuous run"
    for name in pops:
        _close(got.recordings[name], ref.recordings[name], rtol, name)
    _close(got.outputs, ref.outputs, rtol, "outputs")
    _assert_same_state(got.final_state, ref.final_state, rtol, pops)
    assert_same_counts(got.counts, ref.counts)


# -- final_state round trip ------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_two_chunks_equal_one_run(kind, backend):
    """Cut inside the run: pending delayed events and model state carry across the cut,
    from the backend's own final state and from the reference backend's."""
    _needs(backend)
    seed, net, x, cut = _chunk_case(kind)
    refused = _refused(backend, net)
    if refused:
        _assert_refused(backend, net, x, refused)
        return
    pops = list(net.populations)
    rtol = CONFORMANCE[backend][1]
    whole = _run(backend, net, x, record=pops)
    first = _run(backend, net, x[:cut], record=pops)
    second = _run(backend, net, x[cut:], record=pops, initial_state=first.final_state)
    for name in pops:
        joined = np.concatenate([first.recordings[name], second.recordings[name]])
        _close(joined, whole.recordings[name], rtol, name)
    _assert_same_state(second.final_state, whole.final_state, rtol, pops)
    assert_same_counts(first.counts + second.counts, whole.counts)

    # the state is backend-neutral: continue a reference run on this backend
    ref_first = neuro.run(net, x[:cut], backend="reference")
    ref_whole = _reference(seed, kind)
    for name in pops:
        _close(whole.recordings[name], ref_whole.recordings[name], rtol, name)
    assert_same_counts(whole.counts, ref_whole.counts)
    moved = _run(backend, net, x[cut:], record=pops, initial_state=ref_first.final_state)
    for name in pops:
        _close(moved.recordings[name], ref_whole.recordings[name][cut:], rtol, name)
    assert_same_counts(ref_first.counts + moved.counts, ref_whole.counts)


# -- hand-worked cases: exact semantics, ties included ------------------------------------


def _single(model, x, shape=None):
    """``x`` (B, *in_shape) → one population ``odd`` of ``model`` (identity or routing)."""
    from neuro.models.maxpool import routing

    in_shape = x.shape[1:]
    shape = shape or in_shape
    net = neuro.Network(name=f"one {model.type}")
    net.add_population("x", in_shape, neuro.Input())
    net.add_population("odd", shape, model)
    if model.type == "maxpool":
        net.connect("x", "odd", routing(model))
    else:
        n_in = int(np.prod(in_shape))
        net.connect("x", "odd", neuro.Dense(np.eye(n_in)))
    return net


def _hand_cases():
    """(id, network, inputs, expected outputs of ``odd``) worked out by hand."""
    from neuro.models.kwta import KWTA
    from neuro.models.maxpool import MaxPool
    from neuro.models.sas import SAS

    row = np.array([[1.0, 3.0, 3.0, 3.0, 0.5, -2.0]])
    kwta = [
        ("kwta-index", KWTA(2), [0, 3, 3, 0, 0, 0]),  # exactly k: the lower index wins the tie
        ("kwta-keep", KWTA(2, ties="keep"), [0, 3, 3, 3, 0, 0]),  # every unit >= the k-th
        ("kwta-relu", KWTA(6, relu=True), [1, 3, 3, 3, 0.5, 0]),  # winners must be positive
        ("kwta-negative", KWTA(6), [1, 3, 3, 3, 0.5, -2.0]),  # negative winners send values
        # boost ranks only: unit 4 scores 0.5 * 10 = 5 and wins, sending 0.5
        ("kwta-boost", KWTA(1, boost=np.array([1, 1, 1, 1, 10, 1.0])), [0, 0, 0, 0, 0.5, 0]),
    ]
    out = [(name, _single(m, row), row, np.array([e], float)) for name, m, e in kwta]
    # SAS M = 2: positive part to slot 0, |negative part| to slot 1; zero sends nothing
    x = np.array([[1.5, -2.0, 0.0]])
    out.append(("sas2", _single(SAS(2), x, (6,)), x, np.array([[1.5, 0, 0, 2.0, 0, 0]])))
    # SAS M = 4: channels (0, 1) form a group, the slot is the sign pattern (+, -) -> 2,
    # (-, -) -> 3; unit (channel, slot) sends |x|
    x = np.array([[0.5, -1.0, -3.0, -4.0]])
    e = np.zeros((4, 4))
    e[0, 2], e[1, 2], e[2, 3], e[3, 3] = 0.5, 1.0, 3.0, 4.0
    out.append(("sas4", _single(SAS(4), x, (16,)), x, e.reshape(1, 16)))
    # FATReLU θ = 0.5 clipped at 1: min(x, 1) where x >= θ
    x = np.array([[-1.0, 0.25, 0.5, 0.75, 1.0, 4.0]])
    e = np.array([[0, 0, 0.5, 0.75, 1.0, 1.0]])
    out.append(("clip", _single(neuro.FATReLU(0.5, clip=1.0), x), x, e))
    # max pool 2x2, stride 2, on a signed 4x4 map: the window maxima, negative ones too
    x = np.array([[3, -1, -5, -6], [0, 2, -7, -2], [1, 1, 0, 0], [1, 4, 0, 2.0]])
    e = np.array([[[3.0, -2.0], [4.0, 2.0]]])
    pool = MaxPool((1, 4, 4), (2, 2), (2, 2))
    out.append(
        ("maxpool", _single(pool, x.reshape(1, 1, 4, 4), (1, 2, 2)), x.reshape(1, 1, 4, 4), e)
    )
    return out


HAND = {case[0]: case[1:] for case in _hand_cases()}


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("case", sorted(HAND))
def test_hand_worked_case(case, backend):
    """Each backend gives the worked-out outputs and the reference's counts, or refuses
    the model with a BackendError naming the population and the backend."""
    _needs(backend)
    net, x, expected = HAND[case]
    if _refused(backend, net):
        assert _refused(backend, net) == ["odd"]
        _assert_refused(backend, net, x, ["odd"])
        return
    got = _run(backend, net, x, record=["odd"])
    np.testing.assert_array_equal(got.recordings["odd"].reshape(expected.shape), expected)
    assert got.counts.populations["odd"].events == np.count_nonzero(expected)
    assert_same_counts(got.counts, neuro.run(net, x, backend="reference").counts)


# -- counts against independent closed forms ---------------------------------------------


@pytest.mark.parametrize("seed, kind", CASES)
def test_reference_counts_equal_closed_forms(seed, kind):
    """Synops of every projection outside pooling (non-zero input × non-zero weight
    pairs, computed from the recorded activity by sliding windows or masks) and the
    events of every population (non-zero outputs)."""
    net, x, steps = _case(seed, kind)
    ref = _reference(seed, kind)
    batch = x.shape[1]
    activity = {n: np.asarray(ref.recordings[n]).reshape(steps, batch, -1) for n in net.populations}
    synops = independent_projection_synops(net, activity, steps)
    checked = 0
    for name, p in net.projections.items():
        if p.post == POOL:  # pooling: its counting is not a synaptic operation
            continue
        assert ref.counts.projections[name].synops == synops[name], name
        checked += 1
    assert checked and sum(synops.values()) > 0
    for name in net.populations:
        assert ref.counts.populations[name].events == np.count_nonzero(activity[name]), name
