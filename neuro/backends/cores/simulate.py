"""The time-stepped loop of the ``cores`` backend.

It follows the CPU event scheduler step for step — same neuron and synapse kernels
(:data:`~neuro.backends.cpu.CPU_NEURONS`, :func:`~neuro.backends.cpu.synapses.build_delivery`),
same topological order, same event rings — so float outputs and network counts equal
those of ``cpu``.  Around each delivery it runs the per-core counting kernels of
:mod:`.counters`, and in fixed-point mode it rounds port accumulators, model state and
message payloads (:mod:`.quantize`).
"""

from __future__ import annotations

import numpy as np

from ..._progress import progress_bar
from ...audit.tally import fanouts
from ...hardware import COST_TERMS
from ..cpu.plan import assemble_counts, build_plans, final_state
from ..cpu.synapses import build_delivery
from .counters import (
    StepCounters,
    count_active,
    count_events,
    count_messages,
    count_spikes,
    count_synops,
)
from .energy import core_energy_pj, core_time_ns, step_latency_ns, term_times_ns
from .quantize import quantize_values

SIDES = {t.name: t.side for t in COST_TERMS}

__all__ = ["simulate", "Simulation"]

# Keep per-step per-core arrays when steps x cores stays below this.
KEEP_STEPS_LIMIT = 1 << 20


class Simulation:
    """What one pass of the loop produced.

    Attributes
    ----------
    recordings : dict of str → ndarray (T', B, n)
    counts : Counts
    final_state : dict
    counters : StepCounters or None
        Per-core counters (None without routing tables).
    latency_ns : ndarray (T, B) or None
        Latency of every sample-step.
    energy_per_step_pj : ndarray (T,) or None
        Energy of every step, summed over samples and cores.
    value_fanout, nonbinary : dict of str → number
        Per projection: Σ |value| × fan-out (all connections) and events with value ≠ 1.
    unit_events : dict of str → ndarray
        Events per unit of every non-input population.
    ranges : dict
        Calibration maxima (``"payload"``, ``"port"``, ``"state"``) when collected.
    critical : dict or None
        Per step: ``core`` and ``sample`` of the slowest sample's slowest core,
        its ``busy_ns`` and ``terms_ns`` (time of each cost term on it).
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)


def _quantize_inplace(arr, top, bits, signed=True):
    arr[...] = quantize_values(arr, top, bits, signed)


def simulate(
    network,
    inputs,
    record,
    record_steps,
    initial_state,
    progress,
    dtype,
    routing=None,
    profile=None,
    n_tiles=1,
    quant=None,
    ranges=None,
    collect=False,
    timing="simple",
) -> Simulation:
    """Run ``network`` once; see :class:`Simulation` for what comes back.

    Parameters
    ----------
    routing : Routing, optional
        Count per core when given (needs ``profile`` and ``n_tiles``).
    quant : Quantization, optional
        Round payloads and state to these widths using the maxima in ``ranges``.
    collect : bool
        Record the largest |payload|, |port input| and |state| per population (the
        calibration of the fixed-point mode).
    timing : {"simple", "serial"}
        Busy-time model of a core (see :mod:`.energy`).

    Notes
    -----
    Messages and charged synaptic events are counted in the step an event is
    emitted, whatever the projection's delay (a chip routes a spike and reads its
    synapses when it fires; the delay is kept in the dendrite): events emitted in
    the last steps of a run are charged even when their delivery falls after it.
    The ``synops`` counter follows delivery, like the network counts.
    """
    B, T = inputs.batch, inputs.steps
    plans = build_plans(network, B, dtype, initial_state)
    order = list(plans)
    proj_names = list(network.projections)
    for k, proj in enumerate(network.projections.values()):
        fan_tot = fanouts(proj.weights)[1]  # dense-layer connections (Sinabs-style count)
        table = routing.synops[proj.name] if routing is not None else None
        plans[proj.post].incoming.append(
            (build_delivery(proj, dtype), plans[proj.pre].ring, proj.delay, proj.port, k,
             table, fan_tot)
        )  # fmt: skip

    n_proj = len(proj_names)
    syn, act, ev_in = [0] * n_proj, [0] * n_proj, [0] * n_proj
    value_fanout, nonbinary = [0.0] * n_proj, [0] * n_proj
    ev_out = dict.fromkeys(order, 0)
    unit_events = {n: np.zeros(plans[n].size, np.int64) for n in order if not plans[n].is_input}
    kept = T if record_steps == "all" else 1
    recs = {n: np.zeros((kept, B, network.populations[n].size), dtype=dtype) for n in record}
    found = {"payload": {}, "port": {}, "state": {}}
    counters = latency = energy = None
    if routing is not None:
        keep = T * routing.n_cores <= KEEP_STEPS_LIMIT
        counters = StepCounters(B, routing.n_cores, T, keep)
        latency = np.zeros((T, B))
        energy = np.zeros(T)
    rng = ranges or {"payload": {}, "port": {}, "state": {}}
    q_state = quant is not None and quant.state_bits is not None
    q_payload = quant is not None and quant.payload_bits is not None
    sequence = [plans[n] for n in order]
    outgoing = {n: [] for n in order}
    critical = None
    if routing is not None:
        for proj in network.projections.values():
            outgoing[proj.pre].append(
                (routing.events[proj.name], step_name(routing.kind[proj.name]))
            )
        critical = {
            "core": np.zeros(T, np.int64),
            "sample": np.zeros(T, np.int64),
            "busy_ns": np.zeros(T),
            "terms_ns": [],
        }
    bar = progress_bar(T, f"cores {network.name}", progress)
    for t in range(T):
        if counters is not None:
            counters.reset()
            step = counters.step
        for plan in sequence:
            out = plan.ring[t % len(plan.ring)]
            name = plan.name
            if plan.is_input:
                plan.neurons.inject(inputs.at(name, t), out)
            else:
                ports = plan.ports
                for port, buf in ports.items():
                    buf[:] = plan.bias[port]
                for deliver, ring, delay, port, k, table, fan_tot in plan.incoming:
                    ev = ring[(t - delay) % len(ring)]
                    s, a = deliver(ev.ptr, ev.idx, ev.val, ports[port])
                    syn[k] += s
                    act[k] += a
                    ev_in[k] += int(ev.ptr[B])
                    if counters is not None:
                        vf, nb = count_synops(
                            ev.ptr, ev.idx, ev.val, *table, fan_tot, step["synops"]
                        )
                        value_fanout[k] += vf
                        nonbinary[k] += nb
                if collect:
                    for port, buf in ports.items():
                        key = f"{name}.{port}"
                        found["port"][key] = max(found["port"].get(key, 0.0), _absmax(buf))
                if q_state:
                    for port, buf in ports.items():
                        _quantize_inplace(buf, rng["port"].get(f"{name}.{port}", 0.0),
                                          quant.state_bits)  # fmt: skip
                plan.neurons.step(ports, out)
                if collect or q_state:
                    state = plan.neurons.get_state()
                    if state:
                        for key, arr in state.items():
                            full = f"{name}.{key}"
                            if collect:
                                found["state"][full] = max(found["state"].get(full, 0.0),
                                                           _absmax(arr))  # fmt: skip
                            if q_state:
                                _quantize_inplace(arr, rng["state"].get(full, 0.0),
                                                  quant.state_bits)  # fmt: skip
                        if q_state:
                            plan.neurons.set_state(state)
            n = int(out.ptr[B])
            if plan.sends and (collect or q_payload):
                vals = out.val[:n]
                if collect:
                    found["payload"][name] = max(found["payload"].get(name, 0.0), _absmax(vals))
                    low = float(vals.min()) if n else 0.0
                    found["payload"][f"{name}.signed"] = bool(
                        found["payload"].get(f"{name}.signed", False) or low < 0
                    )
                if q_payload:
                    signed = bool(rng["payload"].get(f"{name}.signed", True))
                    _quantize_inplace(vals, rng["payload"].get(name, 0.0), quant.payload_bits,
                                      signed)  # fmt: skip
            ev_out[name] += n
            if counters is not None and n:
                for table, key in outgoing[name]:
                    count_events(out.ptr, out.idx, *table, step[key])
                _count_messages(routing, name, out, step)
            if name in unit_events:
                if counters is not None:
                    count_active(out.ptr, out.idx, routing.unit_core[name],
                                 step["updates_active"], unit_events[name])  # fmt: skip
                    if network.populations[name].model.type != "readout":
                        count_spikes(out.ptr, out.idx, routing.unit_core[name], step["spikes"])
                else:
                    np.add.at(unit_events[name], out.idx[:n], 1)
        if counters is not None:
            np.subtract(routing.update_units[None, :], step["updates_active"],
                        out=step["updates_inactive"])  # fmt: skip
            busy = core_time_ns(step, profile, timing)
            latency[t] = step_latency_ns(busy, profile, n_tiles)
            _record_critical(critical, t, busy, step, profile, timing)
            energy[t] = float(core_energy_pj(step, profile).sum())
            counters.close_step(t)
        if record_steps == "all" or t == T - 1:
            slot = t if record_steps == "all" else 0
            for name in record:
                plans[name].ring[t % len(plans[name].ring)].to_dense(recs[name][slot])
        bar.update()
    bar.close()

    counts = assemble_counts(network, B, T, syn, act, ev_in, ev_out)
    return Simulation(
        recordings=recs,
        counts=counts,
        final_state=final_state(network, plans, T, B),
        counters=counters,
        latency_ns=latency,
        energy_per_step_pj=energy,
        value_fanout=dict(zip(proj_names, value_fanout)),
        nonbinary=dict(zip(proj_names, nonbinary)),
        unit_events=unit_events,
        ranges=found if collect else None,
        critical=critical,
    )


def _absmax(arr) -> float:
    return float(np.max(np.abs(arr))) if np.size(arr) else 0.0


def step_name(kind: str) -> str:
    """Counter of the charged synaptic events of a connection kind."""
    return f"syn_{kind}"


def _count_messages(routing, name, out, step):
    src = routing.unit_core[name]
    for _delay, indptr, dst, same, ew, ns, cross in routing.messages[name]:
        count_messages(
            out.ptr, out.idx, src, indptr, dst, same, ew, ns, cross,
            step["messages_sent"], step["messages_received"], step["messages_within_tile"],
            step["hops_east_west"], step["hops_north_south"], step["chip_crossings"],
        )  # fmt: skip


def _record_critical(critical, t, busy, step, profile, timing):
    """The slowest sample's slowest core of step ``t`` and the time of each term on it.

    In simple timing only the terms of the side that sets the busy time (neuron or
    synapse side) are kept; in serial timing every term.
    """
    if busy.shape[-1] == 0:
        critical["terms_ns"].append({})
        return
    per_sample = busy.max(axis=-1)
    b = int(per_sample.argmax())
    c = int(busy[b].argmax())
    critical["core"][t] = c
    critical["sample"][t] = b
    critical["busy_ns"][t] = float(busy[b, c])
    terms = term_times_ns({k: v[b, c] for k, v in step.items()}, profile)
    if timing == "simple":
        sides = {"neuron": 0.0, "synapse": 0.0}
        for name, value in terms.items():
            if SIDES[name] in sides:
                sides[SIDES[name]] += float(value)
        side = max(sides, key=sides.get)
        terms = {k: v for k, v in terms.items() if SIDES[k] == side}
    critical["terms_ns"].append({k: float(v) for k, v in terms.items() if v})
