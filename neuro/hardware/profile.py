"""Hardware profiles: per-core capacity and per-operation cost of neuromorphic chips.

A :class:`HardwareProfile` answers the questions a hardware planner asks about a
simulated neuromorphic core: how many neurons and synapses fit on one core, how
the cores are laid out on the on-chip mesh, and what one synaptic event, one
neuron update, one message or one spike hop costs in energy (pJ) and time (ns).

Every numeric field carries its provenance (see :mod:`neuro.hardware.schema` for
the file format); :meth:`HardwareProfile.sources` returns all of them for an
audit.  The geometry lives in :mod:`neuro.hardware.geometry` and the route,
barrier and memory costs in :mod:`neuro.hardware.costs`.

Structure errors in a file (not JSON, a missing or unknown field, a wrong type)
raise :class:`~neuro.exceptions.FileFormatError` naming the file and the field;
values that break a rule (a negative capacity, a negative energy, ...) raise
:class:`~neuro.exceptions.ParameterError` naming the profile, the field, the value
and the rule.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..exceptions import FileFormatError, ParameterError
from .costs import CostModel
from .geometry import CoreGeometry
from .schema import (
    _FIELD_NAMES,
    _RULE_TEXT,
    _SPECS_BY_NAME,
    _TOP_KEYS,
    _UNRECORDED,
    FIELD_SPECS,
    FORMAT,
    FORMAT_VERSION,
    FieldSource,
    FieldSpec,
    SyncTable,
    _parse_entry,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "FIELD_SPECS",
    "FieldSpec",
    "FieldSource",
    "SyncTable",
    "CoreGeometry",
    "HardwareProfile",
]


@dataclass(frozen=True)
class HardwareProfile(CostModel):
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
    energy_synop_sparse_pj, energy_synop_conv_pj : float, optional
        Synaptic event of a sparse or convolution projection (default: the dense figure).
    time_synop_sparse_ns, time_synop_conv_ns : float, optional
        Their times (default: the dense figure).
    energy_dendrite_update_pj, time_dendrite_update_ns : float, optional
        Dendrite update per synaptic event (default 0).
    energy_neuron_access_pj, time_neuron_access_ns : float, optional
        State access of every non-input unit every step (default 0).
    energy_spike_generation_pj, time_spike_generation_ns : float, optional
        Extra cost of a unit that fires a spike (default 0).
    energy_message_send_pj, time_message_send_ns : float, optional
        One message out of a core (default 0).
    energy_message_receive_pj, time_message_receive_ns : float, optional
        One message into a core (default 0).
    barrier_sync_table : SyncTable, optional
        Barrier time by tiles in use; without it the barrier is interpolated between
        ``barrier_sync_min_ns`` and ``barrier_sync_max_ns``.
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
    energy_synop_sparse_pj: float | None = None
    energy_synop_conv_pj: float | None = None
    energy_dendrite_update_pj: float | None = None
    energy_neuron_access_pj: float | None = None
    energy_spike_generation_pj: float | None = None
    energy_message_send_pj: float | None = None
    energy_message_receive_pj: float | None = None
    time_synop_sparse_ns: float | None = None
    time_synop_conv_ns: float | None = None
    time_dendrite_update_ns: float | None = None
    time_neuron_access_ns: float | None = None
    time_spike_generation_ns: float | None = None
    time_message_send_ns: float | None = None
    time_message_receive_ns: float | None = None
    barrier_sync_table: SyncTable | None = None
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
        defaulted = {}
        for spec in FIELD_SPECS:
            value = getattr(self, spec.name)
            if value is None and spec.default is not None:
                value = getattr(self, spec.default) if isinstance(spec.default, str) else 0.0
                defaulted[spec.name] = spec.default
            object.__setattr__(self, spec.name, self._checked(spec, value))
        object.__setattr__(self, "_defaulted", MappingProxyType(defaulted))
        if self.barrier_sync_table is not None and not isinstance(
            self.barrier_sync_table, SyncTable
        ):
            raise self._broken("barrier_sync_table", self.barrier_sync_table, "must be a SyncTable")
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
            default = self._defaulted.get(name)
            if entry is None and default is not None:
                what = f"the value of {default}" if isinstance(default, str) else "0 (not charged)"
                out[name] = FieldSource(
                    value,
                    f"not given by the profile; defaults to {what}",
                    True,
                    "The profile predates this cost term or does not price it.",
                )
            elif entry is None:
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
            **(
                {"barrier_sync_table": self.barrier_sync_table.to_dict()}
                if self.barrier_sync_table is not None
                else {}
            ),
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
        missing = [s.name for s in FIELD_SPECS if s.name not in fields and s.default is None]
        if missing:
            raise bad(f"missing field {missing[0]!r} (all missing: {missing}).")

        values: dict[str, int | float] = {}
        provenance: dict[str, FieldSource] = {}
        for spec in FIELD_SPECS:
            if spec.name in fields:
                values[spec.name], provenance[spec.name] = _parse_entry(
                    spec, fields[spec.name], bad
                )
        table = data.get("barrier_sync_table")
        if table is not None:
            try:
                values["barrier_sync_table"] = SyncTable.from_dict(table, bad)
            except ParameterError as exc:
                raise ParameterError(f"hardware profile {name!r} ({where}): {exc}") from None
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
        provenance.update({k: sources[k] for k in self._defaulted if k not in provenance})
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

    # ------------------------------------------------------------------ display
    def summary(self) -> str:
        """Return a plain-text table of every field with its unit, source and flag."""
        lines = [f"{self.name}: {self.description}".rstrip(": ")]
        for name, src in self.sources().items():
            flag = "ASSUMPTION" if src.assumption else "published"
            unit = _SPECS_BY_NAME[name].unit
            lines.append(f"  {name:34s} {src.value!s:>12} {unit:6s} [{flag}] {src.source}")
        return "\n".join(lines)
