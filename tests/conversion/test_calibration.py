"""FATReLU threshold calibration on scikit-learn's digits."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
from torch import nn  # noqa: E402

import neuro  # noqa: E402
from converters.calibration import calibrate_thresholds  # noqa: E402
from neuro.apps.demo import build_model, load_digits_split, train  # noqa: E402
from neuro.exceptions import ConversionError, ParameterError  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny models: one torch thread avoids contention on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


GRID = np.linspace(0, 0.96, 25)


@pytest.fixture(scope="module")
def digits():
    torch.manual_seed(0)
    data = load_digits_split(0)
    model = train(build_model(), *data["train"], epochs=4, seed=0)
    return model, data


def _zero_fractions(model, x):
    """Fraction of zero outputs of every activation module, measured with hooks."""
    stats = {}

    def hook(name):
        def record(module, inputs, output):
            zeros, total = stats.get(name, (0, 0))
            stats[name] = (zeros + int((output == 0).sum()), total + output.numel())

        return record

    handles = [
        m.register_forward_hook(hook(n))
        for n, m in model.named_modules()
        if type(m).__name__ == "FATReLU"
    ]
    with torch.no_grad():
        out = model(torch.as_tensor(x))
    for h in handles:
        h.remove()
    return {n: z / t for n, (z, t) in stats.items()}, out


def test_calibration_raises_sparsity_within_budget(digits):
    model, data = digits
    x_cal, y_cal = data["calib"]
    before, out0 = _zero_fractions(model, x_cal)
    cal = calibrate_thresholds(model, x_cal, y_cal, budget=0.02, quantiles=GRID)
    after, out1 = _zero_fractions(cal.model, x_cal)
    acc0 = float((out0.argmax(1).numpy() == y_cal).mean())
    acc1 = float((out1.argmax(1).numpy() == y_cal).mean())
    # the table agrees with an independent measurement
    assert cal.metric_before == pytest.approx(acc0) and cal.metric_after == pytest.approx(acc1)
    for row in cal.layers:
        assert row.sparsity_before == pytest.approx(before[row.name])
        assert row.sparsity_after == pytest.approx(after[row.name])
    # within budget, and sparser than the ReLU baseline
    assert acc0 - acc1 <= 0.02 + 1e-12
    assert np.mean(list(after.values())) > np.mean(list(before.values())) + 0.1
    # the input model is untouched (still a ReLU network)
    assert all(float(m.threshold) == 0 for m in model.modules() if type(m).__name__ == "FATReLU")
    assert "sparsity before" in cal.table() and cal.to_dict()["layers"][0]["layer"] == "act1"


def paired_allowance(correct_before, correct_after):
    """Two standard errors of a paired accuracy difference (discordant pairs, McNemar)."""
    discordant = int((correct_before != correct_after).sum())
    return 2 * np.sqrt(discordant) / correct_before.size


@pytest.mark.parametrize("per_channel", [False, True])
def test_budget_holds_on_held_out_digits(digits, per_channel):
    """The budget is spent on the calibration split; unseen digits may lose more, but no
    more than the budget plus two standard errors of the paired difference."""
    model, data = digits
    cal = calibrate_thresholds(
        model, *data["calib"], budget=0.02, per_channel=per_channel, quantiles=GRID
    )
    x_test, y_test = data["test"]
    with torch.no_grad():
        before = model(torch.as_tensor(x_test)).argmax(1).numpy() == y_test
        after = cal.model(torch.as_tensor(x_test)).argmax(1).numpy() == y_test
    drop = before.mean() - after.mean()
    assert drop <= 0.02 + paired_allowance(before, after)
    assert after.mean() > 0.85  # still a working classifier on unseen digits


def test_per_channel_thresholds_convert_and_run(digits):
    model, data = digits
    x_cal, y_cal = data["calib"]
    cal = calibrate_thresholds(model, x_cal, y_cal, budget=0.02, per_channel=True, quantiles=GRID)
    assert cal.metric_before - cal.metric_after <= 0.02 + 1e-12
    assert np.asarray(cal.layers[0].threshold).shape == (16,)
    x = data["test"][0][:50].astype(np.float64)
    model64 = cal.model.double()  # float64: no threshold flips from summation order
    result = neuro.convert_and_run(model64, x)
    with torch.no_grad():
        want = model64(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(result.outputs, want, atol=1e-5)
    net = result.network
    assert net.populations["act2"].model.threshold.shape == (32,)


def test_zero_budget_keeps_the_metric(digits):
    model, data = digits
    x_cal, y_cal = data["calib"]
    cal = calibrate_thresholds(model, x_cal, y_cal, budget=0.0, quantiles=[0.1, 0.5, 0.9])
    assert cal.metric_after >= cal.metric_before


def test_calibration_errors(digits):
    model, data = digits
    with pytest.raises(ParameterError, match="budget"):
        calibrate_thresholds(model, *data["calib"], budget=-0.1)
    with pytest.raises(ParameterError, match="quantiles"):
        calibrate_thresholds(model, *data["calib"], quantiles=[0.5, 1.0])
    with pytest.raises(ConversionError, match="no ReLU"):
        calibrate_thresholds(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), *data["calib"])
