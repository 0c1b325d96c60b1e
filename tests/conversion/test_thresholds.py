"""Thresholded activations convert with their real rule (x >= θ or x > θ), never by base type.

Inputs and weights are small integers, so pre-activations hit the thresholds exactly
(ties), where the two rules differ.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402

import neuro  # noqa: E402
import neuro.torch  # noqa: E402
from converters import convert  # noqa: E402
from neuro.exceptions import ConversionError  # noqa: E402


class StrictSubReLU(nn.ReLU):
    """NeuroBench-style custom activation: a subclass of ReLU with its own forward."""

    def __init__(self, t):
        super().__init__()
        self.t = t

    def forward(self, x):
        return x * (x > self.t)


class WhereReLU(nn.ReLU):
    def __init__(self, t):
        super().__init__()
        self.t = t

    def forward(self, x):
        return torch.where(x >= self.t, x, 0.0)


class MaskedRelu(nn.Module):
    def __init__(self, t):
        super().__init__()
        self.t = t

    def forward(self, x):
        return F.relu(x) * (x > self.t)


class ChannelBuffer(nn.Module):
    """Per-channel thresholds in a buffer, the mask cast with .float()/.to()."""

    def __init__(self, thresholds):
        super().__init__()
        self.register_buffer("t", torch.as_tensor(thresholds, dtype=torch.float64))

    def forward(self, x):
        return x * (x >= self.t.view(1, -1, 1, 1)).to(x.dtype)


class FunctionalThreshold(nn.Module):
    def __init__(self, t):
        super().__init__()
        self.t = t

    def forward(self, x):
        return F.threshold(x, self.t, 0.0)


class SparsemlShaped(nn.Module):
    """Shaped like sparseml's FATReLU: a float threshold goes through F.threshold
    (strict), a per-channel one through a >= mask; its forward calls .item(), so it
    cannot be traced and is recognised by measuring it."""

    def __init__(self, threshold):
        super().__init__()
        self._channel_wise = isinstance(threshold, list)
        self.threshold = nn.Parameter(torch.tensor(threshold, dtype=torch.float64))

    def forward(self, x):
        if not self._channel_wise:
            return F.threshold(x, self.threshold.data.item(), 0.0)
        t = self.threshold.view(1, -1, *[1] * (x.dim() - 2))
        return x * (x >= t).to(x.dtype)


class NotAThreshold(nn.ReLU):
    def forward(self, x):
        return torch.sigmoid(x) * x


def _integer_linear(n_in, n_out, gen):
    lin = nn.Linear(n_in, n_out).double()
    with torch.no_grad():
        lin.weight.copy_(torch.randint(-2, 3, (n_out, n_in), generator=gen).double())
        lin.bias.copy_(torch.randint(-1, 2, (n_out,), generator=gen).double())
    return lin


def _integer_conv(c_in, c_out, gen):
    conv = nn.Conv2d(c_in, c_out, 3, padding=1).double()
    with torch.no_grad():
        conv.weight.copy_(torch.randint(-1, 2, conv.weight.shape, generator=gen).double())
        conv.bias.zero_()
    return conv


def _compare(model, x, backends=("cpu", "reference")):
    model = model.eval()
    with torch.no_grad():
        want = model(x).numpy()
    for backend in backends:
        got = neuro.convert_and_run(model, x, backend=backend).outputs
        np.testing.assert_array_equal(got, want, err_msg=backend)
    return convert(model, example_input=x)


def _fatrelu(net):
    return [p.model for p in net.populations.values() if p.model.type == "fatrelu"]


@pytest.mark.parametrize(
    "act, strict",
    [
        (StrictSubReLU(2.0), True),
        (WhereReLU(2.0), False),
        (MaskedRelu(2.0), True),
        (FunctionalThreshold(2.0), True),
        (nn.Threshold(2.0, 0.0), True),
        (SparsemlShaped(2.0), True),
        (neuro.torch.FATReLU(2.0), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else str(v),
)
def test_ties_at_the_threshold_follow_the_source_rule(act, strict):
    gen = torch.Generator().manual_seed(0)
    model = nn.Sequential(_integer_linear(6, 8, gen), act, _integer_linear(8, 3, gen)).double()
    x = torch.randint(-2, 3, (64, 6), generator=gen).double()
    with torch.no_grad():
        pre = model[0](x)
    assert (pre == 2.0).any()  # the test exercises ties
    net = _compare(model, x)
    (model_1,) = _fatrelu(net)
    assert float(model_1.threshold) == 2.0 and model_1.strict is strict
    assert "1" in net.populations  # named after the module path


def test_subclass_of_relu_is_not_converted_as_relu():
    """The silently-wrong case: before, StrictSubReLU(2) became a plain ReLU (θ = 0)."""
    gen = torch.Generator().manual_seed(1)
    model = nn.Sequential(_integer_linear(5, 6, gen), StrictSubReLU(1.0)).double().eval()
    x = torch.randint(-2, 3, (32, 5), generator=gen).double()
    net = _compare(model, x)
    (m,) = _fatrelu(net)
    assert float(m.threshold) == 1.0 and m.strict


def test_per_channel_buffer_and_sparseml_channel_wise():
    gen = torch.Generator().manual_seed(2)
    for act in (ChannelBuffer([0.0, 1.0, 2.0]), SparsemlShaped([0.0, 1.0, 2.0])):
        model = nn.Sequential(_integer_conv(2, 3, gen), act).double()
        x = torch.randint(-1, 2, (4, 2, 5, 5), generator=gen).double()
        net = _compare(model, x)
        (m,) = _fatrelu(net)
        np.testing.assert_array_equal(m.threshold, [0.0, 1.0, 2.0])
        assert m.strict is False


def test_untranslatable_override_is_refused_with_its_name():
    model = nn.Sequential(nn.Linear(3, 3), NotAThreshold()).double().eval()
    with pytest.raises(ConversionError, match=r"torch.sigmoid at node .* in module '1'"):
        convert(model, example_input=torch.zeros(2, 3, dtype=torch.float64))


def test_threshold_with_nonzero_value_is_refused():
    model = nn.Sequential(nn.Linear(3, 3), nn.Threshold(0.5, 1.0)).eval()
    with pytest.raises(ConversionError, match="'1'.*value 0"):
        convert(model, example_input=torch.zeros(2, 3))


@pytest.mark.parametrize(
    "act, clip",
    [(nn.ReLU6(), 6.0), (nn.Hardtanh(0.0, 3.0), 3.0), ("clamp", 4.0), ("relu6", 6.0)],
    ids=str,
)
def test_relu6_and_hardtanh_are_clipped_fatrelus(act, clip):
    gen = torch.Generator().manual_seed(3)

    kind = act

    class Clamp(nn.Module):
        def forward(self, x):
            return torch.clamp(x, min=0.0, max=4.0) if kind == "clamp" else F.relu6(x)

    act = Clamp() if isinstance(kind, str) else act
    lin = _integer_linear(6, 8, gen)
    with torch.no_grad():
        lin.weight.mul_(3.0)
    model = nn.Sequential(lin, act, _integer_linear(8, 3, gen)).double()
    x = torch.randint(-2, 3, (64, 6), generator=gen).double()
    net = _compare(model, x, backends=("cpu", "reference", "cores"))
    (m,) = _fatrelu(net)
    assert float(m.clip) == clip and float(m.threshold) == 0.0
    with pytest.raises(ConversionError, match="lower bound"):
        convert(nn.Sequential(nn.Hardtanh()).eval(), example_input=torch.zeros(2, 3))


def test_strict_threshold_on_every_cpu_engine_and_float32():
    net = neuro.Network()
    net.add_population("x", (4,), neuro.Input())
    net.add_population("h", (4,), neuro.FATReLU(1.0, strict=True))
    net.connect("x", "h", neuro.Dense(np.eye(4)))
    x = np.array([[1.0, 0.5, 2.0, 1.0], [1.0, 1.0, 1.0, 3.0]])
    want = np.where(x > 1.0, x, 0.0)
    for opts in ({"engine": "compiled"}, {"engine": "python"}, {"dtype": "float64"}):
        np.testing.assert_array_equal(neuro.run(net, x, **opts).outputs, want)
    np.testing.assert_array_equal(neuro.run(net, x, backend="reference").outputs, want)


def test_strict_and_clip_round_trip_through_files(tmp_path):
    net = neuro.Network()
    net.add_population("x", (3,), neuro.Input())
    net.add_population("h", (3,), neuro.FATReLU(0.5, strict=True, clip=2.0))
    net.connect("x", "h", neuro.Dense(np.eye(3)))
    again = neuro.load(neuro.save(net, tmp_path / "n.h5"))
    m = again.populations["h"].model
    assert m.strict is True and float(m.clip) == 2.0
    x = np.array([[0.5, 1.0, 3.0]])
    np.testing.assert_array_equal(neuro.run(again, x).outputs, [[0.0, 1.0, 2.0]])


FORMS = {
    "ge": lambda x, t: x * (x >= t),
    "gt": lambda x, t: x * (x > t),
    "where_gt": lambda x, t: torch.where(x > t, x, 0.0),
    "threshold": lambda x, t: F.threshold(x, t, 0.0),
    "relu_gt": lambda x, t: F.relu(x) * (x > t),
}


class RandomThresholded(nn.Module):
    def __init__(self, sizes, forms, thresholds, gen):
        super().__init__()
        self.layers = nn.ModuleList(
            [_integer_linear(a, b, gen) for a, b in zip(sizes[:-1], sizes[1:])]
        )
        self.forms, self.thresholds = forms, thresholds

    def forward(self, x):
        for k, layer in enumerate(self.layers):
            x = layer(x)
            if k < len(self.forms):
                x = FORMS[self.forms[k]](x, self.thresholds[k])
        return x


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    depth=st.integers(1, 3),
    forms=st.lists(st.sampled_from(sorted(FORMS)), min_size=3, max_size=3),
    thresholds=st.lists(st.sampled_from([0.0, 1.0, 2.0, 0.5]), min_size=3, max_size=3),
)
def test_property_random_thresholded_models_equal_torch(seed, depth, forms, thresholds):
    gen = torch.Generator().manual_seed(seed)
    sizes = [5] + [int(torch.randint(3, 8, (1,), generator=gen)) for _ in range(depth)] + [2]
    model = RandomThresholded(sizes, forms[:depth], thresholds[:depth], gen).double().eval()
    x = torch.randint(-2, 3, (16, 5), generator=gen).double()
    with torch.no_grad():
        want = model(x).numpy()
    for backend in ("cpu", "reference"):
        got = neuro.convert_and_run(model, x, backend=backend).outputs
        np.testing.assert_array_equal(got, want)
