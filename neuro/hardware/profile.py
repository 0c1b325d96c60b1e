"""Hardware profiles: per-core capacity and per-operation cost of neuromorphic chips.

A :class:`HardwareProfile` answers the questions a hardware planner asks about a
simulated neuromorphic core: how many neurons and synapses fit on one core, how
the cores are laid out on the on-chip mesh, and what one synaptic operation, one
neuron update or one spike hop costs in energy (pJ) and time (ns).

Every numeric field carries its provenance.  Profiles are stored as JSON files of
the form::

    {
      "format": "neuro.hardware_profile",
      "version": 1,
      "name": "loihi",
      "description": "...",
      "fields": {
        "cores_per_chip": {
          "value": 128,
          "source": "Davies et al., IEEE Micro 38(1), 2018, Chip Overview",
          "assumption": false,
          "note": "..."
        },
        ...
      }
    }

``source`` names the publication (or says that the figure is ours), ``assumption``
is ``true`` when the value is not a published figure for that quantity (an
estimate, an inference or a figure borrowed from another chip) and ``note``
explains conditions and derivations.  :meth:`HardwareProfile.sources` returns all
of them for an audit.

Structure errors in a file (not JSON, a missing or unknown field, a wrong type)
raise :class:`~neuro.exceptions.FileFormatError` naming the file and the field;
values that break a rule (a negative capacity, a negative energy, ...) raise
:class:`~neuro.exceptions.ParameterError` naming the profile, the field, the value
and the rule.

Cost model
----------
Cores are numbered globally: core ``c`` lives on chip ``c // cores_per_chip``.
Within a chip, cores fill tiles of ``cores_per_tile`` cores in order, and tiles
fill a ``mesh_width`` (east-west) by ``mesh_height`` (north-south) grid row by
row.  Spikes between cores of one tile cost ``energy_spike_within_tile_pj``;
otherwise a spike is routed dimension-ordered (Manhattan) over the tile mesh and
pays one east-west or north-south hop per tile crossed.  Chips are tiled into one
larger mesh (a single east-west row unless ``chips_per_row`` is given), and every
chip boundary crossed adds ``energy_chip_crossing_pj`` on top of the hop.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import operator
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from ..exceptions import FileFormatError, ParameterError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "FIELD_SPECS",
    "FieldSpec",
    "FieldSource",
    "CoreGeometry",
    "HardwareProfile",
]

FORMAT = "neuro.hardware_profile"
"""Value of the ``format`` key in a profile file."""

FORMAT_VERSION = 1
"""Value of the ``version`` key in a profile file."""


@dataclass(frozen=True)
class FieldSpec:
    """Description of one numeric profile field.

    Parameters
    ----------
    name : str
        Attribute and JSON key.
    kind : type
        ``int`` or ``float``.
    unit : str
        Unit of the value, for documentation.
    rule : str
        ``"positive"`` (> 0) or ``"non_negative"`` (>= 0).
    group : str
        ``"capacity"``, ``"geometry"``, ``"format"``, ``"energy"`` or ``"time"``.
    doc : str
        One-line meaning of the field.
    """

    name: str
    kind: type
    unit: str
    rule: str
    group: str
    doc: str


def _group(group: str, kind: type, rows: tuple[tuple[str, str, str, str], ...]):
    """Build the specs of one group from ``(name, unit, rule, doc)`` rows."""
    return tuple(FieldSpec(name, kind, unit, rule, group, doc) for name, unit, rule, doc in rows)


FIELD_SPECS: tuple[FieldSpec, ...] = (
    *_group("capacity", int, (
        ("cores_per_chip", "cores", "positive", "neuromorphic cores (processing elements)"),
        ("units_per_core", "units", "positive", "neurons / compartments one core holds"),
        ("synaptic_memory_bits_per_core", "bit", "positive", "memory for stored synapses"),
        ("max_fan_in_axons_per_core", "axons", "positive", "input axons (routing slots)"),
        ("max_fan_out_axons_per_core", "axons", "positive", "core-to-core output routes"),
        ("weight_bits_min", "bit", "positive", "narrowest stored synaptic weight"),
        ("weight_bits_max", "bit", "positive", "widest stored synaptic weight"),
        ("payload_bits", "bit", "positive", "largest spike payload (1: binary spikes)"),
        ("state_bits", "bit", "positive", "width of the membrane-potential state"),
    )),
    *_group("geometry", int, (
        ("cores_per_tile", "cores", "positive", "cores sharing one mesh router"),
        ("mesh_width", "tiles", "positive", "tiles per chip east-west"),
        ("mesh_height", "tiles", "positive", "tiles per chip north-south"),
    )),
    *_group("format", int, (
        ("index_bits_per_synapse", "bit", "non_negative", "target index per synapse (0: dense)"),
        ("synapse_overhead_bits", "bit", "non_negative", "other bits per synapse (delay, ...)"),
        ("memory_word_bits", "bit", "positive", "synapse lists are padded to whole words"),
    )),
    *_group("energy", float, (
        ("energy_synop_pj", "pJ", "non_negative", "one synaptic operation"),
        ("energy_neuron_update_inactive_pj", "pJ", "non_negative", "update, no spike"),
        ("energy_neuron_update_active_pj", "pJ", "non_negative", "update with a spike"),
        ("energy_spike_within_tile_pj", "pJ", "non_negative", "spike to a core of the tile"),
        ("energy_hop_east_west_pj", "pJ", "non_negative", "one east-west tile hop"),
        ("energy_hop_north_south_pj", "pJ", "non_negative", "one north-south tile hop"),
        ("energy_chip_crossing_pj", "pJ", "non_negative", "extra per chip boundary crossed"),
    )),
    *_group("time", float, (
        ("time_synop_ns", "ns", "non_negative", "one synaptic operation"),
        ("time_neuron_update_inactive_ns", "ns", "non_negative", "update, no spike"),
        ("time_neuron_update_active_ns", "ns", "non_negative", "update with a spike"),
        ("time_spike_within_tile_ns", "ns", "non_negative", "spike latency within a tile"),
        ("time_hop_east_west_ns", "ns", "non_negative", "one east-west tile hop"),
        ("time_hop_north_south_ns", "ns", "non_negative", "one north-south tile hop"),
        ("time_chip_crossing_ns", "ns", "non_negative", "extra per chip boundary crossed"),
        ("barrier_sync_min_ns", "ns", "non_negative", "end-of-step barrier over one tile"),
        ("barrier_sync_max_ns", "ns", "non_negative", "end-of-step barrier over one chip"),
        ("tick_ns", "ns", "non_negative", "fixed step period (0: free-running)"),
    )),
)  # fmt: skip

_SPECS_BY_NAME: Mapping[str, FieldSpec] = MappingProxyType({s.name: s for s in FIELD_SPECS})
_FIELD_NAMES: tuple[str, ...] = tuple(s.name for s in FIELD_SPECS)
_RULE_TEXT = {"positive": "must be > 0", "non_negative": "must be >= 0"}
_ENTRY_KEYS = ("value", "source", "assumption", "note")
_TOP_KEYS = ("format", "version", "name", "description", "fields")
_UNRECORDED = "not recorded (profile built in code)"


@dataclass(frozen=True)
class FieldSource:
    """Provenance of one numeric field.

    Parameters
    ----------
    value : int or float
        The field's value.
    source : str
        Where the value comes from (publication and location, or a statement
        that the value is ours).
    assumption : bool
        True when the value is not a published figure for this quantity: an
        estimate, an inference, or a figure borrowed from another chip.
    note : str
        Conditions, derivation or caveats.
    """

    value: int | float
    source: str
    assumption: bool
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form ``{"value", "source", "assumption", "note"}``."""
        return {
            "value": self.value,
            "source": self.source,
            "assumption": self.assumption,
            "note": self.note,
        }


def _as_core(core: Any, what: str) -> int:
    """Return ``core`` as a non-negative int or raise :class:`ParameterError`."""
    if isinstance(core, bool):
        raise ParameterError(f"{what} = {core!r} must be an integer core index, not a bool.")
    try:
        index = operator.index(core)
    except TypeError:
        raise ParameterError(f"{what} = {core!r} must be an integer core index.") from None
    if index < 0:
        raise ParameterError(f"{what} = {index} must be >= 0.")
    return index


def _as_count(value: Any, what: str, minimum: int) -> int:
    """Return ``value`` as an int >= ``minimum`` or raise :class:`ParameterError`."""
    if isinstance(value, bool):
        raise ParameterError(f"{what} = {value!r} must be an integer, not a bool.")
    try:
        number = operator.index(value)
    except TypeError:
        raise ParameterError(f"{what} = {value!r} must be an integer.") from None
    if number < minimum:
        raise ParameterError(f"{what} = {number} must be >= {minimum}.")
    return number


@dataclass(frozen=True)
class CoreGeometry:
    """Placement of cores on tiles, tiles on a chip's mesh, and chips in a system.

    Parameters
    ----------
    cores_per_chip : int
        Cores per chip.
    cores_per_tile : int
        Cores sharing one mesh router.
    mesh_width : int
        Tiles per chip east-west.
    mesh_height : int
        Tiles per chip north-south; ``cores_per_tile * mesh_width * mesh_height``
        must be at least ``cores_per_chip``.

    Notes
    -----
    Core ``c`` is core ``c % cores_per_chip`` of chip ``c // cores_per_chip``.
    Within a chip, cores fill tiles in order and tiles fill the mesh row by row
    (``x`` east-west, ``y`` north-south).  For routes between chips, the chips
    form one larger mesh: chip ``k`` sits at chip column ``k % chips_per_row``
    and chip row ``k // chips_per_row``; with ``chips_per_row=None`` all chips
    sit in one east-west row.
    """

    cores_per_chip: int
    cores_per_tile: int
    mesh_width: int
    mesh_height: int

    def __post_init__(self) -> None:
        for name in ("cores_per_chip", "cores_per_tile", "mesh_width", "mesh_height"):
            object.__setattr__(self, name, _as_count(getattr(self, name), name, 1))
        capacity = self.cores_per_tile * self.mesh_width * self.mesh_height
        if capacity < self.cores_per_chip:
            raise ParameterError(
                f"core geometry: cores_per_tile * mesh_width * mesh_height = "
                f"{self.cores_per_tile} * {self.mesh_width} * {self.mesh_height} = {capacity} "
                f"is smaller than cores_per_chip = {self.cores_per_chip}; the mesh must hold "
                f"every core."
            )

    @property
    def tiles_per_chip(self) -> int:
        """Number of tiles holding at least one core."""
        return -(-self.cores_per_chip // self.cores_per_tile)

    def chip_of(self, core: int) -> int:
        """Return the chip that holds global core index ``core``.

        Parameters
        ----------
        core : int
            Global core index (>= 0).

        Returns
        -------
        int
            Chip index.
        """
        return _as_core(core, "core") // self.cores_per_chip

    def mesh_position(self, core: int) -> tuple[int, int, int]:
        """Return ``(chip, x, y)``: the chip and the tile coordinates of ``core``.

        Parameters
        ----------
        core : int
            Global core index (>= 0).

        Returns
        -------
        tuple of int
            Chip index, east-west tile coordinate ``x`` in ``[0, mesh_width)`` and
            north-south tile coordinate ``y`` in ``[0, mesh_height)``.
        """
        chip, local = divmod(_as_core(core, "core"), self.cores_per_chip)
        y, x = divmod(local // self.cores_per_tile, self.mesh_width)
        return chip, x, y

    def same_tile(self, core_a: int, core_b: int) -> bool:
        """Return True if both cores share one tile (and so one router) of one chip."""
        return self.mesh_position(core_a) == self.mesh_position(core_b)

    def _chip_xy(self, chip: int, chips_per_row: int | None) -> tuple[int, int]:
        if chips_per_row is None:
            return chip, 0
        row, column = divmod(chip, _as_count(chips_per_row, "chips_per_row", 1))
        return column, row

    def _global(self, core: int, what: str, chips_per_row: int | None) -> tuple[int, int, int, int]:
        chip, x, y = self.mesh_position(_as_core(core, what))
        cx, cy = self._chip_xy(chip, chips_per_row)
        return cx * self.mesh_width + x, cy * self.mesh_height + y, cx, cy

    def hops(self, core_a: int, core_b: int, chips_per_row: int | None = None) -> tuple[int, int]:
        """Return ``(east_west_hops, north_south_hops)`` between two cores.

        Parameters
        ----------
        core_a, core_b : int
            Global core indices.
        chips_per_row : int, optional
            Chips per row of the multi-chip mesh; ``None`` puts all chips in one
            east-west row.

        Returns
        -------
        tuple of int
            Tile boundaries crossed east-west and north-south by a Manhattan
            route; ``(0, 0)`` for cores on the same tile.
        """
        xa, ya, _, _ = self._global(core_a, "core_a", chips_per_row)
        xb, yb, _, _ = self._global(core_b, "core_b", chips_per_row)
        return abs(xa - xb), abs(ya - yb)

    def chip_crossings(self, core_a: int, core_b: int, chips_per_row: int | None = None) -> int:
        """Return the number of chip boundaries a Manhattan route crosses.

        Parameters
        ----------
        core_a, core_b : int
            Global core indices.
        chips_per_row : int, optional
            As in :meth:`hops`.

        Returns
        -------
        int
            Chip boundaries crossed (0 within one chip).
        """
        _, _, cxa, cya = self._global(core_a, "core_a", chips_per_row)
        _, _, cxb, cyb = self._global(core_b, "core_b", chips_per_row)
        return abs(cxa - cxb) + abs(cya - cyb)


@dataclass(frozen=True)
class HardwareProfile:
    """Per-core capacity and per-operation cost of one neuromorphic chip.

    Build profiles with :func:`~neuro.hardware.load_profile` or
    :meth:`from_dict`; the constructor is for code that computes its own
    profile.  Field meanings and units are listed in :data:`FIELD_SPECS`.
    Energies are in pJ, times in ns, memory in bits.

    Parameters
    ----------
    name : str
        Profile name (e.g. ``"loihi"``).
    description : str
        One paragraph on what the profile models.
    cores_per_chip, units_per_core, synaptic_memory_bits_per_core : int
        Capacity per chip and per core.
    max_fan_in_axons_per_core, max_fan_out_axons_per_core : int
        Routing slots per core.
    weight_bits_min, weight_bits_max : int
        Supported range of the stored synaptic weight width.
    payload_bits : int
        Largest spike payload; 1 for binary spikes.
    state_bits : int
        Width of the main neuron state variable.
    cores_per_tile, mesh_width, mesh_height : int
        Mesh layout of one chip (see :class:`CoreGeometry`).
    index_bits_per_synapse, synapse_overhead_bits, memory_word_bits : int
        Synapse storage model (see :meth:`synaptic_memory_bits`).
    energy_synop_pj, energy_neuron_update_inactive_pj, energy_neuron_update_active_pj : float
        Energy of a synaptic operation and of neuron updates.
    energy_spike_within_tile_pj, energy_hop_east_west_pj, energy_hop_north_south_pj : float
        Energy of spike routing within a tile and per tile hop.
    energy_chip_crossing_pj : float
        Extra energy per chip boundary crossed.
    time_synop_ns, time_neuron_update_inactive_ns, time_neuron_update_active_ns : float
        Time of a synaptic operation and of neuron updates.
    time_spike_within_tile_ns, time_hop_east_west_ns, time_hop_north_south_ns : float
        Spike latency within a tile and per tile hop.
    time_chip_crossing_ns : float
        Extra latency per chip boundary crossed.
    barrier_sync_min_ns, barrier_sync_max_ns : float
        End-of-step barrier time over one tile and over a whole chip.
    tick_ns : float
        Fixed step period of a tick-driven chip; 0 for a free-running one.
    provenance : Mapping of str to FieldSource, optional
        Source of each numeric field.  Missing entries are reported by
        :meth:`sources` as unrecorded assumptions.
    origin : str, optional
        File the profile was read from, for error messages.

    Raises
    ------
    ParameterError
        If a value breaks its rule; the message names the profile, the field,
        the value and the rule.
    """

    name: str
    description: str
    cores_per_chip: int
    units_per_core: int
    synaptic_memory_bits_per_core: int
    max_fan_in_axons_per_core: int
    max_fan_out_axons_per_core: int
    weight_bits_min: int
    weight_bits_max: int
    payload_bits: int
    state_bits: int
    cores_per_tile: int
    mesh_width: int
    mesh_height: int
    index_bits_per_synapse: int
    synapse_overhead_bits: int
    memory_word_bits: int
    energy_synop_pj: float
    energy_neuron_update_inactive_pj: float
    energy_neuron_update_active_pj: float
    energy_spike_within_tile_pj: float
    energy_hop_east_west_pj: float
    energy_hop_north_south_pj: float
    energy_chip_crossing_pj: float
    time_synop_ns: float
    time_neuron_update_inactive_ns: float
    time_neuron_update_active_ns: float
    time_spike_within_tile_ns: float
    time_hop_east_west_ns: float
    time_hop_north_south_ns: float
    time_chip_crossing_ns: float
    barrier_sync_min_ns: float
    barrier_sync_max_ns: float
    tick_ns: float
    provenance: Mapping[str, FieldSource] = field(default_factory=dict, repr=False, compare=False)
    origin: str | None = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ validation
    def _where(self) -> str:
        where = f"hardware profile {self.name!r}"
        if self.origin:
            where += f" (from {self.origin})"
        return where

    def _broken(self, name: str, value: Any, rule: str) -> ParameterError:
        return ParameterError(
            f"{self._where()}: field {name!r} = {value!r} breaks the rule: {rule}."
        )

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ParameterError(
                f"hardware profile name = {self.name!r} breaks the rule: must be a non-empty "
                f"string."
            )
        if not isinstance(self.description, str):
            raise self._broken("description", self.description, "must be a string")
        for spec in FIELD_SPECS:
            object.__setattr__(self, spec.name, self._checked(spec, getattr(self, spec.name)))
        if self.weight_bits_max < self.weight_bits_min:
            raise self._broken(
                "weight_bits_max",
                self.weight_bits_max,
                f"must be >= weight_bits_min = {self.weight_bits_min}",
            )
        if self.barrier_sync_max_ns < self.barrier_sync_min_ns:
            raise self._broken(
                "barrier_sync_max_ns",
                self.barrier_sync_max_ns,
                f"must be >= barrier_sync_min_ns = {self.barrier_sync_min_ns}",
            )
        capacity = self.cores_per_tile * self.mesh_width * self.mesh_height
        if capacity < self.cores_per_chip:
            raise self._broken(
                "cores_per_chip",
                self.cores_per_chip,
                f"must be <= cores_per_tile * mesh_width * mesh_height = {capacity} "
                f"(the mesh must hold every core)",
            )
        self._check_provenance()

    def _checked(self, spec: FieldSpec, value: Any) -> int | float:
        if spec.kind is int:
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise self._broken(spec.name, value, "must be an integer")
            value = int(value)
        else:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise self._broken(spec.name, value, "must be a real number")
            value = float(value)
            if not math.isfinite(value):
                raise self._broken(spec.name, value, "must be finite")
        if spec.rule == "positive" and not value > 0:
            raise self._broken(spec.name, value, _RULE_TEXT["positive"])
        if spec.rule == "non_negative" and not value >= 0:
            raise self._broken(spec.name, value, _RULE_TEXT["non_negative"])
        return value

    def _check_provenance(self) -> None:
        if not isinstance(self.provenance, Mapping):
            raise self._broken("provenance", self.provenance, "must be a mapping")
        checked: dict[str, FieldSource] = {}
        for key, entry in self.provenance.items():
            if key not in _SPECS_BY_NAME:
                raise self._broken("provenance", key, "keys must be numeric field names")
            if not isinstance(entry, FieldSource):
                raise self._broken(f"provenance[{key!r}]", entry, "must be a FieldSource")
            checked[key] = entry
        object.__setattr__(self, "provenance", MappingProxyType(checked))

    # ------------------------------------------------------------------ provenance
    def sources(self) -> dict[str, FieldSource]:
        """Return the provenance of every numeric field, for an audit.

        Returns
        -------
        dict of str to FieldSource
            One entry per field of :data:`FIELD_SPECS`, in that order, holding
            the current value, its source, whether it is an assumption, and a
            note.  Fields without recorded provenance are reported as
            assumptions with the source ``"not recorded (profile built in code)"``.
        """
        out: dict[str, FieldSource] = {}
        for name in _FIELD_NAMES:
            value = getattr(self, name)
            entry = self.provenance.get(name)
            if entry is None:
                out[name] = FieldSource(value, _UNRECORDED, True, "")
            else:
                out[name] = FieldSource(value, entry.source, entry.assumption, entry.note)
        return out

    def assumptions(self) -> tuple[str, ...]:
        """Return the names of the fields whose values are assumptions."""
        return tuple(name for name, src in self.sources().items() if src.assumption)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-compatible form read back by :meth:`from_dict`.

        Returns
        -------
        dict
            ``{"format", "version", "name", "description", "fields"}`` where
            ``fields`` maps each field name to ``{"value", "source",
            "assumption", "note"}``.
        """
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "name": self.name,
            "description": self.description,
            "fields": {name: src.to_dict() for name, src in self.sources().items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str | None = None) -> HardwareProfile:
        """Build a profile from its JSON form (see the module docstring).

        Parameters
        ----------
        data : Mapping
            Parsed profile document.
        origin : str, optional
            Where the document came from (a file path), named in error messages.

        Returns
        -------
        HardwareProfile
            The validated profile.

        Raises
        ------
        FileFormatError
            If the document's structure is wrong: not an object, a missing or
            unknown field, a missing source, or a value of the wrong type.  The
            message names ``origin`` and the field.
        ParameterError
            If a value breaks its rule (e.g. a capacity <= 0 or a negative
            energy).  The message names the profile, the field, the value and
            the rule.
        """
        where = f"hardware profile file {origin!r}" if origin else "hardware profile document"

        def bad(message: str) -> FileFormatError:
            return FileFormatError(f"{where}: {message}")

        if not isinstance(data, Mapping):
            raise bad(f"the top level must be a JSON object, got {type(data).__name__}.")
        unknown = sorted(str(k) for k in data if k not in _TOP_KEYS)
        if unknown:
            raise bad(f"unknown top-level key(s) {unknown}; allowed: {list(_TOP_KEYS)}.")
        if "format" in data and data["format"] != FORMAT:
            raise bad(f"field 'format' = {data['format']!r}, expected {FORMAT!r}.")
        if "version" in data and (
            isinstance(data["version"], bool) or data["version"] != FORMAT_VERSION
        ):
            raise bad(
                f"field 'version' = {data['version']!r} is not supported; this version of "
                f"neuro reads version {FORMAT_VERSION}."
            )
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise bad(
                "missing field 'name'."
                if "name" not in data
                else f"field 'name' = {name!r} must be a non-empty string."
            )
        description = data.get("description", "")
        if not isinstance(description, str):
            raise bad(f"field 'description' must be a string, got {type(description).__name__}.")
        fields = data.get("fields")
        if fields is None:
            raise bad("missing field 'fields' (the object holding the numeric fields).")
        if not isinstance(fields, Mapping):
            raise bad(f"field 'fields' must be a JSON object, got {type(fields).__name__}.")
        unknown = sorted(str(k) for k in fields if k not in _SPECS_BY_NAME)
        if unknown:
            raise bad(f"unknown field(s) {unknown}; known fields: {list(_FIELD_NAMES)}.")
        missing = [n for n in _FIELD_NAMES if n not in fields]
        if missing:
            raise bad(f"missing field {missing[0]!r} (all missing: {missing}).")

        values: dict[str, int | float] = {}
        provenance: dict[str, FieldSource] = {}
        for spec in FIELD_SPECS:
            values[spec.name], provenance[spec.name] = _parse_entry(spec, fields[spec.name], bad)
        return cls(
            name=name,
            description=description,
            provenance=provenance,
            origin=origin,
            **values,
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the profile as a JSON file that :func:`~neuro.hardware.load_profile` reads.

        Parameters
        ----------
        path : str or os.PathLike
            Destination file.
        """
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.to_dict(), handle, indent=2)
            handle.write("\n")

    def with_values(self, **values: Any) -> HardwareProfile:
        """Return a copy with some fields changed, recording the change as an assumption.

        Parameters
        ----------
        **values
            New values by field name; ``name`` and ``description`` may be
            changed too.

        Returns
        -------
        HardwareProfile
            The new, validated profile.

        Raises
        ------
        ParameterError
            If a name is not a field, or a new value breaks its rule.
        """
        unknown = sorted(
            k for k in values if k not in _SPECS_BY_NAME and k not in ("name", "description")
        )
        if unknown:
            raise ParameterError(
                f"{self._where()}: unknown field(s) {unknown}; known fields: {list(_FIELD_NAMES)}."
            )
        provenance = dict(self.provenance)
        sources = self.sources()
        for key, value in values.items():
            if key in _SPECS_BY_NAME:
                old = sources[key]
                provenance[key] = FieldSource(
                    value,
                    "set in code with HardwareProfile.with_values",
                    True,
                    f"replaces {old.value!r} (source: {old.source})",
                )
        return dataclasses.replace(self, provenance=provenance, origin=None, **values)

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

        Interpolates linearly between ``barrier_sync_min_ns`` (one tile) and
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

    # ------------------------------------------------------------------ display
    def summary(self) -> str:
        """Return a plain-text table of every field with its unit, source and flag."""
        lines = [f"{self.name}: {self.description}".rstrip(": ")]
        for name, src in self.sources().items():
            flag = "ASSUMPTION" if src.assumption else "published"
            unit = _SPECS_BY_NAME[name].unit
            lines.append(f"  {name:34s} {src.value!s:>12} {unit:6s} [{flag}] {src.source}")
        return "\n".join(lines)


def _parse_entry(spec: FieldSpec, entry: Any, bad) -> tuple[int | float, FieldSource]:
    """Parse one ``{"value", "source", "assumption", "note"}`` entry of a profile file."""
    name = spec.name
    if not isinstance(entry, Mapping):
        raise bad(
            f"field {name!r} must be an object with keys 'value', 'source', 'assumption' "
            f"and optionally 'note', got {type(entry).__name__}."
        )
    unknown = sorted(str(k) for k in entry if k not in _ENTRY_KEYS)
    if unknown:
        raise bad(f"field {name!r} has unknown key(s) {unknown}; allowed: {list(_ENTRY_KEYS)}.")
    for key in ("value", "source", "assumption"):
        if key not in entry:
            raise bad(f"field {name!r} is missing its {key!r}.")
    value = entry["value"]
    if spec.kind is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad(
                f"field {name!r}: 'value' must be an integer, got {value!r} "
                f"({type(value).__name__})."
            )
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad(
            f"field {name!r}: 'value' must be a number, got {value!r} ({type(value).__name__})."
        )
    source = entry["source"]
    if not isinstance(source, str) or not source.strip():
        raise bad(f"field {name!r}: 'source' must be a non-empty string, got {source!r}.")
    assumption = entry["assumption"]
    if not isinstance(assumption, bool):
        raise bad(f"field {name!r}: 'assumption' must be true or false, got {assumption!r}.")
    note = entry.get("note", "")
    if not isinstance(note, str):
        raise bad(f"field {name!r}: 'note' must be a string, got {type(note).__name__}.")
    return value, FieldSource(value, source, assumption, note)
