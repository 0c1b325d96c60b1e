"""Sweeps of thresholds × weight sparsity × backend × hardware: same rows with a cluster."""

import numpy as np
import pytest
from distributed_nets import small_cnn, small_mlp

import neuro
import neuro.distributed as nd
from neuro.distributed.sweep import grid
from neuro.exceptions import InputError, ParameterError

AXES = {
    "thresholds": [None, 0.05, 0.3],
    "weight_sparsity": [0.0, 0.5, 0.9],
    "backends": ["cpu", "cores"],
    "hardware": ["loihi", "loihi2"],
}


def _strip(rows):
    return [{k: v for k, v in r.items() if k != "wall_time_s"} for r in rows]


def test_sweep_on_cluster_equals_local(client):
    net = small_cnn(20)
    x = np.random.default_rng(21).random((6, 1, 10, 10))
    labels = np.random.default_rng(22).integers(0, 5, 6)
    dist = nd.sweep(net, x, client, labels=labels, as_frame=False, **AXES)
    local = nd.sweep(net, x, None, labels=labels, as_frame=False, **AXES)
    assert len(dist) == 3 * 3 * (1 + 2)
    assert _strip(dist) == _strip(local)
    assert [(r["backend"], r["hardware"]) for r in dist[:3]] == [
        ("cpu", None),
        ("cores", "loihi"),
        ("cores", "loihi2"),
    ]
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in dist)
    cores = [r for r in dist if r["backend"] == "cores"]
    assert all(r["energy_pj_per_sample"] > 0 and r["cores_used"] >= 1 for r in cores)


def test_rows_are_the_runs_of_the_variants(client):
    net = small_mlp(23, recurrent=False)
    x = np.random.default_rng(24).random((5, 30))
    before = {n: p.weights.weight.copy() for n, p in net.projections.items()}
    rows = nd.sweep(net, x, client, thresholds=[0.2], weight_sparsity=[0.75], as_frame=False)
    (row,) = rows
    variant = nd.prune_weights(nd.set_thresholds(net, 0.2), 0.75)
    direct = neuro.run(variant, x)
    for key, value in direct.counts.totals().items():
        assert row[key] == value, key
    assert row["reduction_both"] == direct.counts.reductions()["both"]
    # independent of the implementation: per projection, floor(0.75 n) weights are zero and
    # every kept weight is at least as large as every dropped one
    for name, proj in net.projections.items():
        w = proj.weights.weight
        pruned = variant.projections[name].weights.weight
        n_drop = int(0.75 * w.size)
        assert np.count_nonzero(pruned == 0) == n_drop + np.count_nonzero(w[pruned != 0] == 0)
        kept, dropped = np.abs(w[pruned != 0]), np.abs(w[pruned == 0])
        assert kept.min() >= dropped.max()
        np.testing.assert_array_equal(pruned[pruned != 0], w[pruned != 0])
    assert all(
        p.model.threshold == 0.2 for p in variant.populations.values() if p.model.type == "fatrelu"
    )
    for name, w in before.items():  # the given network is left unchanged
        np.testing.assert_array_equal(net.projections[name].weights.weight, w)


def test_trends_over_the_grid(client):
    net = small_mlp(25, recurrent=False)
    x = np.random.default_rng(26).random((8, 30))
    rows = nd.sweep(
        net, x, client, thresholds=[0.0, 0.2, 0.5], weight_sparsity=[0.0, 0.5], as_frame=False
    )
    by = {(r["threshold"], r["weight_sparsity"]): r for r in rows}
    for sp in (0.0, 0.5):
        events = [by[(th, sp)]["events"] for th in (0.0, 0.2, 0.5)]
        assert events == sorted(events, reverse=True)
    for th in (0.0, 0.2, 0.5):
        assert by[(th, 0.5)]["weight_sparse_macs"] < by[(th, 0.0)]["weight_sparse_macs"]
        assert by[(th, 0.5)]["dense_macs"] == by[(th, 0.0)]["dense_macs"]


def test_dataframe(client):
    pd = pytest.importorskip("pandas")
    net = small_mlp(27, recurrent=False)
    x = np.random.default_rng(28).random((4, 30))
    frame = nd.sweep(net, x, client, thresholds=[0.1, 0.3], weight_sparsity=[0.0, 0.8])
    assert isinstance(frame, pd.DataFrame) and len(frame) == 4
    table = frame.pivot(index="threshold", columns="weight_sparsity", values="synops")
    assert table.shape == (2, 2)


def test_torch_model(client):
    torch = pytest.importorskip("torch")
    from neuro.torch import FATReLU

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        FATReLU(0.1),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 8 * 8, 5),
    ).eval()
    x = torch.rand(6, 1, 8, 8)
    rows = nd.sweep(model, x, client, weight_sparsity=[0.0, 0.5], as_frame=False)
    local = nd.sweep(model, x, None, weight_sparsity=[0.0, 0.5], as_frame=False)
    assert _strip(rows) == _strip(local)
    direct = neuro.convert_and_run(model, x)
    assert rows[0]["synops"] == direct.counts.synops
    assert rows[1]["synops"] < rows[0]["synops"]


def test_errors():
    net = small_mlp(0)
    x = np.zeros((2, 30))
    with pytest.raises(ParameterError, match="weight sparsity == 1.0"):
        nd.sweep(net, x, weight_sparsity=[1.0])
    with pytest.raises(ParameterError, match="not FATReLU populations"):
        nd.sweep(net, x, thresholds=[{"y": 0.1}])
    with pytest.raises(ParameterError, match="grid is empty"):
        grid(thresholds=[])
    with pytest.raises(InputError, match="must be a dask.distributed.Client"):
        nd.sweep(net, x, client="tcp://localhost:8786")
