"""k-WTA populations: torch conversion, tie and boost semantics, counts, files."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

import converters
import neuro
from neuro.exceptions import ParameterError
from neuro.models.kwta import KWTA
from neuro.torch.kwinners import KWinners, KWinners2d
from neuro.torch.sparse_weights import SparseWeights


def _trained(model, shape, steps=3):
    """A few training-mode passes so that duty cycles (hence boosts) differ per unit."""
    model.train()
    for _ in range(steps):
        model(torch.randn(32, *shape))
    return model.eval()


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


@pytest.mark.parametrize("break_ties", [False, True])
@pytest.mark.parametrize("local", [False, True])
def test_conv_kwinners_network_matches_torch(local, break_ties):
    torch.manual_seed(1)
    model = nn.Sequential(
        SparseWeights(nn.Conv2d(2, 16, 3), 0.6, seed=0),
        nn.BatchNorm2d(16),
        KWinners2d(16, 0.2, k_inference_factor=1.5, local=local, break_ties=break_ties),
        nn.Flatten(),
        SparseWeights(nn.Linear(16 * 6 * 6, 40), 0.9, seed=1),
        KWinners(40, 0.1, boost_strength=2.0, break_ties=break_ties, relu=True),
        nn.Linear(40, 7),
    )
    _trained(model, (2, 8, 8))
    x = np.random.default_rng(0).normal(size=(6, 2, 8, 8)).astype(np.float32)
    net = _check(model, x)
    kinds = [p.model.type for p in net.populations.values()]
    assert kinds.count("kwta") == 2
    h = next(p for p in net.populations.values() if p.shape == (40,))
    assert h.model.k == int(round(40 * 0.1) * 1.5) == 6
    assert h.model.boost is not None and h.model.relu


class _NupicShapedKWinners(nn.Module):
    """Attributes and eval-mode forward of nupic.torch's KWinners (break_ties=False)."""

    def __init__(self, n, percent_on, k_inference_factor, boost_strength):
        super().__init__()
        self.n = n
        self.percent_on = percent_on
        self.k_inference_factor = k_inference_factor
        self.k = int(round(n * percent_on))
        self.k_inference = int(self.k * k_inference_factor)
        self.break_ties = False
        self.relu = False
        self.register_buffer("boost_strength", torch.tensor(boost_strength))
        self.register_buffer("duty_cycle", torch.rand(n))

    def forward(self, x):
        boosted = x.detach() * torch.exp(-self.boost_strength * self.duty_cycle)
        kth = boosted.kthvalue(x.shape[1] - self.k_inference + 1, dim=1, keepdim=True)[0]
        return x.masked_fill(boosted < kth, 0)


def test_module_recognised_by_attributes():
    torch.manual_seed(2)
    model = nn.Sequential(
        nn.Linear(12, 30), _NupicShapedKWinners(30, 0.2, 1.5, 1.0), nn.Linear(30, 4)
    ).eval()
    x = np.random.default_rng(1).normal(size=(8, 12)).astype(np.float32)
    net = _check(model, x)
    kw = [p for p in net.populations.values() if p.model.type == "kwta"]
    assert len(kw) == 1 and kw[0].model.k == 9 and kw[0].model.ties == "keep"


def _single(model, size, x):
    net = neuro.Network()
    net.add_population("x", (size,), neuro.Input())
    net.add_population("k", (size,), model)
    net.connect("x", "k", neuro.Dense(np.eye(size)))
    return net


def test_local_winners_per_position_and_counts():
    rng = np.random.default_rng(3)
    c, h, w, k = 5, 3, 4, 2
    x = rng.normal(size=(4, c, h, w))
    net = neuro.Network()
    net.add_population("x", (c, h, w), neuro.Input())
    net.add_population("k", (c, h, w), KWTA(k, local=True, channels=c))
    net.add_population("y", (3,), neuro.Readout())
    net.connect("x", "k", neuro.Dense(np.eye(c * h * w)))
    weight = rng.normal(size=(c * h * w, 3))
    weight[::2] = 0
    net.connect("k", "y", neuro.Dense(weight))
    order = np.argsort(-x, axis=1, kind="stable")[:, :k]  # (B, k, h, w)
    expected = np.zeros_like(x)
    np.put_along_axis(expected, order, np.take_along_axis(x, order, axis=1), axis=1)
    active = expected.reshape(4, -1) != 0
    res = neuro.run(net, x, backend="reference", record=["k"])
    np.testing.assert_allclose(res.recordings["k"], expected)
    pc = res.counts.projections["k->y"]
    assert pc.events_in == 4 * k * h * w
    assert pc.synops == int((active * (weight != 0).sum(1)).sum())


def test_float32_cpu_matches_reference_counts():
    rng = np.random.default_rng(4)
    net = neuro.Network()
    net.add_population("x", (50,), neuro.Input())
    net.add_population("k", (80,), KWTA(8))
    net.add_population("y", (5,), neuro.Readout())
    net.connect("x", "k", neuro.Dense(rng.normal(size=(50, 80))))
    net.connect("k", "y", neuro.Dense(rng.normal(size=(80, 5))))
    x = rng.normal(size=(16, 50))
    ref = neuro.run(net, x, backend="reference")
    cpu = neuro.run(net, x, backend="cpu")
    np.testing.assert_allclose(cpu.outputs, ref.outputs, rtol=1e-4, atol=1e-4)
    assert cpu.counts == ref.counts
    assert cpu.counts.populations["k"].events == 16 * 8


def test_hdf5_round_trip(tmp_path):
    net = neuro.Network()
    net.add_population("x", (3, 2, 2), neuro.Input())
    boost = np.array([0.5, 1.0, 2.0])
    net.add_population("k", (3, 2, 2), KWTA(1, local=True, channels=3, boost=boost))
    net.add_population("g", (12,), KWTA(4, ties="keep", relu=True))
    net.connect("x", "k", neuro.Dense(np.eye(12)))
    net.connect("k", "g", neuro.Dense(np.eye(12)))
    back = neuro.load(neuro.save(net, tmp_path / "kwta.h5"))
    for name in ("k", "g"):
        a, b = net.populations[name].model, back.populations[name].model
        fields = ("k", "local", "ties", "relu", "channels")
        assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
    np.testing.assert_array_equal(back.populations["k"].model.boost, boost)
    assert back.populations["g"].model.boost is None
    x = np.random.default_rng(5).normal(size=(2, 3, 2, 2))
    np.testing.assert_array_equal(neuro.run(back, x).outputs, neuro.run(net, x).outputs)


def test_invalid_parameters_are_named():
    net = neuro.Network()
    net.add_population("x", (4, 2, 2), neuro.Input())
    net.add_population("k", (4, 2, 2), KWTA(5, local=True, channels=4))
    net.connect("x", "k", neuro.Dense(np.eye(16)))
    with pytest.raises(ParameterError, match=r"'k'.*k == 5.*only 4 channels"):
        net.validate()
    net.populations["k"].model = KWTA(1, local=True)
    with pytest.raises(ParameterError, match="channels == None"):
        net.validate()
    with pytest.raises(ParameterError, match="ties == 'random'"):
        KWTA(1, ties="random").validate("k", (4,))
