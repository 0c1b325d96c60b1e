"""HDF5 round trips are exact; bad files raise FileFormatError with a clear reason."""

import h5py
import numpy as np
import pytest
from netgen import KINDS, cases, random_case

import neuro
from neuro import Conv2d, Dense, FATReLU, Input, Network, Readout, Sparse, TokenInput
from neuro.exceptions import FileFormatError


def every_kind():
    rng = np.random.default_rng(3)
    net = Network(name="all kinds", metadata={"source": "test", "encoding": "dense"})
    net.add_population("img", (2, 5, 5), Input())
    net.add_population("tok", (7,), TokenInput())
    conv = Conv2d(rng.normal(size=(4, 1, 3, 3)), (2, 5, 5), stride=(2, 1), padding=(1, 0), groups=2)
    net.add_population("c", conv.out_shape, FATReLU(np.array([0.1, 0.0, 0.2, 0.3])))
    net.add_population("h", (6,), FATReLU(0.05))
    net.add_population("y", (3,), Readout(accumulate=True))
    net.connect("img", "c", conv, bias=rng.normal(size=4))
    n_c = int(np.prod(conv.out_shape))
    w = rng.normal(size=(n_c, 6)) * (rng.random((n_c, 6)) < 0.3)
    net.connect("c", "h", Sparse.from_matrix(w))
    net.connect("tok", "h", Dense(rng.normal(size=(7, 6))), name="embed")
    net.connect("h", "y", Dense(rng.normal(size=(6, 3)).astype(np.float32)), bias=np.ones(3))
    net.connect("y", "h", Dense(rng.normal(size=(3, 6))), delay=2, name="feedback")
    net.outputs = ["y", "h"]
    return net


def test_round_trip_is_exact(tmp_path):
    net = every_kind()
    path = neuro.save(net, tmp_path / "net.h5")
    back = neuro.load(path)
    assert back.name == net.name and back.metadata == net.metadata
    assert back.outputs == net.outputs
    assert list(back.populations) == list(net.populations)
    for name, pop in net.populations.items():
        other = back.populations[name]
        assert other.shape == pop.shape and type(other.model) is type(pop.model)
        for key, value in pop.model.to_dict().items():
            np.testing.assert_array_equal(other.model.to_dict()[key], value)
    for name, proj in net.projections.items():
        other = back.projections[name]
        assert (other.pre, other.post, other.port, other.delay) == (
            proj.pre,
            proj.post,
            proj.port,
            proj.delay,
        )
        for key, value in proj.weights.to_dict().items():
            got = other.weights.to_dict()[key]
            np.testing.assert_array_equal(got, value)
            if isinstance(value, np.ndarray):
                assert got.dtype == value.dtype
        np.testing.assert_array_equal(other.bias, proj.bias)
    rng = np.random.default_rng(0)
    inputs = {"img": rng.normal(size=(3, 2, 2, 5, 5)), "tok": rng.integers(0, 7, size=(3, 2))}
    a = neuro.run(net, inputs, dtype="float64")
    b = neuro.run(back, inputs, dtype="float64")
    for name in net.outputs:
        np.testing.assert_array_equal(a.outputs[name], b.outputs[name])
    assert a.counts == b.counts


@pytest.mark.parametrize("seed, kind", cases(KINDS, per_kind=3))
def test_random_networks_round_trip(tmp_path, seed, kind):
    net, x, _ = random_case(seed, kind)
    back = neuro.load(neuro.save(net, tmp_path / f"{seed}.h5"))
    pops = list(net.populations)
    a, b = neuro.run(net, x, record=pops), neuro.run(back, x, record=pops)
    for name in pops:
        np.testing.assert_array_equal(b.recordings[name], a.recordings[name], err_msg=name)
    assert a.counts == b.counts


def test_missing_file(tmp_path):
    with pytest.raises(FileFormatError, match="no such file"):
        neuro.load(tmp_path / "absent.h5")


def test_truncated_file(tmp_path):
    path = neuro.save(every_kind(), tmp_path / "net.h5")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(FileFormatError, match="truncated or corrupt|damaged"):
        neuro.load(path)


def test_not_hdf5(tmp_path):
    path = tmp_path / "net.h5"
    path.write_text("hello, I am a text file")
    with pytest.raises(FileFormatError, match="not a readable HDF5 file"):
        neuro.load(path)


def test_foreign_hdf5(tmp_path):
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("weights", data=np.ones(3))
    with pytest.raises(FileFormatError, match="not a neuro network"):
        neuro.load(path)


def test_wrong_version(tmp_path):
    path = neuro.save(every_kind(), tmp_path / "net.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = 99
    with pytest.raises(FileFormatError, match="schema version 99"):
        neuro.load(path)


def test_damaged_inside(tmp_path):
    path = neuro.save(every_kind(), tmp_path / "net.h5")
    with h5py.File(path, "r+") as f:
        del f["projections/000000/weights/weight"]
    with pytest.raises(FileFormatError, match="damaged network file"):
        neuro.load(path)


def test_failed_write_leaves_no_file(tmp_path):
    net = every_kind()
    net.projections["embed"].weights = Dense(np.full((7, 6), np.nan))
    with pytest.raises(neuro.NeuroError):
        neuro.save(net, tmp_path / "net.h5")
    assert list(tmp_path.iterdir()) == []


def test_overwrite_is_atomic(tmp_path):
    path = neuro.save(every_kind(), tmp_path / "net.h5")
    before = path.read_bytes()
    net = every_kind()
    net.projections["embed"].weights = Dense(np.full((7, 6), np.nan))
    with pytest.raises(neuro.NeuroError):
        neuro.save(net, path)
    assert path.read_bytes() == before
