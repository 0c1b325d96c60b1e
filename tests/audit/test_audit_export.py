"""Audit exports and the `neuro audit` command; definitions side by side."""

import csv
import json

import numpy as np
import pytest
from cores_helpers import random_case
from netgen import independent_synops

import neuro
from neuro.audit.export import write_all
from neuro.cli import main


def test_cli_writes_json_markdown_csv_and_figures(tmp_path):
    net, x, _ = random_case(4, "cnn")
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
    net, x, steps = random_case(6, "rnn")
    pops = list(net.populations)
    res = neuro.run(net, x, backend="cores", hardware="loihi", record=pops, dtype="float64")
    rows = res.audit().definitions()["rows"]
    c = res.counts
    # the network counts themselves, recounted from the reference backend's activity
    ref = neuro.run(net, x, backend="reference", record=pops)
    activity = {n: ref.recordings[n].reshape(steps, x.shape[1], -1) for n in pops}
    assert c.synops == independent_synops(net, activity, steps)
    # every connection of the dense layer, n_pre x n_out, whatever the storage (CSR too)
    dense = steps * x.shape[1] * sum(p.weights.n_pre * p.weights.n_out
                                     for p in net.projections.values())  # fmt: skip
    assert c.dense_macs == dense
    assert rows["neuro synops"]["total"] == c.synops
    assert (
        rows["NeuroBench effective MACs"]["total"] + rows["NeuroBench effective ACs"]["total"]
        == c.synops
    )
    assert rows["NeuroBench dense ops"]["total"] == c.dense_macs
    assert rows["SNN-Toolbox events × fan-out"]["total"] == c.activity_sparse_macs
    sinabs = 0.0
    for p in net.projections.values():
        tot = np.full(p.weights.n_pre, p.weights.n_out)  # dense-layer connections
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
    net, x, _ = random_case(1, "cnn")
    audit = neuro.run(net, x, backend="cpu").audit()
    paths = write_all(audit, tmp_path, plots=False)
    assert json.loads(paths["json"][0].read_text())["backend"] == "cpu"
    assert {p.name for p in paths["csv"]} == {"layers.csv", "definitions.csv"}
    assert "Audit of" in audit.table()


def test_audit_lists_cost_terms_and_critical_core(tmp_path, capsys):
    net, x, _ = random_case(4, "cnn")
    neuro.save(net, tmp_path / "model.h5")
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "audit"
    rc = main(["audit", str(tmp_path / "model.h5"), "--inputs", str(tmp_path / "x.npy"),
               "--hardware", "loihi", "--out", str(out), "--no-plots"])  # fmt: skip
    assert rc == 0
    text = capsys.readouterr().out
    assert "cost terms charged: synaptic event (dense) 35.5 pJ / 3.8 ns" in text
    assert "message send 111 pJ / 5.1 ns" in text
    assert "cost terms left out:" in text and "static (leakage) power" in text
    assert "critical core:" in text and "placement 'memory'" in text
    md = (out / "audit.md").read_text()
    assert "### Cost terms charged" in md and "### Cost terms left out" in md
    assert "### Critical path" in md
    data = json.loads((out / "audit.json").read_text())
    hw = data["hardware"]
    crit = hw["critical_path"]
    assert len(crit["per_step"]) == hw["steps"]
    for row in crit["per_step"]:
        assert hw["mapping"]["cores"]["population"][row["core"]] == row["population"]
        assert row["dominant"] in {t["term"] for t in hw["cost_terms"]["included"]}
    with open(out / "steps.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["critical_core"]) for r in rows] == [r["core"] for r in crit["per_step"]]


def test_loihi2_slower_step_is_explained_by_the_critical_core():
    """On an MLP, loihi2 (more memory per core) packs more units on the busiest core;
    with per-event times borrowed from Loihi, that core takes longer. The audit says so."""
    rng = np.random.default_rng(0)
    net = neuro.Network(name="mlp")
    net.add_population("x", (784,), neuro.Input())
    net.add_population("h", (256,), neuro.FATReLU(threshold=0.1))
    net.add_population("y", (10,), neuro.Readout())
    net.connect("x", "h", neuro.Dense(rng.standard_normal((784, 256)) * 0.05))
    net.connect("h", "y", neuro.Dense(rng.standard_normal((256, 10)) * 0.05))
    x = rng.random((2, 784))
    hw = {
        name: neuro.run(net, x, backend="cores", hardware=name).info["hardware"]
        for name in ("loihi", "loihi2")
    }
    slow, fast = hw["loihi2"], hw["loihi"]
    assert slow["latency_ns"]["mean_per_step"] > fast["latency_ns"]["mean_per_step"]
    c_slow, c_fast = slow["critical_path"]["summary"], fast["critical_path"]["summary"]
    assert c_slow["population"] == c_fast["population"] == "h"
    assert c_slow["units_on_core"] > c_fast["units_on_core"]
    assert c_slow["dominant"] == "synaptic event (dense)"
    assert any("assumption" in w and "placements" in w for w in slow["warnings"])
    assert not any("placements" in w for w in fast["warnings"])
