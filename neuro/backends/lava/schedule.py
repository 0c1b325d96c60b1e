"""When each population of a network works inside Lava's pipelined time steps.

Every synapse process adds one Lava time step.  A population ``p`` gets an offset
``depth[p]``: the longest chain of zero-delay projections from an input population
(inputs have depth 0).  With ``stride`` Lava time steps per logical step, ``p``
handles logical step ``k`` at Lava time step ``k * stride + 1 + depth[p]``.

A projection ``pre → post`` with delay ``δ`` delivers the output of logical step
``k`` at step ``k + δ``.  The value leaves ``pre`` at ``k S + 1 + depth[pre]``, the
synapse adds one step, and ``post`` needs it at ``(k + δ) S + 1 + depth[post]``, so
the synapse holds it for::

    latency = δ S + depth[post] - depth[pre] - 1

extra steps.  Zero-delay projections have ``latency >= 0`` by construction (skip
connections get the difference of path lengths).  A delayed projection that runs
backwards through the pipeline (e.g. a readout feeding an earlier layer) needs
``δ S >= depth[pre] + 1 - depth[post]``: the stride is the smallest ``S >= 1`` that
satisfies every projection, 1 for feed-forward networks and self-recurrent layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Schedule"]


@dataclass(frozen=True)
class Schedule:
    """Lava timing of a network run.

    Attributes
    ----------
    steps : int
        Logical steps of the run (T).
    stride : int
        Lava time steps per logical step.
    depth : dict of str → int
        Per population: synapse hops between the inputs and the population.
    latency : dict of str → int
        Per projection: extra Lava time steps its synapse holds a value.
    """

    steps: int
    stride: int
    depth: dict
    latency: dict

    @classmethod
    def for_network(cls, network, steps: int) -> Schedule:
        """Schedule of ``steps`` logical steps of a validated ``network``."""
        depth = {}
        for name in network.topological_order():
            zero = [p for p in network.incoming(name) if p.delay == 0]
            depth[name] = max((depth[p.pre] + 1 for p in zero), default=0)
        stride = 1
        for p in network.projections.values():
            if p.delay:
                stride = max(stride, math.ceil((depth[p.pre] + 1 - depth[p.post]) / p.delay))
        latency = {
            name: p.delay * stride + depth[p.post] - depth[p.pre] - 1
            for name, p in network.projections.items()
        }
        return cls(int(steps), int(stride), depth, latency)

    @property
    def pipeline_depth(self) -> int:
        """Largest population depth."""
        return max(self.depth.values())

    @property
    def lava_steps(self) -> int:
        """Lava time steps to run: the deepest population finishes logical step T - 1."""
        return (self.steps - 1) * self.stride + 1 + self.pipeline_depth

    @property
    def extra_steps(self) -> int:
        """Lava time steps run beyond the T logical steps."""
        return self.lava_steps - self.steps

    def lava_step(self, population: str, k: int) -> int:
        """Lava time step (1-based) at which ``population`` handles logical step ``k``.

        Negative ``k`` (steps before the run, e.g. of a replayed history) map to steps
        ``<= depth``, possibly ``<= 0``.
        """
        return k * self.stride + 1 + self.depth[population]
