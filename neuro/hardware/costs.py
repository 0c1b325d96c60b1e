"""Cost model of a hardware profile: routes, barrier and synaptic memory.

:class:`CostModel` is the part of :class:`~neuro.hardware.HardwareProfile` that turns
a placement into costs: the route of a spike between two cores (tile hops east-west
and north-south, chip crossings), the end-of-step barrier over the tiles in use, and
the synaptic memory a list of synapses takes.  :data:`COST_TERMS` lists every term of
the per-step cost model of the ``cores`` backend (which counter it multiplies, which
profile fields price it in energy and in time) and :data:`OMITTED_TERMS` the effects no
profile prices, so that an audit can say what it charges and what it leaves out.

Spikes between cores of one tile cost ``energy_spike_within_tile_pj``; otherwise a
spike is routed dimension-ordered (Manhattan) over the tile mesh and pays one
east-west or north-south hop per tile crossed; every chip boundary crossed adds
``energy_chip_crossing_pj`` on top of the hop.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from ..exceptions import ParameterError
from .geometry import CoreGeometry
from .schema import _as_count

__all__ = ["CostModel", "CostTerm", "COST_TERMS", "OMITTED_TERMS", "cost_terms"]


class CostTerm:
    """One term of the per-step cost model.

    Attributes
    ----------
    name : str
        Term name used in audits.
    counter : str
        Per-core counter it multiplies (see :mod:`neuro.backends.cores.counters`).
    energy, time : str or None
        Profile fields of its energy (pJ) and time (ns) per count.
    side : str
        ``"neuron"`` (work of the sending side: updates, spikes, messages out),
        ``"synapse"`` (work of the receiving side: messages in, synaptic events) or
        ``"network"`` (routing; on a core's busy time only in the ``serial`` timing).
    doc : str
        What is counted.
    """

    __slots__ = ("name", "counter", "energy", "time", "side", "doc")

    def __init__(self, name, counter, energy, time, side, doc):
        self.name, self.counter, self.energy, self.time = name, counter, energy, time
        self.side, self.doc = side, doc

    def to_dict(self) -> dict:
        """JSON form."""
        return {k: getattr(self, k) for k in self.__slots__}


COST_TERMS: tuple[CostTerm, ...] = (
    CostTerm("synaptic event (dense)", "syn_dense", "energy_synop_pj", "time_synop_ns",
             "synapse", "stored connections of Dense (and other) projections reached by events"),
    CostTerm("synaptic event (sparse)", "syn_sparse", "energy_synop_sparse_pj",
             "time_synop_sparse_ns", "synapse", "stored connections of Sparse projections"),
    CostTerm("synaptic event (conv)", "syn_conv", "energy_synop_conv_pj", "time_synop_conv_ns",
             "synapse", "stored connections of Conv2d projections (kernels expanded)"),
    CostTerm("dendrite update", "syn_events", "energy_dendrite_update_pj",
             "time_dendrite_update_ns", "synapse", "one per synaptic event of any kind"),
    CostTerm("neuron access", "updates", "energy_neuron_access_pj", "time_neuron_access_ns",
             "neuron", "every non-input unit, every step"),
    CostTerm("neuron update (no spike)", "updates_inactive", "energy_neuron_update_inactive_pj",
             "time_neuron_update_inactive_ns", "neuron", "units that did not fire"),
    CostTerm("neuron update (spike)", "updates_active", "energy_neuron_update_active_pj",
             "time_neuron_update_active_ns", "neuron", "units that fired"),
    CostTerm("spike generation", "spikes", "energy_spike_generation_pj",
             "time_spike_generation_ns", "neuron",
             "extra per unit that fired a spike (readout populations send none)"),
    CostTerm("message send", "messages_sent", "energy_message_send_pj", "time_message_send_ns",
             "neuron", "one per (event, destination core), on the sending core"),
    CostTerm("message receive", "messages_received", "energy_message_receive_pj",
             "time_message_receive_ns", "synapse", "one per message, on the receiving core"),
    CostTerm("spike within tile", "messages_within_tile", "energy_spike_within_tile_pj",
             "time_spike_within_tile_ns", "network", "messages to a core of the same tile"),
    CostTerm("hop east-west", "hops_east_west", "energy_hop_east_west_pj",
             "time_hop_east_west_ns", "network", "tile boundaries crossed east-west"),
    CostTerm("hop north-south", "hops_north_south", "energy_hop_north_south_pj",
             "time_hop_north_south_ns", "network", "tile boundaries crossed north-south"),
    CostTerm("chip crossing", "chip_crossings", "energy_chip_crossing_pj",
             "time_chip_crossing_ns", "network", "chip boundaries crossed"),
    CostTerm("barrier sync", "step", None, None, "step",
             "end-of-step barrier over the tiles in use (table or min-max interpolation)"),
)  # fmt: skip
"""Every term the ``cores`` backend charges; a term is *included* by a profile when
its energy or time per count is non-zero."""

OMITTED_TERMS: dict[str, str] = {
    "static (leakage) power": "energy grows with run time, not activity; missing energy is "
    "larger for slow, sparse runs",
    "network congestion and link contention": "no queueing is modelled; latency is a lower "
    "bound when many messages share links (SANA-FE's detailed timing models it)",
    "overlap of routing with computation": "simple timing takes the larger of neuron-side and "
    "synapse-side work per core; a real pipeline overlaps them only partly",
    "learning (plasticity) updates": "no on-chip learning is simulated",
    "multi-chip barrier": "barriers beyond one chip are priced like the largest on-chip "
    "barrier; measured multi-chip barriers are microseconds to tens of microseconds",
    "host input/output": "injecting inputs and reading outputs through the host is not charged",
}
"""Effects no profile prices, with their likely effect on the estimates."""


class CostModel:
    """Route, barrier and memory costs; mixed into :class:`~neuro.hardware.HardwareProfile`."""

    # ------------------------------------------------------------------ geometry
    @property
    def geometry(self) -> CoreGeometry:
        """The :class:`CoreGeometry` of this profile."""
        return CoreGeometry(
            self.cores_per_chip, self.cores_per_tile, self.mesh_width, self.mesh_height
        )

    @property
    def tiles_per_chip(self) -> int:
        """Number of tiles holding at least one core."""
        return self.geometry.tiles_per_chip

    def chip_of(self, core: int) -> int:
        """Return the chip holding global core ``core`` (see :meth:`CoreGeometry.chip_of`)."""
        return self.geometry.chip_of(core)

    def mesh_position(self, core: int) -> tuple[int, int, int]:
        """Return ``(chip, x, y)`` of ``core`` (see :meth:`CoreGeometry.mesh_position`)."""
        return self.geometry.mesh_position(core)

    def hops(self, core_a: int, core_b: int, chips_per_row: int | None = None) -> tuple[int, int]:
        """Return ``(east_west, north_south)`` tile hops (see :meth:`CoreGeometry.hops`)."""
        return self.geometry.hops(core_a, core_b, chips_per_row)

    def chip_crossings(self, core_a: int, core_b: int, chips_per_row: int | None = None) -> int:
        """Return chip boundaries crossed (see :meth:`CoreGeometry.chip_crossings`)."""
        return self.geometry.chip_crossings(core_a, core_b, chips_per_row)

    def route_energy_pj(self, core_a: int, core_b: int, chips_per_row: int | None = None) -> float:
        """Energy of one spike message from ``core_a`` to ``core_b``.

        Parameters
        ----------
        core_a, core_b : int
            Global core indices of sender and receiver.
        chips_per_row : int, optional
            As in :meth:`CoreGeometry.hops`.

        Returns
        -------
        float
            ``energy_spike_within_tile_pj`` when both cores share a tile,
            otherwise east-west hops x ``energy_hop_east_west_pj`` + north-south
            hops x ``energy_hop_north_south_pj`` + chip crossings x
            ``energy_chip_crossing_pj``.
        """
        geometry = self.geometry
        if geometry.same_tile(core_a, core_b):
            return self.energy_spike_within_tile_pj
        ew, ns = geometry.hops(core_a, core_b, chips_per_row)
        crossings = geometry.chip_crossings(core_a, core_b, chips_per_row)
        return (
            ew * self.energy_hop_east_west_pj
            + ns * self.energy_hop_north_south_pj
            + crossings * self.energy_chip_crossing_pj
        )

    def route_time_ns(self, core_a: int, core_b: int, chips_per_row: int | None = None) -> float:
        """Latency of one spike message from ``core_a`` to ``core_b``.

        Same model as :meth:`route_energy_pj` with the ``time_*`` fields.

        Parameters
        ----------
        core_a, core_b : int
            Global core indices of sender and receiver.
        chips_per_row : int, optional
            As in :meth:`CoreGeometry.hops`.

        Returns
        -------
        float
            Latency in ns, ignoring congestion.
        """
        geometry = self.geometry
        if geometry.same_tile(core_a, core_b):
            return self.time_spike_within_tile_ns
        ew, ns = geometry.hops(core_a, core_b, chips_per_row)
        crossings = geometry.chip_crossings(core_a, core_b, chips_per_row)
        return (
            ew * self.time_hop_east_west_ns
            + ns * self.time_hop_north_south_ns
            + crossings * self.time_chip_crossing_ns
        )

    def barrier_sync_ns(self, n_tiles: int | None = None) -> float:
        """Barrier synchronisation time of one step over ``n_tiles`` tiles.

        With a ``barrier_sync_table`` the table's step function is used
        (:meth:`~neuro.hardware.schema.SyncTable.lookup`).  Otherwise the time is
        interpolated linearly between ``barrier_sync_min_ns`` (one tile) and
        ``barrier_sync_max_ns`` (all tiles of one chip).  The linear shape is a
        modelling assumption; publications give the two end points only.
        Values above one chip's tile count return ``barrier_sync_max_ns``:
        multi-chip barriers are not modelled.

        Parameters
        ----------
        n_tiles : int, optional
            Tiles taking part; ``None`` means a whole chip.

        Returns
        -------
        float
            Barrier time in ns.
        """
        total = self.tiles_per_chip
        n = total if n_tiles is None else _as_count(n_tiles, "n_tiles", 1)
        if self.barrier_sync_table is not None:
            return self.barrier_sync_table.lookup(n)
        n = min(n, total)
        if total == 1:
            return self.barrier_sync_min_ns
        span = self.barrier_sync_max_ns - self.barrier_sync_min_ns
        return self.barrier_sync_min_ns + span * (n - 1) / (total - 1)

    # ------------------------------------------------------------------ memory model
    def _bits_per_synapse(self, weight_bits: int | None, index_bits: int | None) -> int:
        if weight_bits is None:
            weight = self.weight_bits_max
        else:
            weight = _as_count(weight_bits, "weight_bits", 1)
            if not self.weight_bits_min <= weight <= self.weight_bits_max:
                raise ParameterError(
                    f"{self._where()}: weight_bits = {weight} is outside the supported range "
                    f"[{self.weight_bits_min}, {self.weight_bits_max}]."
                )
        index = (
            self.index_bits_per_synapse
            if index_bits is None
            else _as_count(index_bits, "index_bits", 0)
        )
        return weight + index + self.synapse_overhead_bits

    def synaptic_memory_bits(
        self,
        n_synapses: int | Iterable[int],
        weight_bits: int | None = None,
        index_bits: int | None = None,
    ) -> int:
        """Synaptic memory needed to store synapses in the profile's format.

        Each synapse costs ``weight_bits + index_bits + synapse_overhead_bits``
        bits; each synapse list (the synapses reached through one input axon) is
        padded to whole ``memory_word_bits`` words.

        Parameters
        ----------
        n_synapses : int or iterable of int
            Number of synapses, or the number of synapses of each list (one
            entry per input axon).  A single int is one list.
        weight_bits : int, optional
            Stored weight width; defaults to ``weight_bits_max`` and must lie
            within ``[weight_bits_min, weight_bits_max]``.
        index_bits : int, optional
            Index bits per synapse; defaults to ``index_bits_per_synapse``.
            Pass 0 for a dense format.

        Returns
        -------
        int
            Bits of synaptic memory.

        Raises
        ------
        ParameterError
            If a count is negative or not an integer, or ``weight_bits`` is out
            of the profile's range.
        """
        per_synapse = self._bits_per_synapse(weight_bits, index_bits)
        word = self.memory_word_bits
        if isinstance(n_synapses, numbers.Integral) and not isinstance(n_synapses, bool):
            counts = np.asarray([int(n_synapses)], dtype=np.int64)
        else:
            if isinstance(n_synapses, np.ndarray) or not isinstance(n_synapses, Iterable):
                counts = np.asarray(n_synapses)
            else:
                counts = np.asarray(list(n_synapses))
            if counts.dtype == np.bool_ or (
                counts.size and not np.issubdtype(counts.dtype, np.integer)
            ):
                raise ParameterError(
                    f"n_synapses must be an int or a sequence of ints, got dtype {counts.dtype}."
                )
            counts = counts.astype(np.int64).ravel()
        if counts.size and counts.min() < 0:
            raise ParameterError(f"n_synapses contains {int(counts.min())}; counts must be >= 0.")
        words = (counts * per_synapse + (word - 1)) // word
        return int(words.sum()) * word

    def max_synapses_per_core(
        self, weight_bits: int | None = None, index_bits: int | None = None
    ) -> int:
        """Most synapses one core can store, ignoring per-list word padding.

        Parameters
        ----------
        weight_bits, index_bits : int, optional
            As in :meth:`synaptic_memory_bits`.

        Returns
        -------
        int
            ``synaptic_memory_bits_per_core // bits_per_synapse``.
        """
        return self.synaptic_memory_bits_per_core // self._bits_per_synapse(weight_bits, index_bits)


_TERM_EFFECTS = {
    "synaptic event (dense)": "synaptic work is free: energy and latency of busy layers too low",
    "synaptic event (sparse)": "sparse projections' synaptic work is free",
    "synaptic event (conv)": "convolution synaptic work is free",
    "dendrite update": "dendritic accumulation is folded into the synaptic event (no effect if "
    "the synaptic cost is calibrated to include it)",
    "neuron access": "idle neurons cost nothing beyond their update: energy of large, quiet "
    "layers too low",
    "neuron update (no spike)": "silent neurons are free",
    "neuron update (spike)": "firing neurons' updates are free",
    "spike generation": "a spike costs no more than a silent update: energy too low at high "
    "activity",
    "message send": "messages cost only their hops: network energy and sender time too low",
    "message receive": "receiving is free: the receiving core's time too low when many cores "
    "send to it",
    "spike within tile": "messages inside a tile are free",
    "hop east-west": "east-west routing is free",
    "hop north-south": "north-south routing is free",
    "chip crossing": "chip-to-chip links are free: multi-chip runs too cheap",
}


def cost_terms(profile, timing: str = "simple") -> dict:
    """Which cost terms a profile charges and which it leaves out.

    Parameters
    ----------
    profile : HardwareProfile
    timing : {"simple", "serial"}
        The busy-time model (network terms are off the critical path in ``simple``).

    Returns
    -------
    dict
        ``included``: one entry per term with a non-zero energy or time
        (``term``, ``counter``, ``energy_pj``, ``time_ns``, ``side``,
        ``on_critical_path``, ``energy_field``, ``time_field``, and whether either
        figure is an assumption); ``omitted``: one entry per term the profile
        prices at zero and per effect no profile models (``term``, ``effect``).
    """
    sources = profile.sources()
    included, omitted = [], []
    for t in COST_TERMS:
        if t.energy is None:
            table = profile.barrier_sync_table
            included.append(
                {
                    "term": t.name,
                    "counter": "step",
                    "energy_pj": 0.0,
                    "time_ns": profile.barrier_sync_ns(1),
                    "side": t.side,
                    "on_critical_path": True,
                    "energy_field": None,
                    "time_field": "barrier_sync_table"
                    if table is not None
                    else "barrier_sync_min_ns..barrier_sync_max_ns",
                    "assumption": bool(
                        table.assumption if table is not None
                        else sources["barrier_sync_min_ns"].assumption
                    ),
                }
            )  # fmt: skip
            continue
        e, tm = getattr(profile, t.energy), getattr(profile, t.time)
        if e == 0 and tm == 0:
            omitted.append({"term": t.name, "effect": _TERM_EFFECTS.get(t.name, "")})
            continue
        included.append(
            {
                "term": t.name,
                "counter": t.counter,
                "energy_pj": e,
                "time_ns": tm,
                "side": t.side,
                "on_critical_path": bool(tm) and (timing != "simple" or t.side != "network"),
                "energy_field": t.energy,
                "time_field": t.time,
                "assumption": bool(sources[t.energy].assumption or sources[t.time].assumption),
            }
        )
    if timing == "simple":
        omitted.append(
            {
                "term": "routing latency",
                "effect": "simple timing keeps hop and within-tile latency off the critical "
                "path (as SANA-FE's simple model): latency too low for long routes",
            }
        )
    omitted += [{"term": k, "effect": v} for k, v in OMITTED_TERMS.items()]
    return {"included": included, "omitted": omitted}
