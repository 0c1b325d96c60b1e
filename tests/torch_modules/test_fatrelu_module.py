"""FATReLU module and the generic activity regularisers against numpy."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuro.exceptions import ParameterError, ShapeError  # noqa: E402
from neuro.torch import FATReLU, fatrelu, hoyer_activity, l1_activity  # noqa: E402


def test_scalar_threshold_matches_numpy_including_equality():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 7))
    x[0, 0] = 0.25  # exactly at the threshold: kept (x >= theta)
    module = FATReLU(0.25).double()
    out = module(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(out, np.where(x >= 0.25, x, 0.0))
    assert out[0, 0] == 0.25


def test_zero_threshold_is_relu():
    x = torch.randn(5, 6)
    torch.testing.assert_close(FATReLU()(x), torch.relu(x), rtol=0, atol=0)


def test_per_channel_nc_and_nchw():
    rng = np.random.default_rng(1)
    theta = np.array([0.0, 0.5, 1.0])
    module = FATReLU(theta.tolist()).double()
    assert module.num_channels == 3
    x2 = rng.normal(size=(4, 3))
    np.testing.assert_array_equal(
        module(torch.from_numpy(x2)).numpy(), np.where(x2 >= theta[None, :], x2, 0.0)
    )
    x4 = rng.normal(size=(2, 3, 4, 5))
    np.testing.assert_array_equal(
        module(torch.from_numpy(x4)).numpy(),
        np.where(x4 >= theta[None, :, None, None], x4, 0.0),
    )


def test_per_channel_last_axis_and_num_channels_expansion():
    rng = np.random.default_rng(2)
    module = FATReLU(0.3, num_channels=4, channel_dim=-1).double()
    assert module.threshold.shape == (4,)
    with torch.no_grad():
        module.threshold.copy_(torch.tensor([0.1, 0.2, 0.3, 0.4]))
    x = rng.normal(size=(2, 3, 4))
    theta = module.threshold.numpy()
    np.testing.assert_array_equal(module(torch.from_numpy(x)).numpy(), np.where(x >= theta, x, 0.0))


def test_threshold_attribute_is_buffer_or_parameter():
    frozen = FATReLU(0.2)
    assert "threshold" in dict(frozen.named_buffers())
    assert "threshold" in frozen.state_dict()
    assert not list(frozen.parameters())
    trained = FATReLU(0.2, num_channels=3, trainable=True)
    assert isinstance(trained.threshold, torch.nn.Parameter)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), [0.1, -2.0]])
def test_invalid_threshold_raises(bad):
    with pytest.raises(ParameterError, match=r">= 0") as info:
        FATReLU(bad)
    shown = bad[1] if isinstance(bad, list) else bad
    assert repr(float(shown)) in str(info.value)


def test_shape_errors():
    with pytest.raises(ParameterError, match="num_channels"):
        FATReLU([0.1, 0.2], num_channels=3)
    with pytest.raises(ShapeError, match="channels"):
        FATReLU([0.1, 0.2, 0.3])(torch.randn(2, 4))
    with pytest.raises(ParameterError):
        fatrelu(torch.randn(3), -1.0)


def test_gradient_is_straight_through_where_active():
    x = torch.tensor([-1.0, 0.2, 0.5, 0.9], requires_grad=True)
    FATReLU(0.5)(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0, 1.0]


def test_trainable_threshold_surrogate_gradient():
    # dL/dtheta = -sum_i g_i * x_i * max(0, 1 - |x_i - theta|), summed per channel.
    x = torch.tensor([[0.4, 2.0], [0.7, 0.1]], dtype=torch.float64, requires_grad=True)
    module = FATReLU([0.5, 0.5], trainable=True).double()
    module(x).sum().backward()
    xs = x.detach().numpy()
    expected = -(xs * np.clip(1 - np.abs(xs - 0.5), 0, None)).sum(axis=0)
    np.testing.assert_allclose(module.threshold.grad.numpy(), expected, atol=1e-12)
    scalar = FATReLU(0.5, trainable=True).double()
    scalar(x.detach()).sum().backward()
    assert float(scalar.threshold.grad) == pytest.approx(float(expected.sum()))


def test_l1_and_hoyer_activity():
    x = torch.tensor([[3.0, 0.0, -4.0], [0.0, 0.0, 2.0]], dtype=torch.float64)
    assert float(l1_activity(x)) == pytest.approx(9.0 / 6.0)
    assert float(l1_activity(x, reduction="sum")) == pytest.approx(9.0)
    assert float(l1_activity([x, 2 * x])) == pytest.approx(4.5)
    assert float(hoyer_activity(x)) == pytest.approx(81.0 / 29.0)
    # per row: 49/25 and 4/4 -> mean 1.48
    assert float(hoyer_activity(x, dim=1)) == pytest.approx((49 / 25 + 1.0) / 2)
    assert float(hoyer_activity(torch.zeros(3))) == 0.0
    one_hot = torch.tensor([0.0, 5.0, 0.0, 0.0])
    assert float(hoyer_activity(one_hot)) == pytest.approx(1.0)
    assert float(hoyer_activity(torch.ones(4))) == pytest.approx(4.0)
    with pytest.raises(ParameterError):
        l1_activity(x, reduction="max")
