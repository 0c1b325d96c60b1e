"""Per-run plans of the step-by-step scheduler, shared with the ``cores`` backend.

A plan binds, once per run, what the loop needs for one population: its neuron
kernel, its ring of event buffers (one per step of the largest outgoing delay, plus
the current one), its port buffers and summed port biases.  The helpers here load
a backend-neutral initial state into the plans, read the final state back out, and
turn the loop's running totals into :class:`~neuro.audit.counts.Counts`.
"""

from __future__ import annotations

import numpy as np

from ...audit.counts import Counts
from ..state import initial_histories
from .events import EventBuffer
from .neurons import cpu_kernel

__all__ = ["PopulationPlan", "build_plans", "final_state", "assemble_counts"]


class PopulationPlan:
    """Everything the loop needs for one population, bound once per run.

    Attributes
    ----------
    name : str
    size : int
    is_input : bool
    sends : bool
        Whether any projection leaves the population.
    neurons : CpuNeurons
    ring : list of EventBuffer
        ``ring[t % len(ring)]`` holds the events of step ``t``.
    ports, bias : dict of str → ndarray
        Port buffers (B, width) and summed projection biases (width,).
    incoming : list
        Filled by the caller: one delivery record per incoming projection.
    """

    def __init__(self, network, name, batch, dtype):
        pop = network.populations[name]
        self.name = name
        self.size = pop.size
        self.is_input = pop.model.is_input
        self.sends = bool(network.outgoing(name))
        self.neurons = cpu_kernel(pop.model.type)(pop, batch, dtype)
        depth = network.max_delay(name) + 1
        self.ring = [EventBuffer(batch, pop.size, dtype) for _ in range(depth)]
        self.ports = {p: np.zeros((batch, w), dtype=dtype) for p, w in pop.ports.items()}
        self.bias = {p: np.zeros(w, dtype=dtype) for p, w in pop.ports.items()}
        for proj in network.incoming(name):
            if proj.bias is not None:
                self.bias[proj.port] += proj.port_bias().astype(dtype)
        self.incoming = []


def build_plans(network, batch, dtype, initial_state=None) -> dict[str, PopulationPlan]:
    """Plans in topological order, with model state and event rings loaded from
    ``initial_state`` (a fresh start when None)."""
    plans = {n: PopulationPlan(network, n, batch, dtype) for n in network.topological_order()}
    histories = initial_histories(network, batch, initial_state)
    for name, plan in plans.items():
        saved = (initial_state or {}).get(name, {})
        plan.neurons.set_state(saved.get("state", {}))
        depth = len(plan.ring) - 1
        for j, h in enumerate(histories[name][-depth:] if depth else []):
            plan.ring[(j - depth) % len(plan.ring)].from_dense(h)
    return plans


def final_state(network, plans, steps: int, batch: int) -> dict:
    """The backend-neutral state after ``steps`` steps (see :mod:`neuro.backends.state`)."""
    final = {}
    for name, plan in plans.items():
        depth = len(plan.ring) - 1
        size = network.populations[name].size
        history = [
            plan.ring[s % len(plan.ring)].to_dense(np.zeros((batch, size)))
            for s in range(steps - depth, steps)
        ]
        final[name] = {"state": plan.neurons.get_state(), "history": history}
    return final


def assemble_counts(network, batch, steps, synops, act_macs, events_in, events_out) -> Counts:
    """Counts from the loop's running tallies (lists indexed like ``network.projections``:
    non-zero and dense fan-out reached, events in; ``events_out`` a dict by population)."""
    tallies = {
        name: (events_in[k], synops[k], act_macs[k]) for k, name in enumerate(network.projections)
    }
    return Counts.from_tallies(network, batch, steps, tallies, events_out)
