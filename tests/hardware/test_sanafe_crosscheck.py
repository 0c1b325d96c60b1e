"""Cross-check of the ``cores`` backend's cost model against SANA-FE 2.2.9.

Each case builds a binary-spike network (integer weights, FATReLU thresholds at a half
integer, so a unit fires on the same inputs whether its inputs are graded or binary),
runs it on the ``cores`` backend, writes the same network, placement and profile with
:func:`neuro.hardware.export_sanafe`, runs SANA-FE on the files in the test, and
compares counts (identical), energy and simple-timing latency (within 10 %; they agree
to rounding).  SANA-FE applies a spike one step after it is sent, so every projection
has delay 1.
"""

import sys

import numpy as np
import pytest

import neuro
from neuro.exceptions import ParameterError
from neuro.hardware import export_sanafe, load_profile, run_sanafe

if sys.version_info >= (3, 11):
    import sanafe  # the test extra installs it: these tests must run, not skip
else:  # pragma: no cover - SANA-FE 2.2.9 has no wheel below Python 3.11
    sanafe = pytest.importorskip("sanafe")

TOLERANCE = 0.10


def _network(sizes, seed, density=1.0, recurrent=False, sparse=False, name="net"):
    rng = np.random.default_rng(seed)
    net = neuro.Network(name=name)
    net.add_population("x", (sizes[0],), neuro.Input())
    names = ["x"]
    for i, n in enumerate(sizes[1:-1]):
        net.add_population(f"h{i}", (n,), neuro.FATReLU(threshold=2.5))
        names.append(f"h{i}")
    net.add_population("y", (sizes[-1],), neuro.Readout())
    names.append("y")
    for a, b in zip(names[:-1], names[1:]):
        na, nb = net.populations[a].size, net.populations[b].size
        w = rng.integers(-1, 3, (na, nb)).astype(float)
        w *= rng.random((na, nb)) < density
        op = neuro.Dense(w)
        if sparse and a != "x":
            keep = rng.random((na, nb)) < 0.5  # stored entries, some with weight 0
            rows, cols = np.nonzero(keep)
            indptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))])
            op = neuro.Sparse(indptr, cols, w[rows, cols], nb)
        net.connect(a, b, op, delay=1)
    if recurrent:
        n = net.populations["h0"].size
        # |recurrent input| < 0.5 keeps firing decided by the integer feed-forward part
        net.connect("h0", "h0", neuro.Dense(rng.standard_normal((n, n)) * 1e-4), delay=1)
    return net


def _spikes(n, steps, rate, seed):
    rng = np.random.default_rng(seed + 100)
    return (rng.random((steps, n)) < rate).astype(float)


CASES = {
    # name: (sizes, options, density, recurrent, sparse, steps, input rate)
    "ff-256-128-10": ([256, 128, 10], {}, 1.0, False, False, 8, 0.2),
    "ff-zero-weights-stored-neurons": (
        [384, 200, 10], {"placement": "neurons", "zero_weights": "store"}, 0.3, False, False,
        6, 0.3,
    ),
    "ff-zero-weights-skipped": ([384, 200, 10], {}, 0.3, False, False, 6, 0.3),
    "recurrent-128-256-10": ([128, 256, 10], {"zero_weights": "store"}, 0.6, True, False, 10,
                             0.15),
    "deep-sparse-200-150-100-10": ([200, 150, 100, 10], {"placement": "neurons"}, 1.0, False,
                                   True, 8, 0.25),
}  # fmt: skip


def _run_both(case, tmp_path):
    sizes, options, density, recurrent, sparse, steps, rate = CASES[case]
    seed = sum(map(ord, case))
    net = _network(sizes, seed, density, recurrent, sparse, name=case.replace("-", "_"))
    x = _spikes(sizes[0], steps, rate, seed)
    res = neuro.run(net, x[:, None, :], backend="cores", hardware="loihi", **options)
    hw = res.info["hardware"]
    exported = export_sanafe(net, x, tmp_path, **options)
    assert exported["notes"] == []
    ref = run_sanafe(exported, timing="simple")
    return net, res, hw, ref


@pytest.mark.parametrize("case", sorted(CASES))
def test_counts_energy_and_latency_agree_with_sanafe(case, tmp_path):
    net, res, hw, ref = _run_both(case, tmp_path)
    totals = hw["totals"]
    steps = hw["steps"]
    # counts: identical
    events = totals["syn_dense"] + totals["syn_sparse"] + totals["syn_conv"]
    assert events == ref["counts"]["synaptic_events"] > 0
    assert totals["messages_sent"] == ref["counts"]["messages"] > 0
    if CASES[case][4]:
        assert totals["syn_sparse"] > 0 and totals["syn_dense"] > 0
    assert totals["hops_east_west"] + totals["hops_north_south"] == ref["counts"]["hops"]
    fired = sum(
        res.counts.populations[n].events
        for n, p in net.populations.items()
        if p.model.type != "readout"
    )
    assert fired == ref["counts"]["neurons_fired"]
    inputs = sum(res.counts.populations[n].events for n, p in net.populations.items()
                 if p.model.is_input)  # fmt: skip
    units = sum(p.size for p in net.populations.values() if not p.model.is_input)
    assert units * steps + inputs == ref["counts"]["neurons_updated"]
    # energy and simple-timing latency: within 10 % (in fact equal to rounding)
    energy, ref_energy = hw["energy_pj"]["total"], ref["energy_pj"]["total"]
    assert energy == pytest.approx(ref_energy, rel=TOLERANCE)
    assert energy == pytest.approx(ref_energy, rel=1e-9)
    latency = np.asarray(hw["latency_ns"]["per_step"])
    ref_latency = np.asarray(ref["latency_ns"]["per_step"])
    assert latency.sum() == pytest.approx(ref_latency.sum(), rel=TOLERANCE)
    np.testing.assert_allclose(latency, ref_latency, rtol=1e-9)
    # per term: synapse, soma and network energy as SANA-FE splits them
    b = hw["energy_pj"]["breakdown"]
    synapse = sum(b[k] for k in b if k.startswith("synaptic event")) + b["dendrite update"]
    soma = b["neuron access"] + b["neuron update (no spike)"] + b["neuron update (spike)"]
    soma += b["spike generation"]
    network = b["message send"] + b["message receive"] + b["hop east-west"]
    network += b["hop north-south"]
    assert synapse == pytest.approx(ref["energy_pj"]["synapse"], rel=1e-9)
    assert soma == pytest.approx(ref["energy_pj"]["soma"], rel=1e-9)
    assert network == pytest.approx(ref["energy_pj"]["network"], rel=1e-9)


def test_davies_figures_differ_from_sanafe_as_documented(tmp_path):
    """The pre-silicon profile misses SANA-FE's message and access terms: lower energy."""
    net = _network([256, 128, 10], 3)
    x = _spikes(256, 6, 0.2, 3)
    davies = neuro.run(net, x[:, None, :], backend="cores", hardware="loihi-davies2018")
    calibrated = neuro.run(net, x[:, None, :], backend="cores", hardware="loihi")
    ref = run_sanafe(export_sanafe(net, x, tmp_path))
    e_davies = davies.info["hardware"]["energy_pj"]["total"]
    e_cal = calibrated.info["hardware"]["energy_pj"]["total"]
    assert e_cal == pytest.approx(ref["energy_pj"]["total"], rel=1e-9)
    assert e_davies < 0.8 * ref["energy_pj"]["total"]


def test_export_writes_profile_costs_and_notes(tmp_path):
    net = _network([16, 8, 4], 0)
    x = _spikes(16, 3, 0.5, 0)
    out = export_sanafe(net, x, tmp_path, hardware="loihi-davies2018", zero_weights="store")
    arch = open(out["architecture"]).read()
    assert "energy_process_spike: 2.36e-11" in arch
    assert "latency_sync" in arch
    assert any("within-tile" in note for note in out["notes"])
    snn = open(out["network"]).read()
    assert "type: dense" in snn and "mappings:" in snn  # every weight stored: dense lists
    sparse = open(export_sanafe(net, x, tmp_path / "skip")["network"]).read()
    assert "type: sparse" in sparse  # zero weights left out: explicit pairs
    ref = run_sanafe(out)
    assert ref["counts"]["neurons_fired"] > 0


def test_export_rejects_what_sanafe_cannot_represent(tmp_path):
    net = _network([8, 4, 2], 0)
    with pytest.raises(ParameterError, match="binary"):
        export_sanafe(net, np.full((2, 8), 0.5), tmp_path)
    egru = neuro.Network(name="g")
    egru.add_population("x", (4,), neuro.Input())
    egru.add_population("k", (4,), neuro.KWTA(k=2))
    egru.connect("x", "k", neuro.Dense(np.ones((4, 4))))
    with pytest.raises(ParameterError, match="'k'.*kwta"):
        export_sanafe(egru, np.ones((2, 4)), tmp_path)
    slow = _network([8, 4, 2], 0)
    slow.connect("x", "y", neuro.Dense(np.ones((8, 2))), delay=3, name="late")
    with pytest.raises(ParameterError, match="'late'.*delay 3"):
        export_sanafe(slow, np.ones((2, 8)), tmp_path)


def test_detailed_timing_runs_on_the_export(tmp_path):
    """SANA-FE's detailed NoC model on the exported files: same counts, its own latency."""
    net = _network([128, 64, 10], 5)
    x = _spikes(128, 4, 0.3, 5)
    out = export_sanafe(net, x, tmp_path)
    simple = run_sanafe(out, timing="simple")
    detailed = run_sanafe(out, timing="detailed")
    assert detailed["counts"] == simple["counts"]
    assert detailed["energy_pj"]["total"] == pytest.approx(simple["energy_pj"]["total"])
    assert detailed["latency_ns"]["total"] > 0
    assert load_profile("loihi").barrier_sync_table is not None


def test_cores_backend_detailed_timing_delegates_to_sanafe(tmp_path):
    net = _network([96, 48, 10], 7)
    x = _spikes(96, 5, 0.3, 7)
    simple = neuro.run(net, x[:, None, :], backend="cores")
    detailed = neuro.run(net, x[:, None, :], backend="cores", timing="detailed")
    hw, hw_simple = detailed.info["hardware"], simple.info["hardware"]
    assert hw["timing"] == "detailed"
    assert any("detailed timing" in w for w in hw["warnings"])
    ref = run_sanafe(export_sanafe(net, x, tmp_path), timing="detailed")
    np.testing.assert_allclose(hw["latency_ns"]["per_step"], ref["latency_ns"]["per_step"])
    assert hw["energy_pj"]["total"] == hw_simple["energy_pj"]["total"]
    assert hw["totals"] == hw_simple["totals"]


def test_convolution_agrees_with_sanafe(tmp_path):
    """Conv2d synapses (kernels expanded, priced as conv events) then a dense readout."""
    rng = np.random.default_rng(11)
    net = neuro.Network(name="conv")
    net.add_population("x", (1, 8, 8), neuro.Input())
    net.add_population("c", (3, 6, 6), neuro.FATReLU(threshold=1.5))
    net.add_population("y", (4,), neuro.Readout())
    kernel = rng.integers(-1, 2, (3, 1, 3, 3)).astype(float)
    net.connect("x", "c", neuro.Conv2d(kernel, in_shape=(1, 8, 8)), delay=1)
    net.connect("c", "y", neuro.Dense(rng.integers(-1, 3, (108, 4)).astype(float)), delay=1)
    x = (rng.random((6, 64)) < 0.4).astype(float)
    hw = neuro.run(net, x.reshape(6, 1, 1, 8, 8), backend="cores", placement="neurons").info[
        "hardware"
    ]
    ref = run_sanafe(export_sanafe(net, x, tmp_path, placement="neurons"))
    totals = hw["totals"]
    assert totals["syn_conv"] > 0 and totals["syn_dense"] > 0
    assert totals["syn_conv"] + totals["syn_dense"] == ref["counts"]["synaptic_events"]
    assert totals["messages_sent"] == ref["counts"]["messages"]
    assert hw["energy_pj"]["total"] == pytest.approx(ref["energy_pj"]["total"], rel=1e-9)
    np.testing.assert_allclose(hw["latency_ns"]["per_step"], ref["latency_ns"]["per_step"])
