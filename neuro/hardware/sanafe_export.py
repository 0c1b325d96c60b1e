"""Write a network and its placement as a SANA-FE architecture and network.

SANA-FE (Boyle et al., "SANA-FE: Simulating Advanced Neuromorphic Architectures for
Fast Exploration", IEEE TCAD 2025; PyPI ``sanafe``) simulates binary-spike networks on
a described architecture, with a simple and a detailed (network-on-chip) timing
model.  :func:`export_sanafe` writes two YAML files it reads — the architecture
(``load_arch``) built from a :class:`~neuro.hardware.HardwareProfile`, and the network
with its placement (``load_net``) built from a :class:`~neuro.Network` and a
:class:`~neuro.hardware.mapper.Mapping` — so that the same network, placement and
per-operation costs can be run in SANA-FE.  :func:`run_sanafe` runs them when the
``sanafe`` package is installed (``pip install neuro[sanafe]``, Python >= 3.11).

Correspondence
--------------
* ``Input`` populations become SANA-FE input neurons with the given binary spike
  trains; ``FATReLU`` populations become Loihi LIF neurons that keep no state between
  steps (``leak_decay = input_decay = 0``, hard reset to 0, updated every step) and
  fire when the input exceeds the threshold — the same firing rule on binary inputs;
  ``Readout`` populations are LIF neurons that never fire.  Other models raise.
* SANA-FE applies a spike one step after it is sent: a projection with delay 1 has
  the same semantics; delay 0 is exported as delay 1 (noted); larger delays raise.
* Every stored connection of the mapping is written (zero weights too when the
  mapping stores them); SANA-FE charges each one when its source fires.
* Core ``c`` of the placement is placed on the SANA-FE tile at the same mesh position
  (SANA-FE numbers tiles column by column, neuro row by row), so hop counts agree.
* Cost figures are the profile's, in SI units.  The active-update cost of the profile
  is written as SANA-FE's spike cost plus its update cost.  Terms SANA-FE has no
  place for (within-tile message cost, chip crossings) are listed in the returned
  ``notes``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..exceptions import ParameterError

__all__ = ["export_sanafe", "run_sanafe", "SANAFE_VERSION"]

SANAFE_VERSION = "2.2.9"
"""The SANA-FE release the files are written for and cross-checked against."""

_PJ, _NS = 1e-12, 1e-9
_NEVER = 1.0e30


def _num(x: float) -> str:
    return repr(float(x))


def _flow(values) -> str:
    return "[" + ", ".join(_num(v) for v in values) + "]"


def _sync_table(profile) -> dict[int, float]:
    table = profile.barrier_sync_table
    if table is not None:
        return {int(t): float(v) * _NS for t, v in zip(table.tiles, table.ns)}
    return {n: profile.barrier_sync_ns(n) * _NS for n in range(1, profile.tiles_per_chip + 1)}


def _architecture_yaml(profile, n_chips: int, inputs_per_core: int) -> str:
    p = profile
    width, height = p.mesh_width * max(1, n_chips), p.mesh_height
    sync = ", ".join(f"{t}: {_num(v)}" for t, v in _sync_table(p).items())
    spike_out = p.energy_spike_generation_pj + (
        p.energy_neuron_update_active_pj - p.energy_neuron_update_inactive_pj
    )
    spike_out_t = p.time_spike_generation_ns + (
        p.time_neuron_update_active_ns - p.time_neuron_update_inactive_ns
    )
    lines = [
        f"# SANA-FE {SANAFE_VERSION} architecture written by neuro from hardware profile "
        f"{p.name!r}",
        "architecture:",
        f"  name: neuro_{p.name.replace('-', '_')}",
        "  attributes:",
        "    topology: mesh",
        f"    width: {width}",
        f"    height: {height}",
        "    link_buffer_size: 16",
        "    sync_model: table",
        f"    latency_sync: {{{sync}}}",
        "  tile:",
        f"    - name: tile[0..{width * height - 1}]",
        "      attributes:",
    ]
    for d, (e, t) in {
        "north": (p.energy_hop_north_south_pj, p.time_hop_north_south_ns),
        "south": (p.energy_hop_north_south_pj, p.time_hop_north_south_ns),
        "east": (p.energy_hop_east_west_pj, p.time_hop_east_west_ns),
        "west": (p.energy_hop_east_west_pj, p.time_hop_east_west_ns),
    }.items():
        lines += [
            f"        energy_{d}_hop: {_num(e * _PJ)}",
            f"        latency_{d}_hop: {_num(t * _NS)}",
        ]
    lines += [
        "      core:",
        f"        - name: core[0..{p.cores_per_tile - 1}]",
        "          attributes:",
        "            buffer_position: soma",
        "            buffer_inside_unit: false",
        f"            max_neurons_supported: {p.units_per_core}",
        "          axon_in:",
        "            - name: neuro_in",
        "              attributes:",
        f"                energy_message_in: {_num(p.energy_message_receive_pj * _PJ)}",
        f"                latency_message_in: {_num(p.time_message_receive_ns * _NS)}",
        "          soma:",
        "            - name: neuro_lif",
        "              attributes:",
        "                model: leaky_integrate_fire",
        f"                energy_access_neuron: {_num(p.energy_neuron_access_pj * _PJ)}",
        f"                latency_access_neuron: {_num(p.time_neuron_access_ns * _NS)}",
        f"                energy_update_neuron: {_num(p.energy_neuron_update_inactive_pj * _PJ)}",
        f"                latency_update_neuron: {_num(p.time_neuron_update_inactive_ns * _NS)}",
        f"                energy_spike_out: {_num(spike_out * _PJ)}",
        f"                latency_spike_out: {_num(spike_out_t * _NS)}",
        f"            - name: neuro_input[0..{max(1, inputs_per_core) - 1}]",
        "              attributes:",
        "                model: input",
        "                energy_access_neuron: 0.0",
        "                latency_access_neuron: 0.0",
        "                energy_update_neuron: 0.0",
        "                latency_update_neuron: 0.0",
        "                energy_spike_out: 0.0",
        "                latency_spike_out: 0.0",
        "          dendrite:",
        "            - name: neuro_dendrite",
        "              attributes:",
        "                model: accumulator",
        f"                energy_update: {_num(p.energy_dendrite_update_pj * _PJ)}",
        f"                latency_update: {_num(p.time_dendrite_update_ns * _NS)}",
        "          synapse:",
    ]
    for kind, (e, t) in {
        "dense": (p.energy_synop_pj, p.time_synop_ns),
        "sparse": (p.energy_synop_sparse_pj, p.time_synop_sparse_ns),
        "conv": (p.energy_synop_conv_pj, p.time_synop_conv_ns),
    }.items():
        lines += [
            f"            - name: neuro_{kind}_synapse",
            "              attributes:",
            "                model: current_based",
            f"                energy_process_spike: {_num(e * _PJ)}",
            f"                latency_process_spike: {_num(t * _NS)}",
        ]
    lines += [
        "          axon_out:",
        "            - name: neuro_out",
        "              attributes:",
        f"                energy_message_out: {_num(p.energy_message_send_pj * _PJ)}",
        f"                latency_message_out: {_num(p.time_message_send_ns * _NS)}",
    ]
    return "\n".join(lines) + "\n"


def _input_trains(network, inputs, steps) -> dict[str, np.ndarray]:
    names = [n for n, p in network.populations.items() if p.model.is_input]
    if not isinstance(inputs, dict):
        if len(names) != 1:
            raise ParameterError(
                f"export_sanafe: network {network.name!r} has input populations {names}; "
                "pass inputs as a dict of (steps, size) arrays by population name."
            )
        inputs = {names[0]: inputs}
    trains = {}
    for name in names:
        if name not in inputs:
            raise ParameterError(f"export_sanafe: no spike train for input population {name!r}.")
        x = np.asarray(inputs[name], np.float64)
        size = network.populations[name].size
        x = x.reshape(x.shape[0], -1) if x.ndim > 1 else x.reshape(1, -1)
        if x.shape[1] != size:
            raise ParameterError(
                f"export_sanafe: input population {name!r} has {size} units, its spike train "
                f"has {x.shape[1]} per step (expected shape (steps, {size}))."
            )
        if steps is not None and x.shape[0] != steps:
            x = np.resize(x, (steps, size))
        if not np.all((x == 0) | (x == 1)):
            bad = x[(x != 0) & (x != 1)][0]
            raise ParameterError(
                f"export_sanafe: input population {name!r} has value {bad!r}; SANA-FE spikes "
                "are binary, values must be 0 or 1."
            )
        trains[name] = x.astype(np.int64)
    return trains


def _soma(pop) -> tuple[str, np.ndarray | float]:
    kind = pop.model.type
    if kind == "fatrelu":
        th = np.asarray(pop.model.threshold, np.float64)
        if th.ndim == 0:
            return "lif", float(th)
        per_channel = pop.size // th.size
        return "lif", np.repeat(th, per_channel)
    if kind == "readout":
        return "lif", _NEVER
    if pop.model.is_input and kind == "input":
        return "input", 0.0
    raise ParameterError(
        f"export_sanafe: population {pop.name!r} has neuron model {kind!r}; SANA-FE export "
        "supports input, fatrelu and readout populations (binary-spike networks)."
    )


def _network_yaml(network, mapping, trains, notes) -> str:
    profile = mapping.profile
    lines = [
        f"# SANA-FE {SANAFE_VERSION} network written by neuro: {network.name!r} placed on "
        f"{profile.name!r} ({mapping.placement} placement, zero weights {mapping.zero_weights})",
        "network:",
        f"  name: {network.name or 'neuro'}",
        "  groups:",
    ]
    kinds = _post_kinds(network, notes)
    bias = {n: np.zeros(p.size) for n, p in network.populations.items()}
    for proj in network.projections.values():
        if proj.delay > 1:
            raise ParameterError(
                f"export_sanafe: projection {proj.name!r} has delay {proj.delay}; SANA-FE "
                "applies every spike one step later, so only delays 0 and 1 are exported."
            )
        if proj.delay == 0:
            notes.append(f"projection {proj.name!r}: delay 0 runs as delay 1 in SANA-FE")
        if proj.bias is not None:
            size = network.populations[proj.post].size
            bias[proj.post] = bias[proj.post] + np.asarray(proj.port_bias(), np.float64)[:size]
    for name, pop in network.populations.items():
        soma, threshold = _soma(pop)
        lines.append(f"    - name: {name}")
        if soma == "input":
            lines += ["      attributes: []", "      neurons:"]
            for i, train in enumerate(trains[name].T):
                lines.append(f"        - {i}: [spikes: [{', '.join(map(str, train))}]]")
            continue
        attrs = (
            "reset: 0.0, reset_mode: hard, leak_decay: 0.0, input_decay: 0.0, force_update: true"
        )
        b = bias[name]
        th = np.broadcast_to(np.asarray(threshold, np.float64), (pop.size,))
        uniform = not np.any(b) and np.all(th == th[0])
        if uniform:
            attrs += f", threshold: {_num(th[0])}"
        lines += [f"      attributes: [{{soma: {{{attrs}}}}}]", "      neurons:"]
        if uniform:
            lines.append(f"        - 0..{pop.size - 1}: []")
        else:
            lines += [
                f"        - {i}: [{{soma: {{threshold: {_num(t)}, bias: {_num(v)}}}}}]"
                for i, (t, v) in enumerate(zip(th, b))
            ]
    lines.append("  edges:")
    for proj in network.projections.values():
        lines += _edge_lines(network, mapping, proj)
    lines.append("mappings:")
    for name, pop in network.populations.items():
        soma, _ = _soma(pop)
        bounds = mapping.populations[name]
        first = mapping.first_core[name]
        for k in range(len(bounds) - 1):
            a, b = int(bounds[k]), int(bounds[k + 1])
            if b <= a:
                continue
            core = _sanafe_core(profile, first + k)
            syn = f", synapse: neuro_{kinds.get(name, 'dense')}_synapse"
            if soma == "input":
                lines += [
                    f"  - {name}.{i}: [{{core: {core}, soma: 'neuro_input[{i - a}]'}}]"
                    for i in range(a, b)
                ]
            else:
                lines.append(f"  - {name}.{a}..{b - 1}: [{{core: {core}, soma: neuro_lif{syn}}}]")
    return "\n".join(lines) + "\n"


def _post_kinds(network, notes) -> dict[str, str]:
    from ..backends.cores.routing import connection_kind

    kinds: dict[str, str] = {}
    for proj in network.projections.values():
        kind = connection_kind(proj.weights)
        if kinds.setdefault(proj.post, kind) != kind:
            notes.append(
                f"population {proj.post!r} receives {kinds[proj.post]} and {kind} projections; "
                f"SANA-FE prices all its synapses as {kinds[proj.post]}"
            )
    return kinds


def _edge_lines(network, mapping, proj) -> list[str]:
    pre, post = proj.pre, proj.post
    stored = mapping.synapses[proj.name].tocoo()
    weights = _unit_weights(proj, network.populations[post])
    if type(proj.weights).__name__ == "Dense" and stored.nnz == weights.size:
        return [f"    - {pre} -> {post}: [{{type: dense, weight: {_flow(weights.ravel())}}}]"]
    order = np.lexsort((stored.col, stored.row))
    rows, cols = stored.row[order], stored.col[order]
    pairs = ", ".join(f"[{int(r)}, {int(c)}]" for r, c in zip(rows, cols))
    w = weights[rows, cols]
    return [
        f"    - {pre} -> {post}: [{{type: sparse, source_target_pairs: [{pairs}], "
        f"weight: {_flow(w)}}}]"
    ]


def _unit_weights(proj, post_pop) -> np.ndarray:
    """Weight from each pre unit to each post unit (n_pre, post_size); one port entry each."""
    op = proj.weights
    full = op.dense()  # (n_pre, n_out)
    post_size = post_pop.size
    units = post_pop.model.port_units(proj.port, post_size)
    if full.shape[1] != post_size or not np.array_equal(units, np.arange(post_size)):
        raise ParameterError(
            f"export_sanafe: projection {proj.name!r} drives a port of {full.shape[1]} entries "
            f"on population {proj.post!r} of {post_size} units; only one entry per unit can "
            "be exported."
        )
    return full


def _sanafe_core(profile, core: int) -> str:
    chip, x, y = profile.mesh_position(core)
    x += chip * profile.mesh_width
    tile = x * profile.mesh_height + y
    return f"{tile}.{core % profile.cores_per_tile}"


def export_sanafe(
    network,
    inputs,
    directory: str | os.PathLike[str],
    hardware="loihi",
    mapping=None,
    steps: int | None = None,
    placement: str = "memory",
    zero_weights: str = "skip",
) -> dict:
    """Write ``network``, its placement and the profile's costs as SANA-FE YAML files.

    Parameters
    ----------
    network : Network
        Input, FATReLU and Readout populations; projections with delay 0 or 1 and one
        port entry per post-synaptic unit.
    inputs : ndarray (steps, n) or dict of str → ndarray
        Binary (0/1) spike trains of the input populations, one row per step.
    directory : path
        Where ``arch.yaml`` and ``snn.yaml`` are written (created if missing).
    hardware : str, path or HardwareProfile
        Profile of the architecture (ignored when ``mapping`` is given).
    mapping : Mapping, optional
        The placement to write; default: :func:`~neuro.hardware.mapper.map_network`
        with ``placement`` and ``zero_weights``.
    steps : int, optional
        Steps to write spike trains for (input rows are repeated to this length).
    placement, zero_weights : str
        Passed to :func:`~neuro.hardware.mapper.map_network` when ``mapping`` is None.

    Returns
    -------
    dict
        ``architecture`` and ``network`` (paths), ``steps``, ``mapping`` and ``notes``
        (list of str: what SANA-FE represents differently).

    Raises
    ------
    ParameterError
        A population or projection SANA-FE cannot represent (the message names it),
        or non-binary inputs.
    """
    from .mapper import map_network

    if mapping is None:
        mapping = map_network(
            network, hardware, placement=placement, zero_weights=zero_weights
        )  # fmt: skip
    profile = mapping.profile
    trains = _input_trains(network, inputs, steps)
    n_steps = next(iter(trains.values())).shape[0] if trains else int(steps or 1)
    notes: list[str] = []
    if profile.energy_spike_within_tile_pj or profile.time_spike_within_tile_ns:
        notes.append("within-tile message cost is not represented in SANA-FE (charged as 0)")
    if mapping.n_chips > 1 and (profile.energy_chip_crossing_pj or profile.time_chip_crossing_ns):
        notes.append("chips are laid out as one wider mesh; chip crossings cost only their hops")
    for pop in network.populations.values():
        _soma(pop)
    inputs_per_core = max(
        (int(mapping.cores["units"][c]) for c in range(mapping.n_cores)
         if network.populations[mapping.cores["population"][c]].model.is_input),
        default=1,
    )  # fmt: skip
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    arch_path, net_path = out / "arch.yaml", out / "snn.yaml"
    arch_path.write_text(
        _architecture_yaml(profile, mapping.n_chips, inputs_per_core), encoding="utf-8"
    )
    net_path.write_text(_network_yaml(network, mapping, trains, notes), encoding="utf-8")
    return {
        "architecture": str(arch_path),
        "network": str(net_path),
        "steps": n_steps,
        "mapping": mapping,
        "notes": notes,
    }


def run_sanafe(exported: dict, timing: str = "simple", steps: int | None = None) -> dict:
    """Run files written by :func:`export_sanafe` in SANA-FE.

    Parameters
    ----------
    exported : dict
        What :func:`export_sanafe` returned.
    timing : {"simple", "detailed", "cycle"}
        SANA-FE's timing model.
    steps : int, optional
        Steps to simulate (default: those written).

    Returns
    -------
    dict
        ``energy_pj`` (``total``, ``synapse``, ``dendrite``, ``soma``, ``network``),
        ``latency_ns`` (``total``, ``per_step`` list), ``counts`` (``synaptic_events``,
        ``messages``, ``neurons_updated``, ``neurons_fired``, ``hops``) and ``raw``
        (SANA-FE's result dict).

    Raises
    ------
    ImportError
        When ``sanafe`` is not installed; the message names the extra.
    """
    try:
        import sanafe
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "running SANA-FE needs the sanafe package (Python >= 3.11): pip install neuro[sanafe]"
        ) from exc
    arch = sanafe.load_arch(exported["architecture"])
    net = sanafe.load_net(exported["network"], arch)
    chip = sanafe.SpikingChip(arch)
    chip.load(net)
    res = chip.sim(int(steps or exported["steps"]), timing_model=timing, perf_trace=True)
    trace = res["perf_trace"]
    energy = {k: float(v) / _PJ for k, v in res["energy"].items()}
    return {
        "energy_pj": energy,
        "latency_ns": {
            "total": float(res["sim_time"]) / _NS,
            "per_step": [float(v) / _NS for v in trace["sim_time"]],
        },
        "counts": {
            "synaptic_events": int(res["spikes"]),
            "messages": int(res["packets_sent"]),
            "neurons_updated": int(res["neurons_updated"]),
            "neurons_fired": int(res["neurons_fired"]),
            "hops": int(sum(trace["hops"])),
        },
        "raw": res,
    }
