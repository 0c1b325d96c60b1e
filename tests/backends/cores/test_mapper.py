"""The mapper: splitting within every per-core limit, capacity errors, determinism, JSON."""

import json

import numpy as np
import pytest
from cores_helpers import KINDS, cases, random_case

import neuro
from neuro.exceptions import CapacityError
from neuro.hardware import load_profile
from neuro.hardware.mapper import Mapping, map_network


def _chain(n_in, n_out, weights=None):
    net = neuro.Network(name="chain")
    net.add_population("x", (n_in,), neuro.Input())
    net.add_population("layer", (n_out,), neuro.FATReLU(0.0))
    w = np.ones((n_in, n_out)) if weights is None else weights
    net.connect("x", "layer", neuro.Dense(w))
    return net


def test_large_layer_is_split_by_units_per_core():
    m = map_network(_chain(10, 2500), "loihi")  # 1024 units per core
    np.testing.assert_array_equal(m.populations["layer"], [0, 1024, 2048, 2500])
    assert list(m.cores_of("layer")) == [1, 2, 3]
    core = m.core_of("layer")
    assert np.all(np.diff(core) >= 0) and core[0] == 1 and core[-1] == 3
    assert m.cores["units"].tolist() == [10, 1024, 1024, 452]


def test_split_by_synaptic_memory_with_word_padding():
    """100 inputs fully connected; 8-bit weights + 10 index bits = 18 bits per synapse.

    A core with k units stores 100 synapse lists (one per input axon) of k synapses, each
    padded to 64-bit words: 100 · ceil(18 k / 64) · 64 bits.  With 64 000 bits per core,
    ceil(18 k / 64) <= 10, i.e. k <= 35: the 100 units take cores of 35, 35 and 30.
    """
    profile = load_profile("generic").with_values(
        synaptic_memory_bits_per_core=64_000, memory_word_bits=64, index_bits_per_synapse=10,
        synapse_overhead_bits=0,
    )  # fmt: skip
    m = map_network(_chain(100, 100), profile, weight_bits=8)
    np.testing.assert_array_equal(m.populations["layer"], [0, 35, 70, 100])
    layer_cores = list(m.cores_of("layer"))
    assert m.cores["memory_bits"][layer_cores].tolist() == [
        100 * 10 * 64,
        100 * 10 * 64,
        100 * 9 * 64,  # ceil(18 * 30 / 64) = 9 words
    ]
    assert m.cores["synapses"][layer_cores].tolist() == [3500, 3500, 3000]
    assert m.cores["fan_in_axons"][layer_cores].tolist() == [100, 100, 100]
    assert m.utilisation()["memory_bits"].max() <= 1.0


def test_split_by_fan_out_axons():
    """10 source units each reach 40 units held 4 per core → 10 destination cores each;
    with 25 fan-out axons per core a source core holds at most 2 units."""
    profile = load_profile("generic").with_values(units_per_core=4, max_fan_out_axons_per_core=25)
    m = map_network(_chain(10, 40), profile)
    np.testing.assert_array_equal(m.populations["x"], [0, 2, 4, 6, 8, 10])
    assert m.cores["fan_out_axons"][:5].tolist() == [20] * 5
    assert len(m.cores_of("layer")) == 10


def test_unit_whose_fan_in_exceeds_memory_raises_capacity_error():
    profile = load_profile("loihi").with_values(synaptic_memory_bits_per_core=1000)
    # 9-bit weights + 10 index bits: 60 synapse lists of 1 synapse = 60 words of 64 bits
    with pytest.raises(CapacityError) as err:
        map_network(_chain(60, 3), profile)
    msg = str(err.value)
    assert "'layer'" in msg and "synaptic memory bits" in msg
    assert "3840" in msg and "1000" in msg


def test_unit_whose_fan_in_exceeds_axons_raises_capacity_error():
    with pytest.raises(CapacityError, match=r"'layer'.*5000 fan-in axons.*4096"):
        map_network(_chain(5000, 2), "loihi")


def test_chip_limit_names_the_layer():
    # 300 000 units need 293 cores of 1024 units: more than one chip of 128 cores
    net = _chain(4, 300_000, weights=np.zeros((4, 300_000)))
    assert map_network(net, "loihi").n_chips == 3
    with pytest.raises(CapacityError, match=r"'layer'.*1 chip\(s\) hold 128 cores"):
        map_network(net, "loihi", max_chips=1)


@pytest.mark.parametrize("seed, kind", cases(KINDS, per_kind=2))
@pytest.mark.parametrize("hardware, options", [("loihi", {}), ("truenorth", {"weight_bits": 1})])
@pytest.mark.parametrize("max_units", [None, 3])
def test_random_networks_fit_within_limits_and_store_every_synapse(
    seed, kind, hardware, options, max_units
):
    """Every small random network maps (a mapper that raises fails), split or not."""
    net, _, _ = random_case(seed, kind)
    profile = load_profile(hardware)
    m = map_network(net, profile, max_units_per_core=max_units, **options)
    stored = sum(int(p.weights.fanout_nnz().sum()) for p in net.projections.values())
    assert m.cores["synapses"].sum() == stored
    for col, cap in m.capacity().items():
        assert m.cores[col].max() <= cap, col
    for pop in net.populations.values():
        assert m.core_of(pop.name).size == pop.size
    if max_units is not None:
        assert m.cores["units"].max() <= max_units
        assert m.n_cores > len(net.populations)  # populations were split


def test_deterministic_and_json_round_trip():
    net, _, _ = random_case(5, "cnn")
    a, b = map_network(net, "loihi2"), map_network(net, "loihi2")
    assert a.to_dict() == b.to_dict()
    text = json.dumps(a.to_dict())
    back = Mapping.from_dict(json.loads(text))
    assert back.to_dict() == a.to_dict()
    for name in net.populations:
        np.testing.assert_array_equal(back.core_of(name), a.core_of(name))
    assert "loihi2" in a.table()


def test_max_units_per_core_spreads_layers_without_changing_capacity():
    m = map_network(_chain(10, 100), "loihi", max_units_per_core=30)
    np.testing.assert_array_equal(m.populations["layer"], [0, 30, 60, 90, 100])
    assert m.capacity()["units"] == 1024


def test_neuron_count_placement_ignores_memory_and_axons():
    """SANA-FE's packing: only units_per_core; the table still reports what cores need."""
    net = neuro.Network()
    net.add_population("x", (4100,), neuro.Input())
    net.add_population("wide", (1100,), neuro.Readout())
    net.connect("x", "wide", neuro.Dense(np.ones((4100, 1100))))
    with pytest.raises(CapacityError):
        map_network(net, "loihi")  # one unit's fan-in exceeds a core's axons
    m = map_network(net, "loihi", placement="neurons")
    assert m.placement == "neurons"
    assert [int(u) for u in m.cores["units"]] == [1024] * 4 + [4] + [1024, 76]
    assert m.cores["fan_in_axons"].max() > load_profile("loihi").max_fan_in_axons_per_core
    again = Mapping.from_dict(json.loads(json.dumps(m.to_dict())))
    assert again.placement == "neurons" and again.zero_weights == "skip"


def test_zero_weights_store_every_connection():
    w = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]])
    net = neuro.Network()
    net.add_population("x", (2,), neuro.Input())
    net.add_population("y", (3,), neuro.Readout())
    net.connect("x", "y", neuro.Dense(w))
    skip = map_network(net, "loihi")
    store = map_network(net, "loihi", zero_weights="store")
    assert int(skip.cores["synapses"].sum()) == 2
    assert int(store.cores["synapses"].sum()) == 6
    assert next(iter(store.nonzero_synapses.values())).sum() == 2
    assert skip.nonzero_synapses is None
    conv = neuro.Conv2d(np.array([[[[0.0, 1.0], [1.0, 0.0]]]]), in_shape=(1, 3, 3))
    from neuro.hardware.connectivity import synapse_matrix

    assert synapse_matrix(conv).sum() == conv.fanout_nnz().sum()
    assert synapse_matrix(conv, zeros=True).sum() == conv.fanout_total().sum()
