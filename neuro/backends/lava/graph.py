"""A network as connected Lava processes: sources, neurons and counting synapses.

Input populations become :class:`GradedSource` processes fed with the encoded inputs,
other populations the process of their model's builder (:data:`LAVA_NEURONS`), and
every projection a :class:`CountingDense` (one sample, dense weights) or
:class:`CountingSparse` (otherwise: sparse, convolution unrolled to its explicit
connectivity, or a batch folded block-diagonally).  Timing comes from a
:class:`~neuro.backends.lava.schedule.Schedule`.  Needs lava-nc.
"""

from __future__ import annotations

import numpy as np

from ...audit.tally import fanouts
from ...exceptions import BackendError
from .layout import fold_weights, pre_major_matrix
from .neurons import LAVA_NEURONS
from .processes import CountingDense, CountingSparse, GradedSource

__all__ = ["LavaGraph", "check_connected"]


def check_connected(network) -> None:
    """Raise :class:`BackendError` unless the projections connect every population.

    Lava compiles the processes reachable from the one it is asked to run.
    """
    parent = {name: name for name in network.populations}

    def root(name):
        while parent[name] != name:
            name = parent[name]
        return name

    for p in network.projections.values():
        parent[root(p.pre)] = root(p.post)
    groups = {}
    for name in network.populations:
        groups.setdefault(root(name), []).append(name)
    if len(groups) > 1:
        parts = sorted(sorted(g) for g in groups.values())
        raise BackendError(
            f"backend 'lava' runs one connected process graph; network {network.name!r} "
            f"falls apart into {len(parts)} unconnected parts {parts}. Run them as separate "
            "networks."
        )


class LavaGraph:
    """The processes of one run.

    Parameters
    ----------
    network : Network
    encoded : dict of str → ndarray
        Per input population, the encoded input, (T, B, n).
    schedule : Schedule
    histories : dict of str → list of ndarray
        Per population, the recent outputs the run continues from (oldest first),
        see :func:`neuro.backends.state.initial_histories`.
    states : dict of str → dict
        Per population, model state to start from (may be empty).
    trace_steps : dict of str → int
        Per population, how many recent logical steps its process keeps in ``trace``.

    Attributes
    ----------
    populations : dict of str → process
    synapses : dict of str → process
    builders : dict of str → LavaNeurons
    """

    def __init__(self, network, encoded, schedule, histories, states, trace_steps):
        self.network = network
        self.schedule = schedule
        batch = next(iter(encoded.values())).shape[1]
        self.batch = batch
        self.populations, self.builders, self.synapses = {}, {}, {}
        for name, pop in network.populations.items():
            if pop.model.is_input:
                self.populations[name] = self._source(name, encoded[name])
                continue
            if pop.model.type not in LAVA_NEURONS:
                raise BackendError(
                    f"population {name!r}: backend 'lava' has no process for neuron model "
                    f"{pop.model.type!r} (it runs {', '.join(LAVA_NEURONS.names())}); run it "
                    "on 'cpu', 'cores' or 'reference'."
                )
            builder = LAVA_NEURONS.get(pop.model.type)(pop, batch)
            biases = {port: np.zeros(width) for port, width in pop.ports.items()}
            for proj in network.incoming(name):
                if proj.bias is not None:
                    biases[proj.port] = biases[proj.port] + proj.port_bias()
            timing = {
                "delay": schedule.depth[name],
                "num_steps": schedule.steps,
                "stride": schedule.stride,
                "trace_steps": trace_steps.get(name, 0),
                "name": name,
            }
            folded = {port: builder.folded_bias(port, b) for port, b in biases.items()}
            self.builders[name] = builder
            self.populations[name] = builder.build(folded, states.get(name) or {}, timing)
        for name, proj in network.projections.items():
            self.synapses[name] = self._synapse(proj, histories[proj.pre])

    @property
    def root(self):
        """The process Lava is asked to run (the graph is connected)."""
        return next(iter(self.populations.values()))

    def __len__(self) -> int:
        """Number of Lava processes."""
        return len(self.populations) + len(self.synapses)

    def _source(self, name, encoded):
        steps, batch, size = encoded.shape
        data = np.zeros(((steps - 1) * self.schedule.stride + 1, batch * size))
        data[:: self.schedule.stride] = encoded.reshape(steps, -1)
        return GradedSource(data=data, name=name)

    def _synapse(self, proj, history):
        where = f"projection {proj.name!r}"
        builder = self.builders[proj.post]
        weights = fold_weights(
            pre_major_matrix(proj.weights, where), self.batch, builder.port_order(proj.port)
        )
        rows, steps = [], []
        for j in range(-proj.delay, 0):
            row = np.asarray(history[len(history) + j], dtype=np.float64).reshape(-1)
            if np.any(row):
                rows.append(row)
                steps.append(self.schedule.lava_step(proj.pre, j))
        kind = CountingDense if isinstance(weights, np.ndarray) else CountingSparse
        fans = fanouts(proj.weights)
        syn = kind(
            weights=weights,
            fan_nnz=np.tile(fans[0], self.batch),
            fan_total=np.tile(fans[1], self.batch),
            latency=self.schedule.latency[proj.name],
            preload=np.array(rows) if rows else None,
            preload_steps=np.array(steps, dtype=np.int64) if rows else None,
            deliver_until=self.schedule.lava_step(proj.post, self.schedule.steps - 1),
            delay=self.schedule.depth[proj.pre],
            num_steps=self.schedule.steps,
            stride=self.schedule.stride,
            name=proj.name,
        )
        self.populations[proj.pre].s_out.connect(syn.s_in)
        syn.a_out.connect(builder.in_port(self.populations[proj.post], proj.port))
        return syn

    def trace(self, name: str, trace_steps: int) -> np.ndarray:
        """The recent outputs a population's process kept, (trace_steps, B, n)."""
        data = np.asarray(self.populations[name].trace.get(), dtype=np.float64)
        return data.reshape(trace_steps, self.batch, -1)
