"""Schema of hardware profile files: the numeric fields, their units, rules and provenance.

Profiles are stored as JSON files of the form::

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
      },
      "barrier_sync_table": {"tiles": [1, 2, 4, 29], "ns": [600, 1000, 1400, 1800],
                             "source": "...", "assumption": false, "note": "..."}
    }

``source`` names the publication (or says that the figure is ours), ``assumption``
is ``true`` when the value is not a published figure for that quantity (an
estimate, an inference or a figure borrowed from another chip) and ``note``
explains conditions and derivations.

Fields of :data:`FIELD_SPECS` with a ``default`` may be left out of a file (profiles
written before those cost terms existed): the value then defaults to that of
another field or to 0 (the term is not charged) and the provenance says so.
``barrier_sync_table`` is optional: without it the barrier is interpolated linearly
between ``barrier_sync_min_ns`` and ``barrier_sync_max_ns``.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..exceptions import ParameterError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "FIELD_SPECS",
    "FieldSpec",
    "FieldSource",
    "SyncTable",
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
    default : str, float or None
        None: the field is required in a file.  A field name: a file without it
        takes that field's value.  A number: a file without it takes that value.
    """

    name: str
    kind: type
    unit: str
    rule: str
    group: str
    doc: str
    default: str | float | None = None


def _group(group: str, kind: type, rows):
    """Build the specs of one group from ``(name, unit, rule, doc[, default])`` rows."""
    return tuple(FieldSpec(r[0], kind, r[1], r[2], group, r[3], *r[4:]) for r in rows)


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
        ("energy_synop_pj", "pJ", "non_negative", "one synaptic event, dense format"),
        ("energy_neuron_update_inactive_pj", "pJ", "non_negative", "update, no spike"),
        ("energy_neuron_update_active_pj", "pJ", "non_negative", "update with a spike"),
        ("energy_spike_within_tile_pj", "pJ", "non_negative", "spike to a core of the tile"),
        ("energy_hop_east_west_pj", "pJ", "non_negative", "one east-west tile hop"),
        ("energy_hop_north_south_pj", "pJ", "non_negative", "one north-south tile hop"),
        ("energy_chip_crossing_pj", "pJ", "non_negative", "extra per chip boundary crossed"),
    )),
    *_group("time", float, (
        ("time_synop_ns", "ns", "non_negative", "one synaptic event, dense format"),
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
    # Terms added after version 1 files were first written: optional in a file.
    *_group("energy", float, (
        ("energy_synop_sparse_pj", "pJ", "non_negative", "one synaptic event, sparse format",
         "energy_synop_pj"),
        ("energy_synop_conv_pj", "pJ", "non_negative", "one synaptic event, convolution format",
         "energy_synop_pj"),
        ("energy_dendrite_update_pj", "pJ", "non_negative", "dendrite update per synaptic event",
         0.0),
        ("energy_neuron_access_pj", "pJ", "non_negative", "read one neuron's state, every step",
         0.0),
        ("energy_spike_generation_pj", "pJ", "non_negative", "extra per unit that fires", 0.0),
        ("energy_message_send_pj", "pJ", "non_negative", "one message out of a core", 0.0),
        ("energy_message_receive_pj", "pJ", "non_negative", "one message into a core", 0.0),
    )),
    *_group("time", float, (
        ("time_synop_sparse_ns", "ns", "non_negative", "one synaptic event, sparse format",
         "time_synop_ns"),
        ("time_synop_conv_ns", "ns", "non_negative", "one synaptic event, convolution format",
         "time_synop_ns"),
        ("time_dendrite_update_ns", "ns", "non_negative", "dendrite update per synaptic event",
         0.0),
        ("time_neuron_access_ns", "ns", "non_negative", "read one neuron's state, every step",
         0.0),
        ("time_spike_generation_ns", "ns", "non_negative", "extra per unit that fires", 0.0),
        ("time_message_send_ns", "ns", "non_negative", "one message out of a core", 0.0),
        ("time_message_receive_ns", "ns", "non_negative", "one message into a core", 0.0),
    )),
)  # fmt: skip


_SPECS_BY_NAME: Mapping[str, FieldSpec] = MappingProxyType({s.name: s for s in FIELD_SPECS})
_FIELD_NAMES: tuple[str, ...] = tuple(s.name for s in FIELD_SPECS)
_RULE_TEXT = {"positive": "must be > 0", "non_negative": "must be >= 0"}
_ENTRY_KEYS = ("value", "source", "assumption", "note")
_TOP_KEYS = ("format", "version", "name", "description", "fields", "barrier_sync_table")
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
class SyncTable:
    """End-of-step barrier time as a step function of the tiles in use.

    Parameters
    ----------
    tiles : tuple of int
        Ascending tile counts, the first >= 1.
    ns : tuple of float
        Barrier time (ns) from each tile count up to the next.
    source : str
        Where the figures come from.
    assumption : bool
        True when they are not published figures for this chip.
    note : str
        Conditions and caveats.

    Notes
    -----
    The barrier over ``n`` tiles is ``ns[k]`` for the largest ``tiles[k] <= n``
    (``ns[0]`` below ``tiles[0]``), the lookup SANA-FE's ``table`` sync model makes.
    """

    tiles: tuple[int, ...]
    ns: tuple[float, ...]
    source: str
    assumption: bool
    note: str = ""

    def __post_init__(self) -> None:
        tiles = tuple(_as_count(t, "barrier_sync_table.tiles", 1) for t in self.tiles)
        values = tuple(float(v) for v in self.ns)
        if not tiles or len(tiles) != len(values):
            raise ParameterError(
                f"barrier_sync_table has {len(tiles)} tile counts and {len(values)} times; "
                "it needs one time per tile count, at least one."
            )
        if any(b <= a for a, b in zip(tiles, tiles[1:])):
            raise ParameterError(
                f"barrier_sync_table.tiles = {list(tiles)} must be strictly ascending."
            )
        if any(not v >= 0 for v in values):
            raise ParameterError(f"barrier_sync_table.ns = {list(values)} must all be >= 0.")
        object.__setattr__(self, "tiles", tiles)
        object.__setattr__(self, "ns", values)

    def lookup(self, n_tiles: int) -> float:
        """Barrier time (ns) over ``n_tiles`` tiles."""
        value = self.ns[0]
        for t, v in zip(self.tiles, self.ns):
            if t <= n_tiles:
                value = v
        return value

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "tiles": list(self.tiles),
            "ns": list(self.ns),
            "source": self.source,
            "assumption": self.assumption,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Any, bad) -> SyncTable:
        """Parse the JSON form; ``bad(message)`` builds the error to raise."""
        if not isinstance(data, Mapping):
            raise bad("field 'barrier_sync_table' must be an object.")
        keys = ("tiles", "ns", "source", "assumption", "note")
        unknown = sorted(str(k) for k in data if k not in keys)
        if unknown:
            raise bad(f"field 'barrier_sync_table' has unknown key(s) {unknown}.")
        for key in keys[:4]:
            if key not in data:
                raise bad(f"field 'barrier_sync_table' is missing its {key!r}.")
        tiles, ns = data["tiles"], data["ns"]
        if not isinstance(tiles, list) or not all(
            isinstance(t, int) and not isinstance(t, bool) for t in tiles
        ):
            raise bad("field 'barrier_sync_table': 'tiles' must be a list of integers.")
        if not isinstance(ns, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in ns
        ):
            raise bad("field 'barrier_sync_table': 'ns' must be a list of numbers.")
        if not isinstance(data["source"], str) or not data["source"].strip():
            raise bad("field 'barrier_sync_table': 'source' must be a non-empty string.")
        if not isinstance(data["assumption"], bool):
            raise bad("field 'barrier_sync_table': 'assumption' must be true or false.")
        return cls(tuple(tiles), tuple(ns), data["source"], data["assumption"],
                   str(data.get("note", "")))  # fmt: skip


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
