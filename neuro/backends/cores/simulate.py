"""The time-stepped run of the ``cores`` backend.

It runs the CPU engine's loop itself (:class:`~neuro.backends.cpu.stepper.Stepper`:
same neuron and synapse kernels, topological order and event rings), so float outputs
and network counts equal those of ``cpu``.  Its hooks (:class:`_CoresHooks`) add the
per-core counting kernels of :mod:`.counters` around each delivery and emission, the
latency and energy of every step, and in fixed-point mode the rounding of port
accumulators, model state and message payloads (:mod:`.quantize`).
"""

from __future__ import annotations

import numpy as np

from ...audit.tally import fanouts
from ...hardware import COST_TERMS
from ..cpu.stepper import StepHooks, Stepper
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


class _CoresHooks(StepHooks):
    """The cores backend's additions to the shared loop: per-core counters, latency and
    energy per step, calibration maxima and fixed-point rounding."""

    def __init__(self, network, plans, batch, steps, routing, profile, n_tiles, quant, ranges,
                 collect, timing):  # fmt: skip
        self.network, self.routing, self.profile = network, routing, profile
        self.n_tiles, self.quant, self.collect, self.timing = n_tiles, quant, collect, timing
        n_proj = len(network.projections)
        self.value_fanout, self.nonbinary = [0.0] * n_proj, [0] * n_proj
        self.unit_events = {n: np.zeros(p.size, np.int64) for n, p in plans.items()
                            if not p.is_input}  # fmt: skip
        self.found = {"payload": {}, "port": {}, "state": {}}
        self.rng = ranges or {"payload": {}, "port": {}, "state": {}}
        self.q_state = quant is not None and quant.state_bits is not None
        self.q_payload = quant is not None and quant.payload_bits is not None
        self.counters = self.latency = self.energy = self.critical = self.step = None
        self.outgoing = {n: [] for n in plans}
        self.payload = collect or self.q_payload
        if routing is not None:
            self.tables = [
                (routing.synops[p.name], fanouts(p.weights)[1])  # dense-layer connections
                for p in network.projections.values()
            ]
            keep = steps * routing.n_cores <= KEEP_STEPS_LIMIT
            self.counters = StepCounters(batch, routing.n_cores, steps, keep)
            self.latency = np.zeros((steps, batch))
            self.energy = np.zeros(steps)
            for proj in network.projections.values():
                self.outgoing[proj.pre].append(
                    (routing.events[proj.name], step_name(routing.kind[proj.name]))
                )
            self.emit_info = {
                n: (
                    self.outgoing[n],
                    routing.messages[n],
                    routing.unit_core[n],
                    self.unit_events.get(n),
                    network.populations[n].model.type != "readout",
                )
                for n in plans
            }
            self.critical = {
                "core": np.zeros(steps, np.int64),
                "sample": np.zeros(steps, np.int64),
                "busy_ns": np.zeros(steps),
                "terms_ns": [],
            }
        else:
            # without routing tables only the per-unit event counts are kept
            self.on_step_start = self.on_step_end = self.on_deliver = None
            self.on_emit = self._emit_uncounted
        if not (collect or self.q_state):
            self.on_ports = self.on_update = None

    def on_step_start(self, t):
        self.counters.reset()
        self.step = self.counters.step

    def on_deliver(self, t, plan, k, ev, synops, active):
        table, fan_tot = self.tables[k]
        vf, nb = count_synops(ev.ptr, ev.idx, ev.val, *table, fan_tot, self.step["synops"])
        self.value_fanout[k] += vf
        self.nonbinary[k] += nb

    def on_ports(self, t, plan):
        name, found, rng = plan.name, self.found, self.rng
        if self.collect:
            for port, buf in plan.ports.items():
                key = f"{name}.{port}"
                found["port"][key] = max(found["port"].get(key, 0.0), _absmax(buf))
        if self.q_state:
            for port, buf in plan.ports.items():
                _quantize_inplace(buf, rng["port"].get(f"{name}.{port}", 0.0),
                                  self.quant.state_bits)  # fmt: skip

    def on_update(self, t, plan):
        state = plan.neurons.get_state()
        if not state:
            return
        found, rng = self.found, self.rng
        for key, arr in state.items():
            full = f"{plan.name}.{key}"
            if self.collect:
                found["state"][full] = max(found["state"].get(full, 0.0), _absmax(arr))
            if self.q_state:
                _quantize_inplace(arr, rng["state"].get(full, 0.0), self.quant.state_bits)
        if self.q_state:
            plan.neurons.set_state(state)

    def on_emit(self, t, plan, out, n):
        name = plan.name
        if self.payload and plan.sends:
            self._payload(name, out.val[:n], n)
        outgoing, messages, unit_core, unit_ev, spikes = self.emit_info[name]
        step = self.step
        if n:
            for table, key in outgoing:
                count_events(out.ptr, out.idx, *table, step[key])
            _count_messages(messages, unit_core, out, step)
        if unit_ev is not None:
            count_active(out.ptr, out.idx, unit_core, step["updates_active"], unit_ev)
            if spikes:
                count_spikes(out.ptr, out.idx, unit_core, step["spikes"])

    def _emit_uncounted(self, t, plan, out, n):
        """``on_emit`` without routing tables: payload calibration and events per unit."""
        name = plan.name
        if self.payload and plan.sends:
            self._payload(name, out.val[:n], n)
        unit_ev = self.unit_events.get(name)
        if unit_ev is not None:
            np.add.at(unit_ev, out.idx[:n], 1)

    def _payload(self, name, vals, n):
        found, rng = self.found, self.rng
        if self.collect:
            found["payload"][name] = max(found["payload"].get(name, 0.0), _absmax(vals))
            low = float(vals.min()) if n else 0.0
            found["payload"][f"{name}.signed"] = bool(
                found["payload"].get(f"{name}.signed", False) or low < 0
            )
        if self.q_payload:
            signed = bool(rng["payload"].get(f"{name}.signed", True))
            _quantize_inplace(vals, rng["payload"].get(name, 0.0), self.quant.payload_bits,
                              signed)  # fmt: skip

    def on_step_end(self, t):
        step, profile, routing = self.step, self.profile, self.routing
        np.subtract(routing.update_units[None, :], step["updates_active"],
                    out=step["updates_inactive"])  # fmt: skip
        busy = core_time_ns(step, profile, self.timing)
        self.latency[t] = step_latency_ns(busy, profile, self.n_tiles)
        _record_critical(self.critical, t, busy, step, profile, self.timing)
        self.energy[t] = float(core_energy_pj(step, profile).sum())
        self.counters.close_step(t)


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
    deliveries = [build_delivery(proj, dtype) for proj in network.projections.values()]
    stepper = Stepper(network, B, dtype, initial_state, deliveries)
    hooks = _CoresHooks(network, stepper.plans, B, T, routing, profile, n_tiles, quant, ranges,
                        collect, timing)  # fmt: skip
    recs = stepper.run(inputs, record, record_steps, hooks, progress, label="cores")
    proj_names = list(network.projections)
    return Simulation(
        recordings=recs,
        counts=stepper.counts(),
        final_state=stepper.final_state(),
        counters=hooks.counters,
        latency_ns=hooks.latency,
        energy_per_step_pj=hooks.energy,
        value_fanout=dict(zip(proj_names, hooks.value_fanout)),
        nonbinary=dict(zip(proj_names, hooks.nonbinary)),
        unit_events=hooks.unit_events,
        ranges=hooks.found if collect else None,
        critical=hooks.critical,
    )


def _absmax(arr) -> float:
    return float(np.max(np.abs(arr))) if np.size(arr) else 0.0


def step_name(kind: str) -> str:
    """Counter of the charged synaptic events of a connection kind."""
    return f"syn_{kind}"


def _count_messages(messages, src, out, step):
    for _delay, indptr, dst, same, ew, ns, cross in messages:
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
