"""Models declare their ports (the unit of every entry) and their state fields, and the
backends, the mapper and the run state follow the declarations."""

import numpy as np
import pytest

import neuro
import neuro.ir
from neuro.backends.cpu.neurons import cpu_kernel
from neuro.backends.state import check_initial_state, initial_model_state
from neuro.exceptions import InputError, ValidationError
from neuro.hardware.connectivity import unit_synapses
from neuro.models import MODELS
from neuro.models.base import StateField
from neuro.models.egru import EGRU
from neuro.models.kwta import KWTA
from neuro.models.maxpool import MaxPool, routing
from neuro.models.sas import SAS

# one valid (model, population shape) per registered non-input model type
INSTANCES = {
    "fatrelu": (lambda: neuro.FATReLU(0.1), (4, 3, 3)),
    "readout": (lambda: neuro.Readout(accumulate=True), (5,)),
    "egru": (lambda: EGRU(np.full(6, 0.2)), (6,)),
    "kwta": (lambda: KWTA(2, local=True, channels=4), (4, 2, 3)),
    "sas": (lambda: SAS(4, channels=4), (16, 2, 3)),
    "maxpool": (lambda: MaxPool((2, 5, 4), (2, 2), (2, 1), (1, 0)), None),
}


def _instance(kind):
    make, shape = INSTANCES[kind]
    model = make()
    if shape is None:
        shape = model.out_shape()
    model.validate("p", shape)
    return model, shape


def test_every_registered_model_is_covered():
    kinds = {n for n in MODELS.names() if not MODELS.get(n).is_input}
    assert kinds == set(INSTANCES)


@pytest.mark.parametrize("kind", sorted(INSTANCES))
def test_declared_ports_cover_every_entry_with_a_unit(kind):
    model, shape = _instance(kind)
    size = int(np.prod(shape))
    specs = model.port_specs()
    assert [p.name for p in specs] == list(model.ports(size))
    for spec in specs:
        assert spec.doc
        units, parts = model.port_entries(spec.name, size)
        assert units.shape == parts.shape == (model.ports(size)[spec.name],)
        assert units.dtype == np.int64
        assert units.min() >= 0 and units.max() < size
        np.testing.assert_array_equal(model.port_units(spec.name, size), units)
    with pytest.raises(ValidationError, match="no port 'nope'"):
        model.port_entries("nope", size)


@pytest.mark.parametrize("kind", sorted(INSTANCES))
def test_init_state_is_derived_from_the_declared_fields(kind):
    model, shape = _instance(kind)
    size = int(np.prod(shape))
    fields = model.state_fields()
    state = model.init_state(size, 3)
    assert list(state) == [f.name for f in fields]
    for f in fields:
        assert isinstance(f, StateField) and f.doc
        assert state[f.name].shape == f.shape(size, 3) == (3, size, *f.per_unit_shape)
        assert state[f.name].dtype == np.dtype(f.dtype)
        assert np.all(state[f.name] == f.initial)


def test_declared_state_of_the_models():
    assert [f.name for f in EGRU(np.ones(3)).state_fields()] == ["c"]
    assert [f.name for f in neuro.Readout(accumulate=True).state_fields()] == ["v"]
    assert neuro.Readout().state_fields() == ()
    assert neuro.FATReLU().state_fields() == ()


def test_egru_entries_are_gate_blocks_of_one_entry_per_unit():
    h = 5
    units, gates = EGRU(np.ones(h)).port_entries("recurrent", h)
    j = np.arange(3 * h)
    np.testing.assert_array_equal(units, j % h)
    np.testing.assert_array_equal(gates, j // h)


def test_fatrelu_entries_are_the_units():
    units, parts = neuro.FATReLU().port_entries("input", 7)
    np.testing.assert_array_equal(units, np.arange(7))
    np.testing.assert_array_equal(parts, 0)


def test_maxpool_slot_belongs_to_the_window_whose_tap_it_receives():
    model, shape = _instance("maxpool")
    size = int(np.prod(shape))
    units, taps = model.port_entries("input", size)
    windows = model.windows()  # (size, K): input unit of every tap
    op = routing(model)
    for i in range(op.n_pre):  # every routed input reaches the slots of windows holding it
        slots = op.indices[op.indptr[i] : op.indptr[i + 1]]
        np.testing.assert_array_equal(windows[units[slots], taps[slots]], i)


def test_mapper_stores_maxpool_synapses_on_the_window_unit():
    model, shape = _instance("maxpool")
    net = neuro.Network()
    net.add_population("x", model.in_shape, neuro.Input())
    net.add_population("pool", shape, model)
    net.connect("x", "pool", routing(model))
    syn = unit_synapses(net.projections[next(iter(net.projections))], net.populations["pool"])
    # a window unit stores one synapse per tap inside the input
    np.testing.assert_array_equal(np.asarray(syn.sum(axis=0)).ravel(), model.valid_taps().sum(1))
    windows = model.windows()
    rows, cols = syn.nonzero()
    assert all(r in windows[c] for r, c in zip(rows, cols))


@pytest.mark.parametrize(
    "m, channels, shape", [(2, None, (6,)), (4, 4, (16, 2, 3)), (2, 3, (6, 4))]
)
def test_sas_input_belongs_to_the_unit_of_its_slot_zero(m, channels, shape):
    model = SAS(m, channels=channels)
    size = int(np.prod(shape))
    positions = int(np.prod(shape[1:]))
    width = size // m
    units, _ = model.port_entries("input", size)
    rng = np.random.default_rng(0)
    for j in range(width):
        x = np.zeros((1, width))
        x[0, j] = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 2)
        out, _ = model.step({}, {"input": x})
        (sent,) = np.flatnonzero(out[0])
        offset = sent - units[j]
        assert offset % positions == 0 and 0 <= offset // positions < m


def test_initial_state_is_checked_and_loaded_by_the_declaration():
    net = neuro.Network()
    net.add_population("x", (3,), neuro.Input())
    net.add_population("e", (3,), EGRU(np.full(3, 0.1)))
    net.connect("x", "e", neuro.Dense(np.ones((3, 9))), port="input")
    good = {"e": {"state": {"c": np.ones((2, 3), np.float32)}}}
    check_initial_state(net, 2, good)
    loaded = initial_model_state(net.populations["e"], 2, good["e"]["state"])
    assert loaded["c"].dtype == np.float64 and np.all(loaded["c"] == 1)
    np.testing.assert_array_equal(initial_model_state(net.populations["e"], 2, None)["c"], 0)
    with pytest.raises(InputError, match=r"keeps \['c'\]"):
        check_initial_state(net, 2, {"e": {"state": {"h": np.ones((2, 3))}}})
    with pytest.raises(InputError, match=r"must be \(2, 3\)"):
        check_initial_state(net, 2, {"e": {"state": {"c": np.ones((3, 3))}}})


@pytest.mark.parametrize("kind", ["egru", "readout"])
def test_cpu_kernel_keeps_declared_state_in_the_run_dtype(kind):
    model, shape = _instance(kind)
    pop = neuro.ir.Population("p", shape, model)
    kernel = cpu_kernel(model.type)(pop, 2, np.float32)
    (field,) = model.state_fields()
    assert getattr(kernel, field.name).dtype == np.float32
    saved = {field.name: np.arange(2 * pop.size, dtype=np.float64).reshape(2, pop.size)}
    kernel.set_state(saved)
    state = kernel.get_state()
    assert state[field.name].dtype == np.float64
    np.testing.assert_array_equal(state[field.name], saved[field.name])
    state[field.name][:] = -1  # a copy: the kernel's state is unchanged
    assert getattr(kernel, field.name).min() >= 0
