"""Batches split across a two-process LocalCluster give the single-process result."""

import json
import os
import signal
import time

import numpy as np
import pytest
from distributed_nets import assert_same_run, small_cnn, small_mlp

import neuro
import neuro.distributed as nd
from neuro.distributed.merge import merge_counts
from neuro.exceptions import BackendError, InputError


@pytest.mark.parametrize("tasks", [None, 3, 7])
def test_mlp_time_series_identical(client, tasks):
    net = small_mlp(1)
    x = np.random.default_rng(2).random((6, 7, 30))  # (T, B, n)
    local = neuro.run(net, x, record=list(net.populations))
    dist = nd.run(net, x, client, tasks=tasks, record=list(net.populations))
    assert_same_run(local, dist)
    assert dist.info["distributed"]["tasks"] == (tasks or 2)
    assert dist.info["distributed"]["ranges"][-1][1] == 7
    # pinned round robin (up to two tasks per thread) or queued by Dask (more): both work
    assert len(dist.info["distributed"]["workers"]) == 2
    assert local.info["schedule"] in str(dist.info["schedule"])


def test_cnn_static_batch_identical_on_every_backend(client):
    net = small_cnn(3)
    x = np.random.default_rng(4).random((9, 1, 10, 10))
    for backend, opts in [("cpu", {}), ("cpu", {"dtype": "float64"}), ("reference", {})]:
        local = neuro.run(net, x, backend=backend, steps=2, **opts)
        dist = neuro.run(net, x, backend=backend, steps=2, client=client, **opts)
        if backend == "reference":  # dense numpy products may round per batch shape
            np.testing.assert_allclose(dist.outputs, local.outputs, rtol=1e-12, atol=1e-12)
            assert dist.counts == local.counts
        else:
            assert_same_run(local, dist)
        assert dist.outputs.shape == (2, 9, 5)
    assert dist.counts.batch == 9 and dist.counts.synops > 0
    assert 0 < dist.counts.synops < dist.counts.dense_macs


def test_last_step_recording_and_continuation(client):
    net = small_mlp(5)
    x = np.random.default_rng(6).random((5, 30))
    first = neuro.run(net, x, steps=3)
    local = neuro.run(net, x, steps=4, record_steps="last", initial_state=first.final_state)
    dist = nd.run(
        net, x, client, steps=4, record_steps="last", initial_state=first.final_state, tasks=2
    )
    assert_same_run(local, dist)
    assert dist.outputs.shape == (5, 4)


def test_dask_progress_bar(client, capsys):
    net = small_mlp(3)
    x = np.random.default_rng(3).random((4, 30))
    res = nd.run(net, x, client, progress=True)
    assert "100% Completed" in capsys.readouterr().out
    assert_same_run(neuro.run(net, x), res)


def test_several_output_populations(client):
    net = small_mlp(17, recurrent=False)
    net.outputs = ["h1", "y"]
    x = np.random.default_rng(17).random((3, 5, 30))
    local = neuro.run(net, x)
    dist = nd.run(net, x, client, tasks=3)
    assert set(dist.outputs) == {"h1", "y"} and dist.outputs["h1"].shape == (3, 5, 20)
    assert_same_run(local, dist)


@pytest.mark.parametrize("batch, parts", [(1, 1), (5, 2), (7, 7), (10, 3)])
def test_split_covers_the_batch_and_merges_back(batch, parts):
    from neuro.distributed.merge import merge_states
    from neuro.distributed.split import bounds, split_state

    ranges = bounds(batch, parts)
    assert ranges[0][0] == 0 and ranges[-1][1] == batch
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    sizes = [hi - lo for lo, hi in ranges]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1
    net = small_mlp(19)
    state = neuro.run(net, np.random.default_rng(19).random((batch, 30)), steps=3).final_state
    merged = merge_states(split_state(state, ranges))
    for name, entry in state.items():
        for key, value in entry["state"].items():
            np.testing.assert_array_equal(merged[name]["state"][key], value)
        for a, b in zip(entry["history"], merged[name]["history"]):
            np.testing.assert_array_equal(b, a)


def test_merged_counts_are_the_sum_of_the_parts():
    net = small_mlp(7)
    x = np.random.default_rng(8).random((6, 30))
    parts = [neuro.run(net, x[lo:hi], steps=3).counts for lo, hi in [(0, 1), (1, 4), (4, 6)]]
    whole = neuro.run(net, x, steps=3).counts
    merged = merge_counts(parts)
    assert merged == whole
    assert merged.synops == sum(p.synops for p in parts)
    assert merged.per_sample() == whole.per_sample()
    # static counts follow from the network: dense MACs per sample-step are fixed
    assert merged.dense_macs == 6 * 3 * sum(
        int(p.weights.fanout_total().sum()) for p in net.projections.values()
    )


def test_cores_hardware_section_merges(client):
    net = small_cnn(9)
    x = np.random.default_rng(10).random((6, 1, 10, 10))
    local = neuro.run(net, x, backend="cores", hardware="loihi2")
    dist = neuro.run(net, x, backend="cores", hardware="loihi2", client=client, tasks=3)
    assert_same_run(local, dist)
    hl, hd = local.info["hardware"], dist.info["hardware"]
    for key in ("totals", "cores_used", "chips_used", "samples", "mapping", "warnings"):
        assert hd[key] == hl[key], key
    assert hd["per_core"] == hl["per_core"]  # integer counters, energy and busy time exact
    assert hd["energy_pj"] == hl["energy_pj"]
    for key, value in hl["latency_ns"].items():
        np.testing.assert_allclose(hd["latency_ns"][key], value, rtol=1e-12, err_msg=key)
    for key, value in hl["per_step"].items():
        np.testing.assert_allclose(hd["per_step"][key], value, rtol=1e-12, err_msg=key)
    assert dist.info["activity"]["unit_events"] == local.info["activity"]["unit_events"]
    assert dist.info["activity"]["nonbinary_events"] == local.info["activity"]["nonbinary_events"]
    assert dist.audit().to_dict()["totals"] == local.audit().to_dict()["totals"]


def test_quantized_cores_run_is_not_split(client):
    net = small_cnn(11)
    x = np.random.default_rng(12).random((4, 1, 10, 10))
    quant = {"weight_bits": 8, "payload_bits": 8, "state_bits": 16}
    with pytest.raises(BackendError, match="calibrates fixed-point ranges on the whole batch"):
        nd.run(net, x, client, backend="cores", quantize=quant, tasks=2)
    one = nd.run(net, x, client, backend="cores", quantize=quant, tasks=1)
    local = neuro.run(net, x, backend="cores", quantize=quant)
    assert_same_run(local, one)


def test_errors_name_the_problem(client):
    net = small_mlp(0)
    with pytest.raises(InputError, match="must be a dask.distributed.Client"):
        nd.run(net, np.zeros((2, 30)), object())
    with pytest.raises(InputError, match="tasks == 0"):
        nd.run(net, np.zeros((2, 30)), client, tasks=0)
    with pytest.raises(InputError, match="expected"):
        nd.run(net, np.zeros((2, 31)), client)


def test_audit_cli_on_a_scheduler(client, cluster, tmp_path, capsys):
    from neuro.cli import main

    net = small_cnn(13)
    x = np.random.default_rng(14).random((5, 1, 10, 10))
    path = neuro.save(net, tmp_path / "cnn.h5")
    np.save(tmp_path / "x.npy", x)
    args = ["audit", str(path), "--inputs", str(tmp_path / "x.npy"), "--no-plots"]
    args += ["--hardware", "loihi"]
    assert main([*args, "--out", str(tmp_path / "local")]) == 0
    assert (
        main([*args, "--out", str(tmp_path / "dist"), "--scheduler", cluster.scheduler_address])
        == 0
    )
    capsys.readouterr()
    local = json.loads((tmp_path / "local" / "audit.json").read_text())
    dist = json.loads((tmp_path / "dist" / "audit.json").read_text())
    assert dist.pop("distributed")["tasks"] == 2
    for key in ("totals", "layers", "projections", "definitions_compared", "samples"):
        assert dist[key] == local[key], key
    assert dist["hardware"]["energy_pj"] == local["hardware"]["energy_pj"]


def _pids(client):
    return client.run(os.getpid)


def test_worker_killed_mid_run_is_rerun(client):
    """Kill the process of a worker while it runs a part; Dask reruns the part elsewhere."""
    net = small_mlp(15, sizes=(30, 60, 40), recurrent=False)
    x = np.random.default_rng(16).random((6, 30))
    options = {"steps": 400, "engine": "python", "record_steps": "last"}
    local = neuro.run(net, x, **options)
    pids = _pids(client)
    submitted = nd.submit(net, x, client, tasks=6, **options)
    victim = None
    deadline = time.monotonic() + 60
    while victim is None and time.monotonic() < deadline:
        busy = {w: keys for w, keys in client.processing().items() if keys}
        victim = next(iter(busy), None)
        if victim is None:
            time.sleep(0.005)
    assert victim is not None, "no task started"
    os.kill(pids[victim], signal.SIGKILL)
    dist = nd.collect(submitted)
    assert_same_run(local, dist)
    keys = [f.key for f in submitted.futures]

    def processing_starts(dask_scheduler, keys=keys):
        story = dask_scheduler.story(*keys)
        return sum(1 for t in story if t[2] == "processing")

    assert client.run_on_scheduler(processing_starts) > len(keys)  # some part ran twice
    client.wait_for_workers(2, timeout=60)
    assert (
        victim not in client.scheduler_info()["workers"]
        or pids[victim] not in _pids(client).values()
    )


def test_missing_dask_names_the_extra(monkeypatch):
    import sys

    from neuro.exceptions import MissingDependencyError

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingDependencyError, match=r"neuro\[dask\]"):
        neuro.run(small_mlp(0), np.zeros((2, 30)), client=object())


def test_network_shipped_once_and_again_after_a_change(client):
    net = small_mlp(8)
    x = np.random.default_rng(8).random((6, 30))
    first = nd.run(net, x, client, tasks=2)
    second = nd.run(net, x, client, tasks=2)
    assert_same_run(first, second)
    proj = next(iter(net.projections.values()))
    with pytest.raises(ValueError, match="read-only"):  # shipping locked the arrays
        proj.weights.weight[0, 0] += 1.0
    proj.weights.weight = proj.weights.weight * 2.0  # a new array: shipped again
    local = neuro.run(net, x)
    changed = nd.run(net, x, client, tasks=2)
    assert_same_run(local, changed)
    assert not np.array_equal(changed.outputs, first.outputs)


def test_shipped_copies_belong_to_their_client_and_die_with_it(client, cluster):
    """A client and a network shipped through it keep neither each other nor other clients."""
    import gc
    import weakref

    import distributed

    from neuro.distributed.cluster import ship_network

    net = small_mlp(21)
    x = np.random.default_rng(21).random((4, 30))
    local = neuro.run(net, x)
    other = distributed.Client(cluster)
    try:
        mine, theirs = ship_network(client, net), ship_network(other, net)
        assert mine.client is client and theirs.client is other and mine.key != theirs.key
        assert ship_network(client, net) is mine and ship_network(other, net) is theirs
        assert_same_run(local, nd.run(net, x, other))
    finally:
        other.close()
    gone = weakref.ref(other)
    del other, theirs
    gc.collect()
    assert gone() is None, "a closed client is kept alive by a shipped network"
    assert ship_network(client, net) is mine  # this client's copy is untouched
    assert_same_run(local, nd.run(net, x, client))
    key, net_gone = mine.key, weakref.ref(net)
    del net, mine, local
    gc.collect()
    assert net_gone() is None, "a shipped network is kept alive"
    assert key not in client.__dict__.get("_neuro_shipped", {})

    def held(dask_scheduler, key=key):
        return key in dask_scheduler.tasks

    deadline = time.monotonic() + 30
    while client.run_on_scheduler(held) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not client.run_on_scheduler(held), "the copy of a dead network stays on the cluster"


def test_parts_come_back_in_the_run_dtype_on_one_thread(client):
    """Outputs travel in the run's dtype (not widened), each worker runs one numba thread."""
    net = small_cnn(23)
    x = np.random.default_rng(23).random((6, 1, 10, 10)).astype(np.float32)
    local = neuro.run(net, x)
    dist = nd.run(net, x, client)
    assert_same_run(local, dist)
    assert local.outputs.dtype == dist.outputs.dtype == np.float32
    assert dist.info["dtype"] == "float32" and dist.info["threads"] == 1
    wide = nd.run(net, x, client, dtype="float64")
    assert wide.outputs.dtype == np.float64 and wide.info["dtype"] == "float64"
