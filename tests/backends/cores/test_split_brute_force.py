"""Split populations on a small mesh: every per-core counter, busy time, latency and energy
recounted event by event by a brute-force model written here.

The model uses only the mapping's unit → core placement and the profile's prices.  It
builds each projection's weight matrix itself (loops over CSR rows and convolution
taps, not the operators' ``apply``), follows every emitted event to the cores of its
non-zero synapses, lays cores out on the tile mesh from the profile's geometry fields,
and counts messages, hops and chip crossings per (step, sample, core).  Busy time is
max(neuron side, synapse side) (``timing="simple"``) or their sum plus routing
(``"serial"``); the latency of a sample-step is the slowest core plus the barrier.
"""

import numpy as np
import pytest
from cores_helpers import KINDS, cases, random_case, weight_matrix

import neuro
from neuro.hardware import load_profile
from neuro.hardware.mapper import map_network

# (counter, energy field, time field, side): the cost model as documented in docs/hardware.md
TERMS = [
    ("syn_dense", "energy_synop_pj", "time_synop_ns", "synapse"),
    ("syn_sparse", "energy_synop_sparse_pj", "time_synop_sparse_ns", "synapse"),
    ("syn_conv", "energy_synop_conv_pj", "time_synop_conv_ns", "synapse"),
    ("syn_events", "energy_dendrite_update_pj", "time_dendrite_update_ns", "synapse"),
    ("messages_received", "energy_message_receive_pj", "time_message_receive_ns", "synapse"),
    ("updates", "energy_neuron_access_pj", "time_neuron_access_ns", "neuron"),
    ("updates_inactive", "energy_neuron_update_inactive_pj", "time_neuron_update_inactive_ns",
     "neuron"),
    ("updates_active", "energy_neuron_update_active_pj", "time_neuron_update_active_ns",
     "neuron"),
    ("spikes", "energy_spike_generation_pj", "time_spike_generation_ns", "neuron"),
    ("messages_sent", "energy_message_send_pj", "time_message_send_ns", "neuron"),
    ("messages_within_tile", "energy_spike_within_tile_pj", "time_spike_within_tile_ns",
     "network"),
    ("hops_east_west", "energy_hop_east_west_pj", "time_hop_east_west_ns", "network"),
    ("hops_north_south", "energy_hop_north_south_pj", "time_hop_north_south_ns", "network"),
    ("chip_crossings", "energy_chip_crossing_pj", "time_chip_crossing_ns", "network"),
]  # fmt: skip
BASIC = ["synops", "syn_dense", "syn_sparse", "syn_conv", "updates_active", "updates_inactive",
         "spikes", "messages_sent", "messages_received", "messages_within_tile",
         "hops_east_west", "hops_north_south", "chip_crossings"]  # fmt: skip


def small_mesh_profile():
    """Two cores per tile, 3 x 2 tiles per chip, every price non-zero and distinct."""
    values = {"cores_per_tile": 2, "mesh_width": 3, "mesh_height": 2, "cores_per_chip": 12}
    for k, (_, energy, time, _) in enumerate(TERMS):
        values[energy] = 1.0 + 0.37 * k
        values[time] = 0.5 + 0.61 * k
    return load_profile("loihi").with_values(**values)


def entry_unit(width, size):
    """The unit driven by port entry j: j % size for gate blocks, j·size // width else."""
    j = np.arange(width)
    return j % size if width % size == 0 else j * size // width


def brute_force(net, mapping, profile, activity, timing):
    """Per (step, sample, core) counters, busy time and latency, event by event."""
    T, B = next(iter(activity.values())).shape[:2]
    n = mapping.n_cores
    core = {name: mapping.core_of(name) for name in net.populations}
    cpc = profile.cores_per_chip
    place = {}
    for c in range(n):
        chip, local = divmod(c, cpc)
        y, x = divmod(local // profile.cores_per_tile, profile.mesh_width)
        place[c] = (chip, chip * profile.mesh_width + x, y)  # chips side by side east-west
    cnt = {k: np.zeros((T, B, n), np.int64) for k in BASIC}
    units_on = np.zeros(n, np.int64)
    for name, pop in net.populations.items():
        if not pop.model.is_input:
            for c in core[name]:
                units_on[c] += 1
    nz = {}
    for p in net.projections.values():
        m = weight_matrix(p.weights)
        post = net.populations[p.post]
        nz[p.name] = (m != 0, core[p.post][entry_unit(m.shape[1], post.size)])
    kind = {"Dense": "syn_dense", "Sparse": "syn_sparse", "Conv2d": "syn_conv"}
    for name, pop in net.populations.items():
        out = net.outgoing(name)
        for t in range(T):
            for b in range(B):
                for i in np.nonzero(activity[name][t, b])[0]:
                    src = core[name][i]
                    if not pop.model.is_input:
                        cnt["updates_active"][t, b, src] += 1
                        if pop.model.type != "readout":
                            cnt["spikes"][t, b, src] += 1
                    dst_by_delay = {}
                    for p in out:
                        mask, entry_core = nz[p.name]
                        for j in np.nonzero(mask[i])[0]:
                            d = entry_core[j]
                            cnt[kind[type(p.weights).__name__]][t, b, d] += 1
                            if t + p.delay < T:
                                cnt["synops"][t + p.delay, b, d] += 1
                            dst_by_delay.setdefault(p.delay, set()).add(int(d))
                    for dsts in dst_by_delay.values():
                        for d in dsts:
                            cnt["messages_sent"][t, b, src] += 1
                            cnt["messages_received"][t, b, d] += 1
                            (ca, xa, ya), (cb, xb, yb) = place[src], place[d]
                            if (ca, xa, ya) == (cb, xb, yb):
                                cnt["messages_within_tile"][t, b, src] += 1
                            else:
                                cnt["hops_east_west"][t, b, src] += abs(xa - xb)
                                cnt["hops_north_south"][t, b, src] += abs(ya - yb)
                                cnt["chip_crossings"][t, b, src] += abs(ca - cb)
    cnt["updates_inactive"] = units_on - cnt["updates_active"]
    derived = {
        **cnt,
        "updates": np.broadcast_to(units_on, (T, B, n)),
        "syn_events": cnt["syn_dense"] + cnt["syn_sparse"] + cnt["syn_conv"],
    }
    side = {"neuron": 0.0, "synapse": 0.0, "network": 0.0}
    energy = 0.0
    for counter, e_field, t_field, s in TERMS:
        side[s] = side[s] + derived[counter] * getattr(profile, t_field)
        energy += float(derived[counter].sum()) * getattr(profile, e_field)
    if timing == "simple":
        busy = np.maximum(side["neuron"], side["synapse"])
    else:
        busy = side["neuron"] + side["synapse"] + side["network"]
    tiles = {place[c] for name in net.populations for c in core[name]}
    latency = np.maximum(busy.max(axis=-1) + profile.barrier_sync_ns(len(tiles)), profile.tick_ns)
    return cnt, derived, busy, latency, energy, len(tiles)


@pytest.mark.parametrize("timing", ["simple", "serial"])
@pytest.mark.parametrize("seed, kind", cases(KINDS, per_kind=2, start=30))
def test_split_populations_counted_by_brute_force(seed, kind, timing):
    net, x, steps = random_case(seed, kind)
    profile = small_mesh_profile()
    max_units = 3
    pops = list(net.populations)
    res = neuro.run(net, x, backend="cores", hardware=profile, max_units_per_core=max_units,
                    timing=timing, record=pops, dtype="float64")  # fmt: skip
    mapping = map_network(net, profile, max_units_per_core=max_units)
    assert mapping.n_cores == len(res.info["hardware"]["per_core"]["synops"])
    split = [n for n in pops if len(set(mapping.core_of(n).tolist())) > 1]
    assert split, "no population was split"
    assert mapping.n_cores > profile.cores_per_tile  # more than one tile
    ref = neuro.run(net, x, backend="reference", record=pops)
    for name in pops:
        np.testing.assert_allclose(res.recordings[name], ref.recordings[name], rtol=1e-12,
                                   atol=1e-12, err_msg=name)  # fmt: skip
    activity = {n: ref.recordings[n].reshape(steps, x.shape[1], -1) for n in pops}
    cnt, derived, busy, latency, energy, tiles = brute_force(
        net, mapping, profile, activity, timing
    )
    hw = res.info["hardware"]
    assert hw["tiles_used"] == tiles
    for key in BASIC:
        np.testing.assert_array_equal(hw["per_core"][key], cnt[key].sum(axis=(0, 1)), key)
        np.testing.assert_array_equal(
            hw["per_step_per_core"][key], cnt[key].sum(axis=1), err_msg=key
        )
    assert cnt["messages_sent"].sum() > 0 and cnt["hops_east_west"].sum() > 0
    assert cnt["chip_crossings"].sum() > 0
    # busy time of the run's totals per core, in the same model
    totals = {k: v.sum(axis=(0, 1)) for k, v in derived.items()}
    side = {"neuron": 0.0, "synapse": 0.0, "network": 0.0}
    for counter, _, t_field, s in TERMS:
        side[s] = side[s] + totals[counter] * getattr(profile, t_field)
    if timing == "simple":
        expected_busy = np.maximum(side["neuron"], side["synapse"])
    else:
        expected_busy = side["neuron"] + side["synapse"] + side["network"]
    np.testing.assert_allclose(hw["per_core"]["busy_time_ns"], expected_busy, rtol=1e-12)
    lat = hw["latency_ns"]
    np.testing.assert_allclose(lat["per_step"], latency.mean(axis=1), rtol=1e-12)
    assert lat["max_per_step"] == pytest.approx(latency.max(), rel=1e-12)
    assert lat["min_per_step"] == pytest.approx(latency.min(), rel=1e-12)
    assert lat["per_sample"] == pytest.approx(latency.sum() / x.shape[1], rel=1e-12)
    assert hw["energy_pj"]["total"] == pytest.approx(energy, rel=1e-12)
    crit = hw["critical_path"]["per_step"]
    for t, row in enumerate(crit):
        assert row["busy_ns"] == pytest.approx(busy[t].max(), rel=1e-12)
