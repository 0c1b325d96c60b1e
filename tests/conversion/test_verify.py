"""Verification by default: a wrong conversion raises ConversionMismatchError naming the
first diverging layer; verify=False skips the check."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import neuro  # noqa: E402
from converters import convert, register_module_converter  # noqa: E402
from converters.registry import MODULE_CONVERTERS  # noqa: E402
from converters.verify import TOLERANCES, relative_error  # noqa: E402
from neuro.exceptions import ConversionError, ConversionMismatchError  # noqa: E402


class Doubler(nn.Module):
    def forward(self, x):
        return 2.0 * x


@pytest.fixture
def wrong_mapping():
    """A user mapping that gets the module wrong (scales by 3 instead of 2)."""

    @register_module_converter(Doubler)
    def doubler(ctx, module, x, name):
        return ctx.scale(x, np.full(x.size, 3.0), np.zeros(x.size), name)

    yield
    MODULE_CONVERTERS.pop(Doubler)


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), Doubler(), nn.ReLU(), nn.Linear(6, 2))


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_wrong_mapping_names_the_first_diverging_layer(wrong_mapping, backend):
    model = _model().double().eval()
    x = torch.randn(5, 4, dtype=torch.float64)
    first_line = r"^population '3' \(torch module '3'\) differs"
    with pytest.raises(ConversionMismatchError, match=first_line):
        neuro.convert_and_run(model, x, backend=backend)
    with pytest.raises(ConversionMismatchError, match="population '3'"):
        convert(model, example_input=x)
    result = neuro.convert_and_run(model, x, backend=backend, verify=False)
    assert relative_error(result.outputs, model(x).detach().numpy()) > 1e-3
    assert isinstance(convert(model, example_input=x, verify=False), neuro.Network)
    assert issubclass(ConversionMismatchError, ConversionError)


def test_correct_conversions_pass_in_float32_and_float64():
    model = _model()
    model[2] = nn.Identity()
    for dtype in (torch.float32, torch.float64):
        m = model.to(dtype).eval()
        x = torch.randn(7, 4, dtype=dtype)
        neuro.convert_and_run(m, x)  # verified
        neuro.convert_and_run(m, x, backend="reference")
    assert TOLERANCES["float64"] == 1e-9 and TOLERANCES["float32"] == 1e-4


def test_wrong_shape_example_is_the_converters_error():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    with pytest.raises(ConversionError) as err:
        convert(model.eval(), example_input=torch.zeros(2, 1, 8, 8))
    first = str(err.value).splitlines()[0]
    assert "(2, 1, 8, 8)" in first and "RuntimeError" in first
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_two_inputs_are_refused_in_the_first_line():
    class Two(nn.Module):
        def forward(self, a, b):
            return a + b

    with pytest.raises(ConversionError, match="^Two.forward takes 2 inputs"):
        convert(Two().eval(), example_input=torch.zeros(2, 3))


def test_all_unsupported_operations_listed_at_once():
    class Many(nn.Module):
        def __init__(self):
            super().__init__()
            self.act = nn.SiLU()

        def forward(self, x):
            return torch.sigmoid(self.act(x)) + torch.nn.functional.gelu(x)

    with pytest.raises(ConversionError) as err:
        convert(Many().eval(), example_input=torch.zeros(2, 3))
    msg = str(err.value)
    first = msg.splitlines()[0]
    assert first.startswith("cannot convert 3 operation(s)")
    assert "'act'" in first and "torch.sigmoid" in first and "F.gelu" in first
    assert "register_module_converter" in msg and "calibrate_thresholds" in msg


class ScaledReLU(nn.Module):  # the README's example of a new mapping
    def forward(self, x):
        return 2 * x.clamp(min=0)


def test_readme_mapping_example():
    from neuro.models import FATReLU

    @register_module_converter(ScaledReLU)
    def scaled_relu(ctx, module, x, name):
        doubled = ctx.scale(x, np.full(x.size, 2.0), np.zeros(x.size), name)
        return ctx.population(doubled, FATReLU(0.0), name)

    try:
        model = nn.Sequential(nn.Linear(3, 4), ScaledReLU(), nn.Linear(4, 2)).double().eval()
        x = torch.randn(6, 3, dtype=torch.float64)
        result = neuro.convert_and_run(model, x)  # verified
        assert result.network.populations["1"].model.type == "fatrelu"
    finally:
        MODULE_CONVERTERS.pop(ScaledReLU)
    # without the mapping the module is traced into and converted by what it computes
    neuro.convert_and_run(model, x)


def test_embedding_and_silu_are_refused_with_the_reason():
    class Emb(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 4)
            self.act = nn.SiLU()

        def forward(self, x):
            return self.act(self.emb(x))

    with pytest.raises(ConversionError) as err:
        convert(Emb().eval(), example_input=torch.zeros(2, 3, dtype=torch.long))
    first = str(err.value).splitlines()[0]
    assert "'emb'" in first and "EGRU language models" in first
    assert "'act'" in first and "not zero-preserving" in first


def test_float32_rounding_at_a_threshold_warns_instead_of_failing():
    """0.86 + 0.54 is exactly 1.4 in float64 but above float32(1.4) in float32: a tie at
    θ = 1.4 (strict) falls on the other side in float32 only."""
    from converters.verify import RoundingWarning

    class Tie(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 1, bias=False)

        def forward(self, x):
            return torch.nn.functional.threshold(self.fc(x), 1.4, 0.0)

    model = Tie().double().eval()
    with torch.no_grad():
        model.fc.weight.copy_(torch.tensor([[0.86, 0.54]], dtype=torch.float64))
    x = torch.ones(2, 2, dtype=torch.float64)
    with pytest.warns(RoundingWarning, match="float64 run matches"):
        out = neuro.convert_and_run(model, x, dtype="float32").outputs
    assert np.all(out != 0) and np.all(model(x).detach().numpy() == 0)
    np.testing.assert_array_equal(neuro.convert_and_run(model, x).outputs, [[0.0], [0.0]])
