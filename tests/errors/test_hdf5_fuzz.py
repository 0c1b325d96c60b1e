"""The HDF5 loader on damaged files: a typed FileFormatError or the exact network, never a
crash, a raw h5py/OSError or a silently different network."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neuro
from neuro import Conv2d, Dense, FATReLU, Input, Network, Readout, Sparse, TokenInput
from neuro.exceptions import FileFormatError


def network():
    rng = np.random.default_rng(5)
    net = Network(name="fuzz", metadata={"source": "test"})
    net.add_population("img", (2, 4, 4), Input())
    net.add_population("tok", (5,), TokenInput())
    conv = Conv2d(rng.normal(size=(2, 2, 3, 3)), (2, 4, 4), padding=1)
    net.add_population("c", conv.out_shape, FATReLU(np.array([0.1, 0.2])))
    net.add_population("h", (6,), FATReLU(0.05))
    net.add_population("y", (3,), Readout(accumulate=True))
    net.connect("img", "c", conv, bias=rng.normal(size=2))
    w = rng.normal(size=(32, 6)) * (rng.random((32, 6)) < 0.3)
    net.connect("c", "h", Sparse.from_matrix(w))
    net.connect("tok", "h", Dense(rng.normal(size=(5, 6))), name="embed")
    net.connect("h", "y", Dense(rng.normal(size=(6, 3))), bias=np.ones(3))
    net.connect("y", "h", Dense(rng.normal(size=(3, 6))), delay=2, name="feedback")
    return net


def same(a: Network, b: Network) -> bool:
    if (a.name, a.outputs, dict(a.metadata)) != (b.name, b.outputs, dict(b.metadata)):
        return False
    if list(a.populations) != list(b.populations) or list(a.projections) != list(b.projections):
        return False
    for name, pop in a.populations.items():
        other = b.populations[name]
        if other.shape != pop.shape or type(other.model) is not type(pop.model):
            return False
        for key, value in pop.model.to_dict().items():
            if not np.array_equal(other.model.to_dict()[key], value):
                return False
    for name, p in a.projections.items():
        q = b.projections[name]
        if (p.pre, p.post, p.port, p.delay, p.weights.type) != (
            q.pre,
            q.post,
            q.port,
            q.delay,
            q.weights.type,
        ):
            return False
        for key, value in p.weights.to_dict().items():
            if not np.array_equal(q.weights.to_dict()[key], value):
                return False
        if (p.bias is None) != (q.bias is None) or (
            p.bias is not None and not np.array_equal(p.bias, q.bias)
        ):
            return False
    return True


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    net = network()
    path = neuro.save(net, tmp_path_factory.mktemp("fuzz") / "net.h5")
    return net, path.read_bytes()


def check(net, data, path):
    path.write_bytes(data)
    try:
        back = neuro.load(path)
    except FileFormatError as exc:
        assert str(exc).startswith(str(path)), str(exc)
        return "error"
    assert same(net, back), "a damaged file loaded as a different network"
    return "exact"


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(cut=st.integers(min_value=0))
def test_truncation(original, tmp_path, cut):
    net, data = original
    assert check(net, data[: cut % len(data)], tmp_path / "t.h5") == "error"


@FUZZ
@given(
    flips=st.lists(
        st.tuples(st.integers(min_value=0), st.integers(min_value=1, max_value=255)),
        min_size=1,
        max_size=4,
    )
)
def test_byte_flips(original, tmp_path, flips):
    net, data = original
    damaged = bytearray(data)
    for pos, mask in flips:
        damaged[pos % len(data)] ^= mask
    check(net, bytes(damaged), tmp_path / "f.h5")


def test_header_and_superblock_bytes_flipped(original, tmp_path):
    """Every byte of the checksum header, then every 32nd of the HDF5 superblock, root
    group and attributes, flipped in turn."""
    net, data = original
    outcomes = {"error": 0, "exact": 0}
    positions = [*range(0, 160), *range(160, 512, 16), *range(512, min(len(data), 2560), 32)]
    for pos in positions:
        damaged = bytearray(data)
        damaged[pos] ^= 0xFF
        outcomes[check(net, bytes(damaged), tmp_path / "h.h5")] += 1
    assert outcomes["error"] > 0
