"""Routing tables of a mapped network: where each event's synaptic work and messages go.

Built once per run from a :class:`~neuro.hardware.mapper.Mapping`:

* per projection, for each pre-synaptic unit, the cores holding its non-zero synapses
  and how many synapses on each (CSR ``indptr``, ``cores``, ``counts``): an event of that
  unit costs ``counts[j]`` synaptic ops on core ``cores[j]`` (the core of the
  post-synaptic units, where fan-in synapses are stored);
* per projection, the same table of the *stored* connections (zero weights included
  when the mapping stores them), whose entries are the charged synaptic events, and
  the connection kind that prices them (``"dense"``, ``"sparse"`` or ``"conv"``);
* per source population and delay, for each unit, the destination cores of its spike
  (CSR ``indptr``, ``dst``) with the route of each (same tile, east-west and
  north-south tile hops, chip crossings) from the unit's own core.

**Messages.**  One message per (emitted event, destination core) pair: an event
of unit ``i`` delivered through the projections of one delay is sent once to every
core holding at least one of its targets, however many synapses it reaches there and
however many of those projections end on that core.
"""

from __future__ import annotations

import numpy as np

from ...hardware.mapper import destination_cores, synapses_per_core

__all__ = ["Routing", "connection_kind"]


def connection_kind(weights) -> str:
    """Synapse format a chip would use for a weight operator.

    ``Dense`` → ``"dense"``, ``Sparse`` and ``Complementary`` → ``"sparse"``,
    ``Conv2d`` → ``"conv"``; anything else is priced as ``"dense"``.
    """
    name = type(weights).__name__
    if name in ("Sparse", "Complementary"):
        return "sparse"
    if name == "Conv2d":
        return "conv"
    return "dense"


def _table(m):
    return m.indptr.astype(np.int64), m.indices.astype(np.int64), m.data.astype(np.int64)


class Routing:
    """Per-run routing tables (see the module docstring).

    Parameters
    ----------
    network : Network
    mapping : Mapping

    Attributes
    ----------
    n_cores : int
    unit_core : dict of str → ndarray of int64
        Core of every unit, per population.
    update_units : ndarray of int64, shape (n_cores,)
        Units updated per step on each core (0 on cores of input populations).
    synops : dict of str → (indptr, cores, counts)
        Per projection: non-zero synapses (the ``synops`` count).
    events : dict of str → (indptr, cores, counts)
        Per projection: stored connections (the charged synaptic events).
    kind : dict of str → str
        Per projection: ``"dense"``, ``"sparse"`` or ``"conv"`` (see :func:`connection_kind`).
    messages : dict of str → list of (delay, indptr, dst, same_tile, ew, ns, crossings)
        Per source population.
    """

    def __init__(self, network, mapping):
        self.n_cores = mapping.n_cores
        self.unit_core = {n: mapping.core_of(n) for n in network.populations}
        self.update_units = np.zeros(self.n_cores, np.int64)
        for name, pop in network.populations.items():
            if not pop.model.is_input:
                np.add.at(self.update_units, self.unit_core[name], 1)
        syn = mapping.synapses
        nonzero = mapping.nonzero_synapses or syn
        self.synops, self.events, self.kind = {}, {}, {}
        for proj in network.projections.values():
            post = self.unit_core[proj.post]
            self.events[proj.name] = _table(synapses_per_core(syn[proj.name], post, self.n_cores))
            self.synops[proj.name] = (
                self.events[proj.name]
                if nonzero is syn
                else _table(synapses_per_core(nonzero[proj.name], post, self.n_cores))
            )
            self.kind[proj.name] = connection_kind(proj.weights)
        pos = np.array([mapping.profile.mesh_position(c) for c in range(self.n_cores)], np.int64)
        pos = pos.reshape(-1, 3)
        chip, gx, gy = pos[:, 0], pos[:, 0] * mapping.profile.mesh_width + pos[:, 1], pos[:, 2]
        self.messages = {}
        for name in network.populations:
            tables = []
            for delay, m in sorted(destination_cores(network, syn, self.unit_core, name).items()):
                src = np.repeat(self.unit_core[name], np.diff(m.indptr))
                dst = m.indices.astype(np.int64)
                same = (chip[src] == chip[dst]) & (gx[src] == gx[dst]) & (gy[src] == gy[dst])
                tables.append(
                    (
                        delay,
                        m.indptr.astype(np.int64),
                        dst,
                        same,
                        np.abs(gx[src] - gx[dst]),
                        np.abs(gy[src] - gy[dst]),
                        np.abs(chip[src] - chip[dst]),
                    )
                )
            self.messages[name] = tables
