"""``neuro demo`` end to end and ``neuro convert`` on a saved torch module."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import neuro  # noqa: E402
from neuro.apps.demo import build_model, load_digits_split, train  # noqa: E402
from neuro.cli import main  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny models: one torch thread avoids contention on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_demo_trains_calibrates_converts_and_reports(tmp_path, capsys):
    assert main(["demo", "--epochs", "3", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "Audit of 'digits-calibrated'" in text and "dense numpy" in text
    report = json.loads((tmp_path / "report.json").read_text())
    for label in ("relu", "calibrated"):
        assert report[label]["differing_predictions"] == 0
        assert report[label]["event_accuracy"] == report[label]["torch_accuracy"]
    cal = report["calibration"]
    assert cal["metric_before"] - cal["metric_after"] <= report["budget"] + 1e-12
    assert (
        report["calibrated"]["mean_activation_sparsity"]
        > report["relu"]["mean_activation_sparsity"]
    )
    audit = json.loads((tmp_path / "audit.json").read_text())
    assert audit["totals"]["synops"] == report["calibrated"]["synops"]
    # the saved network reproduces the event-driven accuracy
    x_test, y_test = load_digits_split(0)["test"]
    result = neuro.run(neuro.load(tmp_path / "network.h5"), x_test)
    accuracy = float((result.outputs.argmax(1) == y_test).mean())
    assert accuracy == report["calibrated"]["event_accuracy"]
    # the ReLU model retrained here (same seed): its unseen-digit accuracy, and the drop
    # to the saved calibrated network within the budget plus two paired standard errors
    torch.manual_seed(0)
    relu = train(build_model(), *load_digits_split(0)["train"], epochs=3, seed=0).double()
    with torch.no_grad():
        before = relu(torch.as_tensor(x_test.astype(np.float64))).argmax(1).numpy() == y_test
    after = result.outputs.argmax(1) == y_test
    assert float(before.mean()) == report["relu"]["torch_accuracy"]
    allowance = 2 * np.sqrt(int((before != after).sum())) / y_test.size
    assert before.mean() - after.mean() <= report["budget"] + allowance


def test_convert_cli_round_trip(tmp_path, capsys):
    torch.manual_seed(1)
    model = build_model().eval()
    torch.save(model, tmp_path / "model.pt")
    out = tmp_path / "net.h5"
    argv = ["convert", str(tmp_path / "model.pt"), str(out), "--input-shape", "1", "8", "8"]
    assert main(argv) == 0
    x = np.random.default_rng(0).random((5, 1, 8, 8)).astype(np.float32)
    result = neuro.run(neuro.load(out), x)
    with torch.no_grad():
        np.testing.assert_allclose(result.outputs, model(torch.as_tensor(x)).numpy(), atol=1e-5)
    assert main(["convert", str(tmp_path / "missing.pt"), str(out), "--input-shape", "3"]) == 2
    assert "does not exist" in capsys.readouterr().err
