"""The ``lava`` backend: the event network as lava-nc processes on ``Loihi2SimCfg``.

The network becomes one graph of Lava processes (:mod:`neuro.backends.lava.graph`)
run in floating point (``Loihi2SimCfg(select_tag="floating_pt")``).  The batch is
folded into the processes (``B`` parallel copies of every population in one
process, block-diagonal synapses), so one Lava run serves all samples.  Every
synapse hop costs Lava one time step; the schedule
(:mod:`neuro.backends.lava.schedule`) offsets each population by its depth and
delays the synapses of shorter paths, so outputs line up with the ``cpu`` backend
step for step, and ``info["extra_steps"]`` says how many Lava steps were run beyond
the T logical ones.  Events, synaptic operations, events in and activity-sparse MACs
are counted by the processes and read back from their Vars.
"""

from __future__ import annotations

import time

import numpy as np

from ..._progress import _Silent, progress_bar
from ...audit.counts import Counts
from ..base import BACKENDS, Backend
from ..state import initial_histories
from .dependency import require_lava
from .schedule import Schedule

__all__ = ["LavaBackend"]


def _trace_steps(network, record, record_steps, steps) -> dict[str, int]:
    """Per non-input population: recent logical steps its process must keep."""
    out = {}
    for name, pop in network.populations.items():
        if pop.model.is_input:
            continue
        want = network.max_delay(name)
        if name in record:
            want = max(want, steps if record_steps == "all" else 1)
        out[name] = min(want, steps)
    return out


@BACKENDS.register("lava")
class LavaBackend(Backend):
    """lava-nc processes run on Lava's CPU simulator in floating point.

    Needs lava-nc 0.10.0 (Python 3.10, numpy < 2): ``pip install 'neuro[lava]'``.
    Model types: ``fatrelu``, ``readout``, ``egru`` and the input models; weights:
    dense, sparse and conv2d (unrolled to its explicit connectivity, see
    :func:`~neuro.backends.lava.layout.conv_matrix`).  Delays of any length.
    Recorded outputs are float64.
    """

    name = "lava"
    options = ()

    def execute(self, network, inputs, record, record_steps, initial_state, progress):
        require_lava()
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg

        from .graph import LavaGraph, check_connected

        start = time.perf_counter()
        check_connected(network)
        B, T = inputs.batch, inputs.steps
        schedule = Schedule.for_network(network, T)
        histories = initial_histories(network, B, initial_state)
        encoded = {
            name: np.stack(
                [
                    network.populations[name].model.encode(inputs.at(name, t), pop_size)
                    for t in range(T)
                ]
            )
            for name in network.inputs
            for pop_size in [network.populations[name].size]
        }
        states = {n: s.get("state") or {} for n, s in (initial_state or {}).items()}
        traces = _trace_steps(network, record, record_steps, T)
        graph = LavaGraph(network, encoded, schedule, histories, states, traces)
        built = time.perf_counter()
        root = graph.root
        try:
            bar = progress_bar(schedule.lava_steps, f"lava {network.name}", progress)
            chunk = schedule.lava_steps if isinstance(bar, _Silent) else 50
            done = 0
            cfg = Loihi2SimCfg(select_tag="floating_pt")
            while done < schedule.lava_steps:
                n = min(chunk, schedule.lava_steps - done)
                root.run(condition=RunSteps(num_steps=n), run_cfg=cfg)
                done += n
                bar.update(n)
            bar.close()
            ran = time.perf_counter()
            counts = self._counts(network, graph, B, T)
            outputs = _Outputs(network, graph, encoded, histories, traces, T)
            kept = range(T) if record_steps == "all" else [T - 1]
            recs = {name: outputs.steps(name, kept) for name in record}
            final = {
                name: {
                    "state": graph.builders[name].read_state(graph.populations[name])
                    if name in graph.builders
                    else {},
                    "history": list(outputs.steps(name, range(T - network.max_delay(name), T))),
                }
                for name in network.populations
            }
        finally:
            root.stop()
        info = {
            "extra_steps": schedule.extra_steps,
            "lava_steps": schedule.lava_steps,
            "stride": schedule.stride,
            "pipeline_depth": schedule.pipeline_depth,
            "batch": "folded: B parallel copies per process, block-diagonal synapses",
            "processes": len(graph),
            "build_s": built - start,
            "run_s": ran - built,
            "readback_s": time.perf_counter() - ran,
        }
        return recs, counts, final, info

    @staticmethod
    def _counts(network, graph, batch, steps) -> Counts:
        """Counts with the activity-dependent fields read from the processes' Vars."""
        tallies = {
            name: (syn.event_count.get()[0], syn.synop_count.get()[0], syn.mac_count.get()[0])
            for name, syn in graph.synapses.items()
        }
        events = {name: proc.event_count.get()[0] for name, proc in graph.populations.items()}
        return Counts.from_tallies(network, batch, steps, tallies, events)


class _Outputs:
    """Population outputs by logical step: inputs, kept traces and the initial history."""

    def __init__(self, network, graph, encoded, histories, traces, steps):
        self.network = network
        self.encoded = encoded
        self.histories = histories
        self.steps_run = steps
        self.kept = {name: (n, graph.trace(name, n)) for name, n in traces.items() if n}

    def steps(self, name: str, ks) -> np.ndarray:
        """Outputs of ``name`` at logical steps ``ks``: (len(ks), B, n) float64."""
        rows = []
        for k in ks:
            if k < 0:
                hist = self.histories[name]
                rows.append(np.asarray(hist[len(hist) + k], dtype=np.float64))
            elif name in self.encoded:
                rows.append(self.encoded[name][k])
            else:
                n, trace = self.kept[name]
                rows.append(trace[k % n])
        size = self.network.populations[name].size
        batch = next(iter(self.encoded.values())).shape[1]
        return np.array(rows, dtype=np.float64).reshape(len(rows), batch, size)
