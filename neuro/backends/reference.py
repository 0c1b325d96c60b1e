"""The ``reference`` backend: dense numpy, time-stepped, obviously correct.

Every population is updated every step with the model's own numpy ``step``;
every projection is a dense product.  Counts are read off the dense activations.
It is the ground truth the other backends are tested against, not a fast path.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from .._progress import progress_bar
from ..audit.counts import Counts, count_plan
from ..audit.tally import fanouts, tally_active
from .base import BACKENDS, Backend
from .state import initial_histories, initial_model_state

__all__ = ["ReferenceBackend"]


@BACKENDS.register("reference")
class ReferenceBackend(Backend):
    """Dense, float64, step by step."""

    name = "reference"

    def prepare(self, network):
        """Fan-out counts and port biases, once per program (the products stay dense)."""
        fan = {n: fanouts(p.weights) for n, p in network.projections.items()}
        bias = {name: self._port_biases(network, name) for name in network.populations}
        return fan, bias

    def execute(self, network, inputs, record, record_steps, initial_state, progress):
        pops = network.populations
        order = network.topological_order()
        B, T = inputs.batch, inputs.steps
        fan, bias = self.prepared if self.prepared is not None else self.prepare(network)
        tallies = {n: [0, 0, 0] for n in network.projections}
        events = dict.fromkeys(pops, 0)
        incoming = {name: network.incoming(name) for name in pops}
        states, histories = {}, {}
        init = initial_histories(network, B, initial_state)
        for name, pop in pops.items():
            saved = (initial_state or {}).get(name, {})
            states[name] = initial_model_state(pop, B, saved.get("state"))
            histories[name] = deque(init[name], maxlen=max(1, network.max_delay(name)))
        kept = T if record_steps == "all" else 1
        recs = {n: np.zeros((kept, B, pops[n].size)) for n in record}
        bar = progress_bar(T, f"reference {network.name}", progress)
        for t in range(T):
            current = {}
            for name in order:
                pop = pops[name]
                if pop.model.is_input:
                    out = pop.model.encode(inputs.at(name, t), pop.size)
                else:
                    port_in = {port: np.tile(b, (B, 1)) for port, b in bias[name].items()}
                    for proj in incoming[name]:
                        src = (
                            current[proj.pre]
                            if proj.delay == 0
                            else histories[proj.pre][-proj.delay]
                        )
                        tally = tallies[proj.name]
                        for k, n in enumerate(tally_active(src != 0, *fan[proj.name])):
                            tally[k] += n
                        port_in[proj.port] += proj.weights.apply(src)
                    out, states[name] = pop.model.step(states[name], port_in)
                current[name] = out
                events[name] += int(np.count_nonzero(out))
            for name in pops:
                histories[name].append(current[name])
            if record_steps == "all" or t == T - 1:
                for name in record:
                    recs[name][t if record_steps == "all" else 0] = current[name]
            bar.update()
        bar.close()
        final = {
            name: {
                "state": states[name],
                "history": list(histories[name])[-network.max_delay(name) :]
                if network.max_delay(name)
                else [],
            }
            for name in pops
        }
        counts = Counts.from_tallies(network, B, T, tallies, events, count_plan(network, fan))
        return recs, counts, final, {}

    @staticmethod
    def _port_biases(network, name) -> dict[str, np.ndarray]:
        ports = network.populations[name].ports
        bias = {port: np.zeros(width) for port, width in ports.items()}
        for proj in network.incoming(name):
            if proj.bias is not None:
                bias[proj.port] = bias[proj.port] + proj.port_bias()
        return bias
