"""Max pooling as an event operation: exact against torch on every backend that runs it,
comparisons counted apart from synops, a clear error on the backend that cannot."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402

import neuro  # noqa: E402
from converters import convert  # noqa: E402
from neuro.exceptions import BackendError  # noqa: E402
from neuro.models.maxpool import MaxPool, pool_output_size  # noqa: E402


def _windows_hit(x, pool_out, model):
    """Independent comparison count: Σ over non-zero units of the windows holding them."""
    win = model.windows()
    nz = (x.reshape(x.shape[0], -1) != 0).numpy()
    return int(sum(nz[b][win[win >= 0]].sum() for b in range(x.shape[0])))


@settings(max_examples=20, deadline=None)
@given(
    dims=st.sampled_from([1, 2]),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    p=st.integers(0, 2),
    d=st.integers(1, 2),
    ceil=st.booleans(),
    n=st.integers(5, 9),
    seed=st.integers(0, 1000),
)
def test_property_max_pool_equals_torch(dims, k, s, p, d, ceil, n, seed):
    if 2 * p > k:
        return  # torch refuses padding above half the kernel
    gen = torch.Generator().manual_seed(seed)
    shape = (3, n) if dims == 1 else (3, n, n - 1)
    pool = (nn.MaxPool1d if dims == 1 else nn.MaxPool2d)(k, s, p, d, ceil_mode=ceil)
    if (min(shape[1:]) + 2 * p - d * (k - 1) - 1) < 0:
        return  # output would be empty
    model = nn.Sequential(nn.Identity(), nn.ReLU(), pool).double().eval()
    # negative inputs before the ReLU: zeros and silent windows; some exact ties
    x = torch.randint(-3, 4, (4, *shape), generator=gen).double()
    with torch.no_grad():
        want = model(x).numpy()
    net = convert(model, example_input=x, verify=False)  # compared below
    mp = [p for p in net.populations.values() if p.model.type == "maxpool"][0].model
    relu_out = torch.relu(x)
    for backend in ("cpu", "reference"):
        res = neuro.run(net, x.numpy(), backend=backend)
        np.testing.assert_array_equal(res.outputs, want)
        assert res.counts.comparisons == _windows_hit(relu_out, want, mp)
        # synops: only the identity into the ReLU; routing into the pool is not synaptic work
        assert res.counts.synops == int((x != 0).sum())


def test_negative_values_and_padding_follow_torch():
    """Padding counts as −∞ (not 0): a window of negative values sends its maximum."""
    model = nn.Sequential(nn.Linear(4, 12), nn.Unflatten(1, (3, 4)), nn.MaxPool1d(3, 2, 1))
    model = model.double().eval()
    x = torch.randn(5, 4, dtype=torch.float64)
    with torch.no_grad():
        np.testing.assert_allclose(neuro.convert_and_run(model, x).outputs, model(x), rtol=1e-12)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 12)

        def forward(self, x):
            return F.max_pool1d(self.fc(x).view(-1, 3, 4), 3, 2, 1)

    net_model = Net().double().eval()
    with torch.no_grad():
        want = net_model(x).numpy()
    assert (want < 0).any()
    for backend in ("cpu", "reference", "cores"):
        got = neuro.convert_and_run(net_model, x, backend=backend).outputs
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_functional_global_and_adaptive_forms():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 4, 3, padding=1)
            self.amp = nn.AdaptiveMaxPool2d((2, 2))

        def forward(self, x):
            y = F.relu(self.conv(x))
            a = F.max_pool2d(y, kernel_size=2, stride=2).amax(dim=(2, 3))
            b = torch.flatten(self.amp(y), 1)
            return torch.cat([a, b], 1)

    torch.manual_seed(0)
    model = Net().double().eval()
    x = torch.randn(3, 2, 8, 8, dtype=torch.float64)
    result = neuro.convert_and_run(model, x)
    with torch.no_grad():
        np.testing.assert_allclose(result.outputs, model(x).numpy(), rtol=1e-12, atol=0)
    kinds = sorted(p.model.type for p in result.network.populations.values())
    assert kinds.count("maxpool") == 3


def test_cores_and_saved_files_and_lava_refusal(tmp_path):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(3 * 3 * 3, 2)).double().eval()  # fmt: skip
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    net = convert(model, example_input=x)
    again = neuro.load(neuro.save(net, tmp_path / "pool.h5"))
    cpu = neuro.run(again, x.numpy(), dtype="float64")
    cores = neuro.run(again, x.numpy(), backend="cores", dtype="float64")
    np.testing.assert_allclose(cores.outputs, cpu.outputs, rtol=1e-12)
    assert cores.counts.comparisons == cpu.counts.comparisons > 0
    assert cpu.counts.populations["2"].comparisons == cpu.counts.comparisons
    if "lava" in neuro.backends.base.BACKENDS and _lava_installed():
        with pytest.raises(BackendError, match="lava.*maxpool"):
            neuro.run(again, x.numpy(), backend="lava")


def _lava_installed():
    try:
        import lava  # noqa: F401
    except ImportError:
        return False
    return True


def test_output_size_rule_matches_torch():
    for n in range(3, 12):
        for k in (1, 2, 3):
            for s in (1, 2, 3):
                for p in range(0, k // 2 + 1):
                    for ceil in (False, True):
                        x = torch.zeros(1, 1, n)
                        want = F.max_pool1d(x, k, s, p, 1, ceil).shape[-1]
                        assert pool_output_size(n, k, s, p, 1, ceil) == want
    model = MaxPool((2, 5, 5), (2, 2), (2, 2))
    assert model.out_shape() == (2, 2, 2) and model.taps == 4
