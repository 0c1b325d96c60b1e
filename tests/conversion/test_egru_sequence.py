"""EGRU sequence models (bare layer, stacks, Linear readout at the last or every step) on
continuous inputs convert exactly: against the torch forward and an independent numpy EGRU."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import neuro  # noqa: E402
from converters import convert  # noqa: E402
from neuro.exceptions import ConversionError  # noqa: E402
from neuro.torch import EGRU  # noqa: E402


def numpy_egru(x, kernel, recurrent, bias, rbias, thr):
    """EvNN v0.2.0 EGRU written out with numpy: x (T, B, I) -> y (T, B, H)."""
    steps, batch, _ = x.shape
    h = thr.size
    y = np.zeros((batch, h))
    c = np.zeros((batch, h))
    out = []
    for t in range(steps):
        a = x[t] @ kernel + bias
        q = y @ recurrent + rbias
        z = 1 / (1 + np.exp(-(a[:, :h] + q[:, :h])))
        r = 1 / (1 + np.exp(-(a[:, h : 2 * h] + q[:, h : 2 * h])))
        g = np.tanh(a[:, 2 * h :] + r * q[:, 2 * h :])
        c_hat = z * c + (1 - z) * g
        event = c_hat > thr
        y = np.where(event, c_hat, 0.0)
        c = np.where(event, c_hat - thr, c_hat)
        out.append(y)
    return np.stack(out)


def _layer(i, h, seed, batch_first=False):
    torch.manual_seed(seed)
    layer = EGRU(i, h, batch_first=batch_first).double()
    with torch.no_grad():
        layer.bias.uniform_(-0.3, 0.3)
        layer.recurrent_bias.uniform_(-0.3, 0.3)
    return layer.eval()


def _arrays(layer):
    return [t.detach().numpy() for t in (layer.kernel, layer.recurrent_kernel, layer.bias,
                                         layer.recurrent_bias, layer.thr)]  # fmt: skip


class Stack(nn.Module):
    def __init__(self, sizes, out=None, every_step=False, batch_first=False):
        super().__init__()
        self.rnn0 = _layer(sizes[0], sizes[1], 1, batch_first)
        self.rnn1 = _layer(sizes[1], sizes[2], 2, batch_first)
        self.drop = nn.Dropout(0.2)
        self.fc = None if out is None else nn.Linear(sizes[2], out).double()
        self.every_step, self.batch_first = every_step, batch_first

    def forward(self, x):
        y, _ = self.rnn0(x)
        y, _ = self.rnn1(self.drop(y))
        if self.fc is None:
            return y
        if self.every_step:
            return self.fc(y)
        return self.fc(y[:, -1] if self.batch_first else y[-1])


def test_bare_layer_equals_torch_and_numpy():
    layer = _layer(5, 7, 0)
    x = torch.randn(12, 3, 5, dtype=torch.float64)
    result = neuro.convert_and_run(layer, x)  # verified against the forward
    want = numpy_egru(x.numpy(), *_arrays(layer))
    np.testing.assert_allclose(result.outputs, want, rtol=0, atol=1e-12)
    with torch.no_grad():
        np.testing.assert_allclose(result.outputs, layer(x)[0].numpy(), atol=1e-12)
    assert 0 < result.counts.populations["egru"].events < want.size


@pytest.mark.parametrize("every_step", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_stack_with_linear_readout(every_step, batch_first):
    torch.manual_seed(3)
    model = Stack((4, 6, 5), out=3, every_step=every_step, batch_first=batch_first).eval()
    x = torch.randn(3, 9, 4, dtype=torch.float64)  # (B, T, I) or (T, B, I)
    result = neuro.convert_and_run(model, x)
    with torch.no_grad():
        want = model(x).numpy()
    assert result.outputs.shape == want.shape
    np.testing.assert_allclose(result.outputs, want, atol=1e-12)
    xt = x.numpy().transpose(1, 0, 2) if batch_first else x.numpy()
    y = numpy_egru(numpy_egru(xt, *_arrays(model.rnn0)), *_arrays(model.rnn1))
    logits = y @ model.fc.weight.detach().numpy().T + model.fc.bias.detach().numpy()
    ref = logits if every_step else logits[-1]
    if every_step and batch_first:
        ref = ref.transpose(1, 0, 2)
    np.testing.assert_allclose(result.outputs, ref, atol=1e-12)
    ref_run = neuro.convert_and_run(model, x, backend="reference")
    np.testing.assert_allclose(ref_run.outputs, result.outputs, atol=1e-12)
    assert ref_run.counts.synops == result.counts.synops


def test_stack_without_readout_and_evnn_state_dicts():
    model = Stack((3, 4, 4)).eval()
    fresh = Stack((3, 4, 4)).eval()
    for src, dst in ((model.rnn0, fresh.rnn0), (model.rnn1, fresh.rnn1)):
        evnn = {k: v.detach().clone() for k, v in src.state_dict().items()}  # EvNN names
        dst.load_evnn_state_dict(evnn, clamp_thr=False)
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    a = neuro.convert_and_run(model, x).outputs
    b = neuro.convert_and_run(fresh, x).outputs
    np.testing.assert_array_equal(a, b)
    assert convert(model).outputs == ["rnn1"]


def test_refusals():
    layer = _layer(3, 4, 0)
    with pytest.raises(ConversionError, match="training mode"):
        convert(layer.train())
    layer.eval()
    with torch.no_grad():
        layer.thr[0] = -0.1
    with pytest.raises(ConversionError, match="threshold"):
        convert(layer)


def test_convert_with_an_example_verifies_and_catches_a_changed_forward():
    from neuro.exceptions import ConversionMismatchError

    class Reversed(Stack):
        def forward(self, x):  # reads the sequence backwards: not what the layers chain
            return super().forward(torch.flip(x, [0]))

    x = torch.randn(5, 2, 3, dtype=torch.float64)
    convert(Stack((3, 4, 4), out=2).eval(), example_input=x)
    with pytest.raises(ConversionMismatchError, match="differ from Reversed's forward"):
        convert(Reversed((3, 4, 4), out=2).eval(), example_input=x)
    with pytest.raises(ConversionMismatchError):
        neuro.convert_and_run(Reversed((3, 4, 4), out=2).eval(), x)
