"""The PTB EGRU notebook runs end to end in its tiny configuration."""

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("torch")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parents[3]


def test_notebook_is_generated_from_its_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_ptb_notebook", REPO / "examples" / "make_ptb_notebook.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stored = nbformat.read(REPO / "examples" / "ptb_egru.ipynb", as_version=4)
    assert [c.source for c in stored.cells] == [c.source for c in module.build().cells]


def test_notebook_tiny(ptb_dir, monkeypatch):
    monkeypatch.setenv("NEURO_NOTEBOOK_TINY", "1")
    monkeypatch.setenv("NEURO_PTB_DIR", str(ptb_dir))
    monkeypatch.delenv("NEURO_EGRU_CHECKPOINTS", raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(REPO / "examples" / "ptb_egru.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
    )
    client.execute()
    texts, images = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                texts.append(out["text"])
            data = out.get("data", {})
            images += "image/png" in data
            if "text/markdown" in data:
                texts.append(data["text/markdown"])
    text = "".join(texts)
    line = next(ln for ln in text.splitlines() if ln.startswith("SUMMARY "))
    summary = json.loads(line[len("SUMMARY ") :])
    assert summary["tiny"] is True
    assert len(summary["levels"]) == 3
    assert summary["max_ppl_gap"] < 1e-6  # torch and event-driven agree
    sparsities = [r["sparsity"] for r in summary["levels"]]
    assert sparsities[0] == 0 and sparsities[1] > 0.49 and sparsities[2] > 0.79
    for row in summary["levels"]:
        assert row["synops"] <= row["weight_sparse_macs"] <= row["dense_macs"]
        # not vacuous: the event run fires, but sparsely, at every pruning level
        assert 0.01 < row["activity"] < 0.9 and row["synops"] > 0
    for layer, rate in summary["activity_per_layer"].items():
        assert 0.01 < rate < 0.9, (layer, rate)
    assert images >= 1  # the activity histograms
    assert "| weight sparsity |" in text and "Audit of" in text
