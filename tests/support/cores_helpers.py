"""Independent references for the cores tests: dense per-core counts from recordings."""

import numpy as np
from netgen import KINDS, cases, random_case  # noqa: E402

__all__ = [
    "KINDS",
    "cases",
    "random_case",
    "mask_apply",
    "weight_matrix",
    "route_energy_pj",
    "independent_core_counts",
]


def weight_matrix(op):
    """(n_pre, n_out) float matrix of a weight operator, built entry by entry."""
    kind = type(op).__name__
    if kind == "Dense":
        return np.array(op.weight, dtype=np.float64)
    m = np.zeros((op.n_pre, op.n_out))
    if kind == "Sparse":
        for i in range(op.n_pre):
            for k in range(op.indptr[i], op.indptr[i + 1]):
                m[i, op.indices[k]] += op.data[k]
        return m
    assert kind == "Conv2d", kind
    c_in, h, w = op.in_shape
    c_out, cg, kh, kw = op.weight.shape
    _, h_out, w_out = op.out_shape
    (sh, sw), (ph, pw) = op.stride, op.padding
    og = c_out // op.groups
    for co in range(c_out):
        for cl in range(cg):
            ci = (co // og) * cg + cl
            for ky in range(kh):
                for kx in range(kw):
                    for oy in range(h_out):
                        for ox in range(w_out):
                            iy, ix = oy * sh - ph + ky, ox * sw - pw + kx
                            if 0 <= iy < h and 0 <= ix < w:
                                m[ci * h * w + iy * w + ix, (co * h_out + oy) * w_out + ox] += (
                                    op.weight[co, cl, ky, kx]
                                )
    return m


def mask_apply(weights, x):
    """Per port entry, how many (non-zero input, non-zero weight) pairs reach it: (B, n_out)."""
    nz = (weight_matrix(weights) != 0).astype(np.int64)
    return (np.asarray(x) != 0).astype(np.int64) @ nz


def route_energy_pj(profile, a, b):
    """Energy of one message from core ``a`` to core ``b``, from the mesh layout.

    Cores fill tiles of ``cores_per_tile``, tiles fill rows of ``mesh_width``, chips of
    ``cores_per_chip`` cores sit side by side east-west.
    """

    def place(c):
        chip, local = divmod(int(c), profile.cores_per_chip)
        y, x = divmod(local // profile.cores_per_tile, profile.mesh_width)
        return chip, chip * profile.mesh_width + x, y

    (ca, xa, ya), (cb, xb, yb) = place(a), place(b)
    if (ca, xa, ya) == (cb, xb, yb):
        return profile.energy_spike_within_tile_pj
    return (
        abs(xa - xb) * profile.energy_hop_east_west_pj
        + abs(ya - yb) * profile.energy_hop_north_south_pj
        + abs(ca - cb) * profile.energy_chip_crossing_pj
    )


def _kind(weights):
    name = type(weights).__name__
    return {"Sparse": "sparse", "Complementary": "sparse", "Conv2d": "conv"}.get(name, "dense")


def independent_core_counts(net, mapping, activity, steps, profile):
    """Per-core synops, charged synaptic events, updates, messages and energy by brute force.

    ``activity[name]`` is the (T, B, n) output of every population (reference backend).
    Synops follow delivery (step t - delay's events at step t, within the run);
    charged synaptic events and messages follow emission (every event of the run).
    Messages: for every emitted event and every delay, the set of cores holding a
    non-zero synapse of it; each message's energy from :func:`route_energy_pj`.
    """
    n = mapping.n_cores
    syn = np.zeros(n, np.int64)
    active = np.zeros(n, np.int64)
    spikes = np.zeros(n, np.int64)
    units = np.zeros(n, np.int64)
    sent = np.zeros(n, np.int64)
    recv = np.zeros(n, np.int64)
    route_pj = 0.0
    kinds = {k: np.zeros(n, np.int64) for k in ("dense", "sparse", "conv")}
    for name, pop in net.populations.items():
        core = mapping.core_of(name)
        if not pop.model.is_input:
            np.add.at(units, core, 1)
            ev = (activity[name] != 0).reshape(-1, pop.size).sum(axis=0)
            np.add.at(active, core, ev)
            if pop.model.type != "readout":
                np.add.at(spikes, core, ev)
    batch = next(iter(activity.values())).shape[1]
    for p in net.projections.values():
        post = net.populations[p.post]
        width = p.weights.n_out
        entry_unit = np.arange(width) % post.size
        core = mapping.core_of(p.post)[entry_unit]
        for t in range(p.delay, steps):
            per_entry = mask_apply(p.weights, activity[p.pre][t - p.delay])
            np.add.at(syn, core, np.rint(per_entry.sum(axis=0)).astype(np.int64))
        for t in range(steps):
            per_entry = mask_apply(p.weights, activity[p.pre][t])
            np.add.at(kinds[_kind(p.weights)], core,
                      np.rint(per_entry.sum(axis=0)).astype(np.int64))  # fmt: skip
    for name in net.populations:
        src_core = mapping.core_of(name)
        for delay in sorted({p.delay for p in net.outgoing(name)}):
            projs = [p for p in net.outgoing(name) if p.delay == delay]
            n_pre = net.populations[name].size
            reach = np.zeros((n_pre, n), bool)
            for p in projs:
                post = net.populations[p.post]
                eye = np.eye(n_pre)
                hit = mask_apply(p.weights, eye) > 0  # (n_pre, n_out)
                entry_core = mapping.core_of(p.post)[np.arange(p.weights.n_out) % post.size]
                for j in range(p.weights.n_out):
                    reach[hit[:, j], entry_core[j]] = True
            for t in range(steps):
                x = activity[name][t]
                for b in range(batch):
                    for i in np.nonzero(x[b])[0]:
                        for d in np.nonzero(reach[i])[0]:
                            sent[src_core[i]] += 1
                            recv[d] += 1
                            route_pj += route_energy_pj(profile, src_core[i], d)
    inactive = units * batch * steps - active
    events = sum(kinds.values())
    energy = (
        kinds["dense"].sum() * profile.energy_synop_pj
        + kinds["sparse"].sum() * profile.energy_synop_sparse_pj
        + kinds["conv"].sum() * profile.energy_synop_conv_pj
        + events.sum() * profile.energy_dendrite_update_pj
        + units.sum() * batch * steps * profile.energy_neuron_access_pj
        + active.sum() * profile.energy_neuron_update_active_pj
        + spikes.sum() * profile.energy_spike_generation_pj
        + inactive.sum() * profile.energy_neuron_update_inactive_pj
        + sent.sum() * profile.energy_message_send_pj
        + recv.sum() * profile.energy_message_receive_pj
        + route_pj
    )  # fmt: skip
    return {
        "synops": syn,
        "syn_dense": kinds["dense"],
        "syn_sparse": kinds["sparse"],
        "syn_conv": kinds["conv"],
        "updates_active": active,
        "updates_inactive": inactive,
        "spikes": spikes,
        "messages_sent": sent,
        "messages_received": recv,
        "energy_pj": energy,
    }
