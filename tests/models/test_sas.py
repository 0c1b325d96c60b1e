"""SAS 1:M: torch conversion, the slot rule, counts equal to the narrow network, files."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

import converters
import neuro
from neuro.models.sas import SAS
from neuro.torch.sas import SAS as TorchSAS


def test_m2_rule_positive_to_slot0_negative_magnitude_to_slot1():
    x = torch.tensor([[1.5, -2.0, 0.0]])
    out = TorchSAS(2)(x)
    np.testing.assert_array_equal(out.numpy(), [[1.5, 0, 0, 2.0, 0, 0]])
    # the same rule on every backend: test_conformance.py (hand-worked case "sas2")
    net = neuro.Network()
    net.add_population("x", (3,), neuro.Input())
    net.add_population("s", (6,), SAS(2))
    net.connect("x", "s", neuro.Dense(np.eye(3)))
    res = neuro.run(net, x.numpy().astype(np.float64), backend="reference")
    np.testing.assert_array_equal(res.outputs, out.numpy())
    assert res.counts.populations["s"].events == 2  # the zero input sends nothing


def test_m4_slot_from_sign_pattern_of_channel_pairs():
    # channels (0, 1) form a group: signs (+, -) -> slot 0b10 = 2; (-, -) -> slot 3
    x = torch.tensor([[0.5, -1.0, -3.0, -4.0]])
    out = TorchSAS(4)(x).numpy().reshape(4, 4)
    expected = np.zeros((4, 4))
    expected[0, 2], expected[1, 2], expected[2, 3], expected[3, 3] = 0.5, 1.0, 3.0, 4.0
    np.testing.assert_array_equal(out, expected)


def _check(model, x):
    with torch.no_grad():
        expected32 = model(torch.from_numpy(x)).double().numpy()
        # the same model in float64: the float64 backends must agree to rounding
        expected = copy.deepcopy(model).double()(torch.from_numpy(x).double()).numpy()
    net = converters.convert(model, x)
    out = neuro.run(net, x, backend="reference").outputs  # the others: test_conformance.py
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out, expected32, atol=1e-5)
    return net


@pytest.mark.parametrize("m", [2, 4])
def test_sas_networks_match_torch(m):
    torch.manual_seed(m)
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3),
        nn.BatchNorm2d(6),
        TorchSAS(m),
        nn.Conv2d(6 * m, 4, 3, padding=1),
        TorchSAS(m),
        nn.Flatten(),
        nn.Linear(4 * m * 4 * 4, 10),
        TorchSAS(2),
        nn.Linear(20, 3),
    ).eval()
    x = np.random.default_rng(m).normal(size=(4, 3, 6, 6)).astype(np.float32)
    net = _check(model, x)
    sas = [p for p in net.populations.values() if p.model.type == "sas"]
    assert [p.shape for p in sas] == [(6 * m, 4, 4), (4 * m, 4, 4), (20,)]


class _SASLinearShaped(nn.Module):
    """Attributes of the authors' SASLinear: projection and wide weight in one module."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.sparse_m = 2
        self.weight = nn.Parameter(torch.randn(n_out, 2 * n_in) * 0.3)
        self.bias = nn.Parameter(torch.randn(n_out))

    def SAS_proj(self, x):  # noqa: N802 - the reference code's name
        pos = (x > 0).to(x.dtype)
        return torch.stack([x.abs() * pos, x.abs() * (1 - pos)], dim=2).flatten(1)

    def forward(self, x):
        return nn.functional.linear(self.SAS_proj(x), self.weight, self.bias)


def test_sas_layer_recognised_by_attributes():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(8, 12), _SASLinearShaped(12, 5)).eval()
    x = np.random.default_rng(5).normal(size=(6, 8)).astype(np.float32)
    net = _check(model, x)
    assert any(p.model.type == "sas" and p.shape == (24,) for p in net.populations.values())


def test_synops_equal_narrow_dense_network_memory_times_m():
    rng = np.random.default_rng(6)
    n_in, n_hidden, n_out, m, batch = 16, 12, 7, 2, 5
    w1 = rng.normal(size=(n_in, n_hidden))
    narrow = neuro.Network()
    narrow.add_population("x", (n_in,), neuro.Input())
    narrow.add_population("h", (n_hidden,), neuro.Readout())
    narrow.add_population("y", (n_out,), neuro.Readout())
    narrow.connect("x", "h", neuro.Dense(w1))
    narrow.connect("h", "y", neuro.Dense(rng.normal(size=(n_hidden, n_out))))
    wide = neuro.Network()
    wide.add_population("x", (n_in,), neuro.Input())
    wide.add_population("h", (n_hidden * m,), SAS(m))
    wide.add_population("y", (n_out,), neuro.Readout())
    wide.connect("x", "h", neuro.Dense(w1))
    wide.connect("h", "y", neuro.Dense(rng.normal(size=(n_hidden * m, n_out))))
    x = rng.normal(size=(batch, n_in))
    a = neuro.run(narrow, x, backend="cpu").counts.projections["h->y"]
    b = neuro.run(wide, x, backend="cpu").counts.projections["h->y"]
    assert b.synops == a.synops == batch * n_hidden * n_out
    assert wide.projections["h->y"].weights.nnz() == m * narrow.projections["h->y"].weights.nnz()


def test_hdf5_round_trip(tmp_path):
    net = neuro.Network()
    net.add_population("x", (4, 3, 3), neuro.Input())
    net.add_population("s", (16, 3, 3), SAS(4, channels=4))
    net.connect("x", "s", neuro.Dense(np.eye(36)))
    back = neuro.load(neuro.save(net, tmp_path / "sas.h5"))
    model = back.populations["s"].model
    assert (model.type, model.m, model.channels) == ("sas", 4, 4)
    x = np.random.default_rng(7).normal(size=(2, 4, 3, 3))
    np.testing.assert_array_equal(
        neuro.run(back, x, backend="cpu", dtype="float64").outputs,
        neuro.run(net, x, backend="reference").outputs,
    )


def test_invalid_m_and_shape():
    with pytest.raises(neuro.exceptions.ParameterError, match="m == 3"):
        SAS(3)
    with pytest.raises(neuro.exceptions.ShapeError, match="multiple of log2"):
        SAS(8).validate("s", (16,))  # C = 2 channels, groups of 3
