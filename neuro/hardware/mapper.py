"""Place a network's units on the cores of a hardware profile.

Rules (deterministic, no search over alternatives):

* populations are placed one after another in topological order, inputs first, each on
  cores of its own (two populations never share a core); global core ``c`` lies on chip
  ``c // cores_per_chip`` (see :class:`~neuro.hardware.CoreGeometry`);
* a population is split into contiguous unit ranges, one per core, each range as long
  as the core's limits allow (greedy, longest first);
* a core's limits are the profile's ``units_per_core``; its synaptic memory
  (``synaptic_memory_bits_per_core``), which stores the **fan-in** synapses of its units:
  one synapse per non-zero weight reaching one of them (conv kernels expanded), each
  ``weight_bits + index_bits_per_synapse + synapse_overhead_bits`` wide, one synapse list
  per input axon padded to whole ``memory_word_bits`` words
  (:meth:`~neuro.hardware.HardwareProfile.synaptic_memory_bits`); its **fan-in axons**
  (``max_fan_in_axons_per_core``): one per (pre-synaptic unit, delay) with at least one
  synapse on the core; and its **fan-out axons** (``max_fan_out_axons_per_core``): one per
  (unit on the core, delay, destination core) route;
* fan-out depends on where the targets lie, so placement is repeated with the fan-out of
  the previous placement until it no longer changes;
* input populations are placed too (they model the cores that inject input events);
  they store no synapses.

Two placement policies, chosen with ``placement``:

* ``"memory"`` (default): every limit above is enforced;
* ``"neurons"``: only ``units_per_core`` (and ``max_units_per_core``) is enforced, so
  every core holds as many units as the profile allows whatever its synaptic memory
  and axons need — how SANA-FE's Loihi examples place networks.  The per-core table
  still reports the memory and axons each core would need.

Zero weights (``zero_weights``): ``"skip"`` (default) stores only non-zero weights, as
a compressed synapse format does; ``"store"`` stores every connection of the network's
operators, zero weights included (dense matrices as given, every kernel tap), as SANA-FE
does with the weights it is given.  Stored synapses take memory, decide which cores an
event is sent to, and each one reached by an event is a charged synaptic event.

A network that cannot fit raises :class:`~neuro.exceptions.CapacityError` naming the
population, the resource, the amount needed and the amount available: a single unit
whose fan-in alone exceeds a core, or (with ``max_chips``) more cores than the chips hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..exceptions import CapacityError, ParameterError
from ..limits import check_mapping_memory
from . import load_profile
from .connectivity import unit_synapses
from .profile import HardwareProfile

__all__ = ["Mapping", "map_network", "RESOURCES", "PLACEMENTS"]

PLACEMENTS = {
    "memory": "every core limit enforced: units, synaptic memory, fan-in and fan-out axons",
    "neurons": "only the neuron count per core enforced (SANA-FE's packing); synaptic memory "
    "and axons ignored",
}
"""Placement policies of :func:`map_network` and what each enforces."""

FORMAT = "neuro.mapping"
FORMAT_VERSION = 1

# resource name -> (per-core table column, profile capacity field)
RESOURCES = {
    "units": ("units", "units_per_core"),
    "synaptic memory bits": ("memory_bits", "synaptic_memory_bits_per_core"),
    "fan-in axons": ("fan_in_axons", "max_fan_in_axons_per_core"),
    "fan-out axons": ("fan_out_axons", "max_fan_out_axons_per_core"),
}
_COLUMNS = (
    "population",
    "unit_start",
    "unit_stop",
    "units",
    "synapses",
    "memory_bits",
    "fan_in_axons",
    "fan_out_axons",
    "chip",
    "tile_x",
    "tile_y",
)


@dataclass(eq=False)
class Mapping:
    """Where every unit of a network lives.

    Attributes
    ----------
    profile : HardwareProfile
    weight_bits : int
        Stored weight width used for the memory model.
    populations : dict of str → ndarray of int64
        Per population, its core boundaries: core ``first_core[name] + k`` holds units
        ``bounds[k]:bounds[k+1]``.
    first_core : dict of str → int
    cores : dict of str → ndarray
        Per-core resource table, one entry per core: ``population`` (name), ``unit_start``,
        ``unit_stop``, ``units``, ``synapses`` (stored), ``memory_bits``,
        ``fan_in_axons``, ``fan_out_axons``, ``chip``, ``tile_x``, ``tile_y``.
    max_chips : int or None
    """

    profile: HardwareProfile
    weight_bits: int
    populations: dict
    first_core: dict
    cores: dict
    max_chips: int | None = None
    synapses: dict = field(default_factory=dict, repr=False)
    placement: str = "memory"
    zero_weights: str = "skip"
    nonzero_synapses: dict | None = field(default=None, repr=False)

    # -- queries ----------------------------------------------------------------------
    @property
    def n_cores(self) -> int:
        """Cores used."""
        return int(len(self.cores["units"]))

    @property
    def n_chips(self) -> int:
        """Chips used (cores are filled chip after chip)."""
        return int(self.cores["chip"].max()) + 1 if self.n_cores else 0

    @property
    def n_tiles(self) -> int:
        """Distinct tiles holding a used core."""
        keys = set(zip(self.cores["chip"].tolist(), self.cores["tile_x"].tolist(),
                       self.cores["tile_y"].tolist()))  # fmt: skip
        return len(keys)

    def core_of(self, population: str) -> np.ndarray:
        """Global core index of every unit of ``population``, int64 array of shape (size,)."""
        bounds = self.populations[population]
        sizes = np.diff(bounds)
        return self.first_core[population] + np.repeat(np.arange(sizes.size), sizes)

    def cores_of(self, population: str) -> range:
        """Global core indices holding ``population``."""
        first = self.first_core[population]
        return range(first, first + len(self.populations[population]) - 1)

    def capacity(self) -> dict[str, int]:
        """Per-core capacity of each resource (table column → limit)."""
        return {col: int(getattr(self.profile, cap)) for col, cap in RESOURCES.values()}

    def utilisation(self) -> dict[str, np.ndarray]:
        """Per-core fraction of each resource used, arrays of shape (n_cores,)."""
        return {col: self.cores[col] / cap for col, cap in self.capacity().items()}

    # -- text and files -------------------------------------------------------------------
    def table(self) -> str:
        """Plain-text per-core resource table with utilisation in percent."""
        util = self.utilisation()
        head = ("core", "chip", "population", "units", "synapses", "memory", "fan-in", "fan-out")
        rows = []
        for c in range(self.n_cores):
            rows.append(
                (
                    c,
                    int(self.cores["chip"][c]),
                    f"{self.cores['population'][c]}[{self.cores['unit_start'][c]}:"
                    f"{self.cores['unit_stop'][c]}]",
                    f"{self.cores['units'][c]} ({100 * util['units'][c]:.0f}%)",
                    int(self.cores["synapses"][c]),
                    f"{100 * util['memory_bits'][c]:.1f}%",
                    f"{100 * util['fan_in_axons'][c]:.1f}%",
                    f"{100 * util['fan_out_axons'][c]:.1f}%",
                )
            )
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
        fmt = "  ".join(f"{{:>{w}}}" for w in widths)
        lines = [
            f"Mapping on {self.profile.name!r}: {self.n_cores} cores on {self.n_chips} chip(s), "
            f"weights {self.weight_bits} bit",
            fmt.format(*head),
        ]
        lines += [fmt.format(*map(str, r)) for r in rows]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-serialisable form (versioned); :meth:`from_dict` reads it back."""
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "profile": self.profile.name,
            "weight_bits": self.weight_bits,
            "max_chips": self.max_chips,
            "placement": self.placement,
            "zero_weights": self.zero_weights,
            "n_cores": self.n_cores,
            "n_chips": self.n_chips,
            "capacity": self.capacity(),
            "populations": {
                n: {"first_core": int(self.first_core[n]), "bounds": b.tolist()}
                for n, b in self.populations.items()
            },
            "cores": {k: np.asarray(v).tolist() for k, v in self.cores.items()},
        }

    @classmethod
    def from_dict(cls, data: dict, profile=None) -> Mapping:
        """Inverse of :meth:`to_dict`; ``profile`` defaults to the built-in one named there."""
        if data.get("format") != FORMAT or data.get("version") != FORMAT_VERSION:
            raise ParameterError(
                f"mapping document has format {data.get('format')!r} version "
                f"{data.get('version')!r}; expected {FORMAT!r} version {FORMAT_VERSION}."
            )
        prof = load_profile(profile if profile is not None else data["profile"])
        pops = {n: np.asarray(v["bounds"], np.int64) for n, v in data["populations"].items()}
        first = {n: int(v["first_core"]) for n, v in data["populations"].items()}
        cores = {
            k: np.asarray(v, dtype=object if k == "population" else np.int64)
            for k, v in data["cores"].items()
        }
        return cls(
            prof,
            int(data["weight_bits"]),
            pops,
            first,
            cores,
            data.get("max_chips"),
            placement=data.get("placement", "memory"),
            zero_weights=data.get("zero_weights", "skip"),
        )


class _FanIn:
    """Fan-in of one population, grouped by input axon kind (pre population, delay)."""

    def __init__(self, network, name, synapses, bits_per_synapse, word):
        size = network.populations[name].size
        groups = {}
        for proj in network.incoming(name):
            key = (proj.pre, proj.delay)
            m = synapses[proj.name]
            groups[key] = m if key not in groups else groups[key] + m
        self.groups = [g.tocsc() for g in groups.values()]
        self.bps = bits_per_synapse
        self.word = word
        self.size = size

    def cost(self, a: int, b: int) -> tuple[int, int, int]:
        """(synapses, memory bits, fan-in axons) of units a:b on one core."""
        syn = mem = axons = 0
        for g in self.groups:
            s, e = g.indptr[a], g.indptr[b]
            if s == e:
                continue
            per_axon = np.bincount(g.indices[s:e], g.data[s:e], minlength=g.shape[0])
            per_axon = per_axon[per_axon > 0].astype(np.int64)
            syn += int(per_axon.sum())
            mem += int(((per_axon * self.bps + self.word - 1) // self.word).sum()) * self.word
            axons += int(per_axon.size)
        return syn, mem, axons


def _fan_out_units(network, synapses, core_of, name) -> np.ndarray:
    """Fan-out axons per unit of ``name``: Σ over delays of distinct destination cores."""
    size = network.populations[name].size
    out = np.zeros(size, np.int64)
    for m in destination_cores(network, synapses, core_of, name).values():
        out += np.diff(m.indptr)
    return out


def destination_cores(network, synapses, core_of, name) -> dict[int, sp.csr_matrix]:
    """Per delay, the 0/1 matrix (units of ``name`` × cores) of cores a unit's spike reaches.

    Parameters
    ----------
    network : Network
    synapses : dict of str → csr_matrix
        :func:`~neuro.hardware.connectivity.unit_synapses` of every projection.
    core_of : dict of str → ndarray
        Core of every unit, per population.
    name : str
        Source population.
    """
    n_cores = 1 + max(int(c.max()) for c in core_of.values() if c.size)
    by_delay: dict[int, sp.csr_matrix] = {}
    for proj in network.outgoing(name):
        per_core = synapses_per_core(synapses[proj.name], core_of[proj.post], n_cores)
        d = proj.delay
        by_delay[d] = per_core if d not in by_delay else by_delay[d] + per_core
    for d, m in by_delay.items():
        m = m.tocsr()
        m.data = np.ones_like(m.data)
        m.sort_indices()
        by_delay[d] = m
    return by_delay


def synapses_per_core(unit_syn: sp.csr_matrix, post_core: np.ndarray, n_cores: int):
    """(n_pre × n_cores) stored synapses of each pre unit on each core."""
    fold = sp.csr_matrix(
        (np.ones(post_core.size, np.int64), (np.arange(post_core.size), post_core)),
        shape=(post_core.size, n_cores),
    )
    m = (unit_syn @ fold).tocsr()
    m.eliminate_zeros()
    m.sort_indices()
    return m


def _check_weight_bits(profile, weight_bits):
    if weight_bits is None:
        return profile.weight_bits_max
    if int(weight_bits) != weight_bits or not (
        profile.weight_bits_min <= weight_bits <= profile.weight_bits_max
    ):
        raise ParameterError(
            f"weight_bits == {weight_bits!r}, must be an int in [{profile.weight_bits_min}, "
            f"{profile.weight_bits_max}] for hardware profile {profile.name!r}."
        )
    return int(weight_bits)


def map_network(
    network,
    hardware="loihi",
    weight_bits: int | None = None,
    max_chips: int | None = None,
    max_units_per_core: int | None = None,
    max_iterations: int = 8,
    placement: str = "memory",
    zero_weights: str = "skip",
) -> Mapping:
    """Place ``network`` on the cores of ``hardware``.

    Parameters
    ----------
    network : Network
    hardware : str, path or HardwareProfile
        See :func:`~neuro.hardware.load_profile`.
    weight_bits : int, optional
        Stored weight width (default: the profile's widest).
    max_chips : int, optional
        Chips available; None for as many as needed.
    max_units_per_core : int, optional
        Hold at most this many units per core (below the profile's limit): spreads
        layers over more cores, trading cores for a shorter step.
    max_iterations : int
        Placement rounds to settle the fan-out of every core.
    placement : {"memory", "neurons"}
        Enforce every core limit (``"memory"``) or only the neuron count
        (``"neurons"``, SANA-FE's packing); see the module docstring.
    zero_weights : {"skip", "store"}
        Store only non-zero weights, or every connection (see the module docstring).

    Returns
    -------
    Mapping

    Raises
    ------
    CapacityError
        Naming the population, the resource, the amount needed and the amount available.
    """
    profile = load_profile(hardware)
    network.validate()
    check_mapping_memory(network)  # refuse tables larger than the memory budget up front
    wbits = _check_weight_bits(profile, weight_bits)
    if max_chips is not None and (int(max_chips) != max_chips or max_chips < 1):
        raise ParameterError(f"max_chips == {max_chips!r}, must be an int >= 1 or None.")
    if max_units_per_core is not None:
        if int(max_units_per_core) != max_units_per_core or max_units_per_core < 1:
            raise ParameterError(
                f"max_units_per_core == {max_units_per_core!r}, must be an int >= 1 or None."
            )
    if placement not in PLACEMENTS:
        raise ParameterError(
            f"placement == {placement!r}, must be one of {list(PLACEMENTS)} "
            "(memory: every core limit; neurons: the neuron count only)."
        )
    if zero_weights not in ("skip", "store"):
        raise ParameterError(
            f"zero_weights == {zero_weights!r}, must be 'skip' (store non-zero weights only) "
            "or 'store' (store every connection)."
        )
    units_limit = min(profile.units_per_core, int(max_units_per_core or profile.units_per_core))
    bps = wbits + profile.index_bits_per_synapse + profile.synapse_overhead_bits
    word = profile.memory_word_bits
    order = network.topological_order()
    store = zero_weights == "store"
    synapses = {
        p.name: unit_synapses(p, network.populations[p.post], zeros=store)
        for p in network.projections.values()
    }
    fan_in = {n: _FanIn(network, n, synapses, bps, word) for n in order}
    fan_out = {n: np.zeros(network.populations[n].size, np.int64) for n in order}
    previous = None
    for _ in range(max_iterations):
        bounds = {
            n: _place(profile, n, fan_in[n], fan_out[n], units_limit, placement) for n in order
        }
        first, start = {}, 0
        for n in order:
            first[n] = start
            start += len(bounds[n]) - 1
        if previous is not None and all(np.array_equal(bounds[n], previous[n]) for n in order):
            break
        previous = bounds
        core_of = {
            n: first[n] + np.repeat(np.arange(len(b) - 1), np.diff(b)) for n, b in bounds.items()
        }
        fan_out = {n: _fan_out_units(network, synapses, core_of, n) for n in order}
    mapping = _build(profile, wbits, bounds, first, order, fan_in, fan_out, max_chips)
    mapping.synapses = synapses
    mapping.placement = placement
    mapping.zero_weights = zero_weights
    if store:
        mapping.nonzero_synapses = {
            p.name: unit_synapses(p, network.populations[p.post])
            for p in network.projections.values()
        }
    _check(mapping)
    return mapping


def _place(profile, name, fan_in: _FanIn, fan_out, units_limit: int, placement: str):
    limits = {
        "units": units_limit,
        "synaptic memory bits": profile.synaptic_memory_bits_per_core,
        "fan-in axons": profile.max_fan_in_axons_per_core,
        "fan-out axons": profile.max_fan_out_axons_per_core,
    }
    size = fan_in.size
    if placement == "neurons":
        return np.asarray([*range(0, size, units_limit), size], np.int64)
    cum_out = np.concatenate([[0], np.cumsum(fan_out)])

    def needs(a, b):
        syn, mem, axons = fan_in.cost(a, b)
        return {
            "units": b - a,
            "synaptic memory bits": mem,
            "fan-in axons": axons,
            "fan-out axons": int(cum_out[b] - cum_out[a]),
        }

    def fits(a, b):
        need = needs(a, b)
        return all(need[k] <= limits[k] for k in limits)

    bounds, a = [0], 0
    while a < size:
        hi = min(size, a + units_limit)
        if not fits(a, hi):
            if not fits(a, a + 1):
                need = needs(a, a + 1)
                res = next(k for k in limits if need[k] > limits[k])
                raise CapacityError(
                    f"population {name!r} does not fit on hardware profile {profile.name!r}: "
                    f"unit {a} alone needs {need[res]} {res}, a core has {limits[res]}. "
                    "Reduce its fan-in/fan-out (prune weights, lower weight bits) or choose "
                    "a larger profile."
                )
            lo = a + 1  # fits(a, lo) holds, fits(a, hi) does not
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if fits(a, mid):
                    lo = mid
                else:
                    hi = mid
            hi = lo
        bounds.append(hi)
        a = hi
    return np.asarray(bounds, np.int64)


def _build(profile, wbits, bounds, first, order, fan_in, fan_out, max_chips) -> Mapping:
    cols = {k: [] for k in _COLUMNS}
    limit = None if max_chips is None else int(max_chips) * profile.cores_per_chip
    for n in order:
        b = bounds[n]
        last = first[n] + len(b) - 2
        if limit is not None and last >= limit:
            raise CapacityError(
                f"population {n!r} does not fit on hardware profile "
                f"{profile.name!r}: the network needs {last + 1} cores up to and including "
                f"it, {max_chips} chip(s) hold {limit} cores."
            )
        cum_out = np.concatenate([[0], np.cumsum(fan_out[n])])
        for k in range(len(b) - 1):
            c = first[n] + k
            syn, mem, axons = fan_in[n].cost(int(b[k]), int(b[k + 1]))
            chip, x, y = profile.mesh_position(c)
            for key, value in zip(
                _COLUMNS,
                (n, b[k], b[k + 1], b[k + 1] - b[k], syn, mem, axons,
                 cum_out[b[k + 1]] - cum_out[b[k]], chip, x, y),
            ):  # fmt: skip
                cols[key].append(value)
    cores = {
        k: np.asarray(v, dtype=object if k == "population" else np.int64) for k, v in cols.items()
    }
    return Mapping(profile, wbits, dict(bounds), first, cores, max_chips)


def _check(mapping: Mapping) -> None:
    """Every core within every enforced limit (fan-out may not settle in pathological cases)."""
    for res, (col, _) in RESOURCES.items():
        if mapping.placement == "neurons" and col != "units":
            continue
        cap = mapping.capacity()[col]
        over = np.nonzero(mapping.cores[col] > cap)[0]
        if over.size:
            c = int(over[0])
            raise CapacityError(
                f"population {mapping.cores['population'][c]!r} does not fit on hardware profile "
                f"{mapping.profile.name!r}: core {c} needs {int(mapping.cores[col][c])} {res}, "
                f"a core has {cap}."
            )
