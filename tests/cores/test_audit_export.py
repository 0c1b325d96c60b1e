"""Audit exports and the `neuro audit` command; definitions side by side."""

import csv
import json

import numpy as np
import pytest
from cores_helpers import random_case

import neuro
from neuro.audit.export import write_all
from neuro.cli import main


def test_cli_writes_json_markdown_csv_and_figures(tmp_path):
    net, x, _ = random_case(4)
    neuro.save(net, tmp_path / "model.h5")
    np.save(tmp_path / "x.npy", x)
    labels = np.arange(x.shape[1]) % net.populations["out"].size
    np.save(tmp_path / "y.npy", labels)
    out = tmp_path / "audit"
    rc = main(
        ["audit", str(tmp_path / "model.h5"), "--inputs", str(tmp_path / "x.npy"),
         "--hardware", "loihi2", "--out", str(out), "--labels", str(tmp_path / "y.npy"),
         "--weight-bits", "8", "--payload-bits", "8", "--state-bits", "16"]
    )  # fmt: skip
    assert rc == 0
    data = json.loads((out / "audit.json").read_text())
    assert data["format"] == "neuro.audit" and data["schema_version"] >= 2
    hw = data["hardware"]
    assert hw["profile"] == "loihi2"
    assert sum(hw["per_core"]["synops"]) == data["totals"]["synops"]
    assert data["quantization"]["weight_bits"] == 8
    assert "float" in data["metric"] and data["metric"]["name"] == "accuracy"
    with open(out / "cores.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == hw["cores_used"]
    assert sum(int(r["synops"]) for r in rows) == data["totals"]["synops"]
    with open(out / "layers.csv") as f:
        assert [r["layer"] for r in csv.DictReader(f)] == list(net.populations)
    md = (out / "audit.md").read_text()
    assert "## Hardware: `loihi2`" in md and "NeuroBench effective MACs" in md
    for png in ("reductions.png", "activity.png", "core_load.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_definitions_side_by_side_against_independent_sums():
    net, x, steps = random_case(6)
    pops = list(net.populations)
    res = neuro.run(net, x, backend="cores", hardware="loihi", record=pops, dtype="float64")
    rows = res.audit().definitions()["rows"]
    c = res.counts
    assert rows["neuro synops"]["total"] == c.synops
    assert (
        rows["NeuroBench effective MACs"]["total"] + rows["NeuroBench effective ACs"]["total"]
        == c.synops
    )
    assert rows["NeuroBench dense ops"]["total"] == c.dense_macs
    assert rows["SNN-Toolbox events × fan-out"]["total"] == c.activity_sparse_macs
    sinabs = 0.0
    for p in net.projections.values():
        tot = p.weights.fanout_total()
        for t in range(p.delay, steps):
            v = res.recordings[p.pre].reshape(steps, x.shape[1], -1)[t - p.delay]
            sinabs += float((np.abs(v) @ tot).sum())
    assert rows["Sinabs Σ value × fan-out"]["total"] == pytest.approx(sinabs, rel=1e-9)
    assert rows["neuro synops"]["per_sample"] == c.synops / x.shape[1]


def test_token_inputs_count_as_accumulates():
    net = neuro.Network(name="tokens")
    net.add_population("tok", (7,), neuro.TokenInput())
    net.add_population("h", (4,), neuro.FATReLU(0.0))
    net.connect("tok", "h", neuro.Dense(np.arange(28.0).reshape(7, 4) - 10))
    ids = np.array([[1], [3], [5]])  # (T, B)
    res = neuro.run(net, ids, backend="cores", hardware="loihi2")
    rows = res.audit().definitions()["rows"]
    assert rows["NeuroBench effective ACs"]["total"] == res.counts.synops
    assert rows["NeuroBench effective MACs"]["total"] == 0
    assert rows["neuro synops"]["per_step"] == res.counts.synops / 3


def test_cpu_audit_still_exports_without_hardware(tmp_path):
    net, x, _ = random_case(1)
    audit = neuro.run(net, x, backend="cpu").audit()
    paths = write_all(audit, tmp_path, plots=False)
    assert json.loads(paths["json"][0].read_text())["backend"] == "cpu"
    assert {p.name for p in paths["csv"]} == {"layers.csv", "definitions.csv"}
    assert "Audit of" in audit.table()
