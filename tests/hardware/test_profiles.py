"""Tests of neuro.hardware: built-in profiles, file loading, validation and geometry."""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib

import numpy as np
import pytest

from neuro.exceptions import FileFormatError, ParameterError
from neuro.hardware import (
    FIELD_SPECS,
    CoreGeometry,
    FieldSource,
    HardwareProfile,
    available_profiles,
    load_profile,
)

BUILTIN = ("generic", "loihi", "loihi-davies2018", "loihi2", "spinnaker2", "truenorth")
FIELD_NAMES = [spec.name for spec in FIELD_SPECS]

# Davies et al., IEEE Micro 38(1), 2018: chip overview, mapping constraints and Table 2.
LOIHI_PAPER = {
    "cores_per_chip": 128,
    "units_per_core": 1024,
    "synaptic_memory_bits_per_core": 128 * 1024 * 8,
    "max_fan_in_axons_per_core": 4096,
    "max_fan_out_axons_per_core": 4096,
    "weight_bits_min": 1,
    "weight_bits_max": 9,
    "payload_bits": 1,
    "cores_per_tile": 4,
    "energy_synop_pj": 23.6,
    "energy_neuron_update_inactive_pj": 52.0,
    "energy_neuron_update_active_pj": 81.0,
    "energy_spike_within_tile_pj": 1.7,
    "energy_hop_east_west_pj": 3.0,
    "energy_hop_north_south_pj": 4.0,
    "time_synop_ns": 3.5,
    "time_neuron_update_inactive_ns": 5.3,
    "time_neuron_update_active_ns": 8.4,
    "time_spike_within_tile_ns": 2.1,
    "time_hop_east_west_ns": 4.1,
    "time_hop_north_south_ns": 6.5,
    "barrier_sync_min_ns": 113.0,
    "barrier_sync_max_ns": 465.0,
}

# SANA-FE 2.2.9's Loihi architecture description (Boyle et al., IEEE TCAD 2025).
LOIHI_SANAFE = {
    "energy_synop_pj": 35.5,
    "energy_synop_sparse_pj": 33.6,
    "energy_synop_conv_pj": 24.0,
    "time_synop_ns": 3.8,
    "time_synop_sparse_ns": 4.7,
    "time_synop_conv_ns": 3.1,
    "energy_neuron_access_pj": 51.2,
    "time_neuron_access_ns": 6.0,
    "energy_neuron_update_inactive_pj": 21.6,
    "energy_neuron_update_active_pj": 21.6,
    "time_neuron_update_inactive_ns": 3.7,
    "time_neuron_update_active_ns": 3.7,
    "energy_spike_generation_pj": 69.3,
    "time_spike_generation_ns": 30.0,
    "energy_message_send_pj": 111.0,
    "time_message_send_ns": 5.1,
    "energy_message_receive_pj": 0.0,
    "time_message_receive_ns": 16.0,
    "energy_hop_east_west_pj": 3.0,
    "energy_hop_north_south_pj": 4.2,
    "energy_dendrite_update_pj": 0.0,
    "time_dendrite_update_ns": 0.0,
}


@pytest.fixture
def loihi_doc() -> dict:
    """A fresh, mutable copy of the Loihi profile document."""
    return load_profile("loihi").to_dict()


def write_json(tmp_path: pathlib.Path, doc, name: str = "chip.json") -> pathlib.Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ built-ins
def test_available_profiles_lists_all_builtins():
    assert available_profiles() == BUILTIN


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_profile_loads(name):
    profile = load_profile(name)
    assert isinstance(profile, HardwareProfile)
    assert profile.name == name
    assert profile.description
    assert profile.origin and name in profile.origin


def test_load_profile_is_case_insensitive_and_cached():
    assert load_profile("Loihi") is load_profile("loihi")


def test_load_profile_returns_a_profile_unchanged():
    profile = load_profile("generic")
    assert load_profile(profile) is profile


@pytest.mark.parametrize(("field", "value"), sorted(LOIHI_PAPER.items()))
def test_loihi_davies2018_matches_davies_2018(field, value):
    profile = load_profile("loihi-davies2018")
    assert getattr(profile, field) == pytest.approx(value, rel=0, abs=1e-12)


@pytest.mark.parametrize(("field", "value"), sorted(LOIHI_SANAFE.items()))
def test_loihi_matches_sanafe_calibration(field, value):
    profile = load_profile("loihi")
    assert getattr(profile, field) == pytest.approx(value, rel=0, abs=1e-12)
    source = profile.sources()[field]
    assert not source.assumption, field
    assert "SANA-FE" in source.source, field


def test_loihi_barrier_is_sanafe_table_by_tiles_used():
    profile = load_profile("loihi")
    table = {1: 600.0, 2: 1000.0, 3: 1000.0, 4: 1400.0, 28: 1400.0, 29: 1800.0, 32: 1800.0}
    for tiles, ns in table.items():
        assert profile.barrier_sync_ns(tiles) == ns
    assert "SANA-FE" in profile.barrier_sync_table.source
    # without a table, the barrier is interpolated between the two end points
    davies = load_profile("loihi-davies2018")
    assert davies.barrier_sync_table is None
    assert davies.barrier_sync_ns(1) == 113.0 and davies.barrier_sync_ns(32) == 465.0


def test_loihi_capacities_equal_davies_2018():
    loihi, davies = load_profile("loihi"), load_profile("loihi-davies2018")
    for spec in FIELD_SPECS:
        if spec.group in ("capacity", "geometry", "format"):
            assert getattr(loihi, spec.name) == getattr(davies, spec.name), spec.name


def test_old_profile_files_without_new_terms_still_load(tmp_path):
    doc = load_profile("loihi-davies2018").to_dict()
    optional = [s.name for s in FIELD_SPECS if s.default is not None]
    assert optional
    for name in optional:
        del doc["fields"][name]
    profile = load_profile(write_json(tmp_path, doc))
    assert profile.energy_synop_sparse_pj == profile.energy_synop_pj == 23.6
    assert profile.time_synop_conv_ns == profile.time_synop_ns
    assert profile.energy_message_send_pj == 0.0
    src = profile.sources()["energy_message_send_pj"]
    assert src.assumption and "defaults to 0" in src.source


def test_barrier_table_round_trip_and_errors(tmp_path, loihi_doc):
    again = load_profile(write_json(tmp_path, loihi_doc))
    assert again.barrier_sync_table == load_profile("loihi").barrier_sync_table
    loihi_doc["barrier_sync_table"]["tiles"] = [1, 4, 2, 29]
    with pytest.raises(ParameterError, match="ascending"):
        load_profile(write_json(tmp_path, loihi_doc))
    loihi_doc["barrier_sync_table"]["tiles"] = "1,2"
    with pytest.raises(FileFormatError, match="barrier_sync_table"):
        load_profile(write_json(tmp_path, loihi_doc))


def test_loihi_published_figures_are_not_flagged_as_assumptions():
    sources = load_profile("loihi-davies2018").sources()
    for field in LOIHI_PAPER:
        if field == "cores_per_tile":  # inferred from Table 2's "1-32 tiles", so flagged
            assert sources[field].assumption
        else:
            assert not sources[field].assumption, field
            assert "Davies" in sources[field].source


def test_loihi2_capacities_and_borrowed_costs():
    profile = load_profile("loihi2")
    assert profile.cores_per_chip == 128
    assert profile.units_per_core == 8192
    assert profile.synaptic_memory_bits_per_core == 192 * 1024 * 8
    assert profile.payload_bits == 32
    sources = profile.sources()
    for field in FIELD_NAMES:
        if field.startswith(("energy_", "time_")):
            assert sources[field].assumption, field
    assert not sources["payload_bits"].assumption
    assert profile.energy_synop_pj == load_profile("loihi").energy_synop_pj


def test_spinnaker2_and_truenorth_key_figures():
    spinnaker2 = load_profile("spinnaker2")
    assert spinnaker2.cores_per_chip == 152
    assert spinnaker2.cores_per_tile == 4
    truenorth = load_profile("truenorth")
    assert truenorth.cores_per_chip == 4096
    assert truenorth.units_per_core == 256
    assert truenorth.synaptic_memory_bits_per_core == 256 * 256
    assert truenorth.energy_synop_pj == 26.0
    assert truenorth.tick_ns == 1e6
    assert (truenorth.mesh_width, truenorth.mesh_height) == (64, 64)
    assert not truenorth.sources()["energy_synop_pj"].assumption


def test_generic_profile_is_all_assumptions():
    profile = load_profile("generic")
    assert set(profile.assumptions()) == set(FIELD_NAMES)


@pytest.mark.parametrize("name", BUILTIN)
def test_every_numeric_field_has_a_source(name):
    profile = load_profile(name)
    sources = profile.sources()
    assert list(sources) == FIELD_NAMES
    for field, src in sources.items():
        assert isinstance(src, FieldSource)
        assert isinstance(src.source, str) and src.source.strip(), field
        assert isinstance(src.assumption, bool), field
        assert isinstance(src.note, str), field
        assert src.value == getattr(profile, field)
        if src.assumption:
            assert src.note.strip() or name == "generic", f"{name}.{field} needs a note"


def test_field_specs_match_dataclass_fields():
    numeric = [f.name for f in dataclasses.fields(HardwareProfile)][2:-3]
    assert numeric == FIELD_NAMES


def test_summary_mentions_every_field():
    text = load_profile("loihi").summary()
    for field in FIELD_NAMES:
        assert field in text
    assert "ASSUMPTION" in text


# ------------------------------------------------------------------------------ round trip
def test_user_profile_round_trip(tmp_path):
    original = load_profile("loihi").with_values(name="my-chip", cores_per_chip=64)
    path = tmp_path / "my_chip.json"
    original.save(path)
    for handle in (path, str(path)):
        loaded = load_profile(handle)
        assert loaded == original
        assert loaded.sources() == original.sources()
        assert loaded.origin == str(path)
    assert loaded.sources()["cores_per_chip"].assumption
    assert loaded.sources()["units_per_core"].source.startswith("Davies")


@pytest.mark.parametrize("name", BUILTIN)
def test_dict_round_trip(name):
    profile = load_profile(name)
    again = HardwareProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert again == profile
    assert again.sources() == profile.sources()


def test_integral_floats_are_accepted_for_integer_fields(tmp_path, loihi_doc):
    loihi_doc["fields"]["cores_per_chip"]["value"] = 128.0
    profile = load_profile(write_json(tmp_path, loihi_doc))
    assert profile.cores_per_chip == 128 and isinstance(profile.cores_per_chip, int)


def test_profile_built_in_code_reports_unrecorded_sources():
    values = {f: getattr(load_profile("generic"), f) for f in FIELD_NAMES}
    profile = HardwareProfile(name="code", description="", **values)
    sources = profile.sources()
    assert all(src.assumption and src.source for src in sources.values())
    assert HardwareProfile.from_dict(profile.to_dict()) == profile


def test_profiles_are_frozen_and_hashable():
    profile = load_profile("loihi")
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.cores_per_chip = 1
    assert hash(profile) == hash(load_profile("loihi").with_values())


# ------------------------------------------------------------------------------ errors
def test_unknown_name_lists_builtin_profiles():
    with pytest.raises(ParameterError) as info:
        load_profile("loihi3")
    message = str(info.value)
    assert "loihi3" in message
    for name in BUILTIN:
        assert name in message


def test_missing_file_raises_file_format_error(tmp_path):
    path = tmp_path / "absent.json"
    with pytest.raises(FileFormatError, match="absent.json"):
        load_profile(path)


def test_not_json_raises_file_format_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{ this is not json", encoding="utf-8")
    with pytest.raises(FileFormatError) as info:
        load_profile(path)
    assert str(path) in str(info.value)
    assert "not valid JSON" in str(info.value)


def test_missing_field_names_file_and_field(tmp_path, loihi_doc):
    del loihi_doc["fields"]["energy_synop_pj"]
    path = write_json(tmp_path, loihi_doc)
    with pytest.raises(FileFormatError) as info:
        load_profile(path)
    assert "energy_synop_pj" in str(info.value)
    assert str(path) in str(info.value)


def test_missing_source_names_field(tmp_path, loihi_doc):
    del loihi_doc["fields"]["units_per_core"]["source"]
    with pytest.raises(FileFormatError, match="units_per_core.*'source'"):
        load_profile(write_json(tmp_path, loihi_doc))


def test_empty_source_is_rejected(tmp_path, loihi_doc):
    loihi_doc["fields"]["units_per_core"]["source"] = "  "
    with pytest.raises(FileFormatError, match="units_per_core"):
        load_profile(write_json(tmp_path, loihi_doc))


def test_negative_capacity_names_profile_field_value_and_rule(tmp_path, loihi_doc):
    loihi_doc["fields"]["units_per_core"]["value"] = -5
    path = write_json(tmp_path, loihi_doc)
    with pytest.raises(ParameterError) as info:
        load_profile(path)
    message = str(info.value)
    assert "'loihi'" in message
    assert "units_per_core" in message
    assert "-5" in message
    assert "> 0" in message
    assert str(path) in message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cores_per_chip", "128"),
        ("energy_synop_pj", "cheap"),
        ("payload_bits", 1.5),
        ("state_bits", True),
        ("tick_ns", None),
        ("mesh_width", [8]),
    ],
)
def test_wrong_type_names_field(tmp_path, loihi_doc, field, value):
    loihi_doc["fields"][field]["value"] = value
    path = write_json(tmp_path, loihi_doc)
    with pytest.raises(FileFormatError) as info:
        load_profile(path)
    assert field in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.__setitem__("fields", []), "'fields'"),
        (lambda d: d.pop("fields"), "'fields'"),
        (lambda d: d.pop("name"), "'name'"),
        (lambda d: d.__setitem__("version", 2), "'version'"),
        (lambda d: d.__setitem__("format", "other"), "'format'"),
        (lambda d: d.__setitem__("extra", 1), "extra"),
        (
            lambda d: d["fields"].__setitem__("energy_synop_pJ", d["fields"]["energy_synop_pj"]),
            "energy_synop_pJ",
        ),
        (lambda d: d["fields"]["tick_ns"].__setitem__("assumption", "no"), "tick_ns"),
        (lambda d: d["fields"]["tick_ns"].__setitem__("unit", "ns"), "tick_ns"),
        (lambda d: d["fields"].__setitem__("tick_ns", 0.0), "tick_ns"),
    ],
)
def test_structural_errors_raise_file_format_error(tmp_path, loihi_doc, mutate, fragment):
    mutate(loihi_doc)
    with pytest.raises(FileFormatError) as info:
        load_profile(write_json(tmp_path, loihi_doc))
    assert fragment in str(info.value)


def test_top_level_must_be_an_object(tmp_path):
    with pytest.raises(FileFormatError, match="JSON object"):
        load_profile(write_json(tmp_path, [1, 2, 3]))


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("energy_hop_east_west_pj", -1.0, ">= 0"),
        ("time_synop_ns", float("nan"), "finite"),
        ("memory_word_bits", 0, "> 0"),
        ("weight_bits_max", 0, "> 0"),
    ],
)
def test_rule_violations_raise_parameter_error(tmp_path, loihi_doc, field, value, rule):
    loihi_doc["fields"][field]["value"] = value
    with pytest.raises(ParameterError) as info:
        load_profile(write_json(tmp_path, loihi_doc))
    assert field in str(info.value) and rule in str(info.value)


def test_cross_field_rules(loihi_doc):
    loihi_doc["fields"]["weight_bits_min"]["value"] = 12
    with pytest.raises(ParameterError, match="weight_bits_max.*weight_bits_min"):
        HardwareProfile.from_dict(loihi_doc)
    doc = load_profile("loihi").to_dict()
    doc["fields"]["barrier_sync_min_ns"]["value"] = 5000.0
    with pytest.raises(ParameterError, match="barrier_sync_max_ns"):
        HardwareProfile.from_dict(doc)
    doc = load_profile("loihi").to_dict()
    doc["fields"]["mesh_height"]["value"] = 2
    with pytest.raises(ParameterError, match="cores_per_chip.*mesh"):
        HardwareProfile.from_dict(doc)


def test_with_values_validates_and_records():
    profile = load_profile("loihi")
    with pytest.raises(ParameterError, match="cores_per_chip"):
        profile.with_values(cores_per_chip=0)
    with pytest.raises(ParameterError, match="no_such_field"):
        profile.with_values(no_such_field=1)
    changed = profile.with_values(energy_synop_pj=10)
    assert changed.energy_synop_pj == 10.0 and isinstance(changed.energy_synop_pj, float)
    assert changed.sources()["energy_synop_pj"].assumption
    assert "35.5" in changed.sources()["energy_synop_pj"].note


# ------------------------------------------------------------------------------ geometry
def test_geometry_on_small_mesh():
    # 2 chips of 8 cores; 2 cores per tile; 2 x 2 tiles per chip.
    geometry = CoreGeometry(cores_per_chip=8, cores_per_tile=2, mesh_width=2, mesh_height=2)
    assert geometry.tiles_per_chip == 4
    positions = [geometry.mesh_position(c) for c in range(10)]
    assert positions == [
        (0, 0, 0),
        (0, 0, 0),
        (0, 1, 0),
        (0, 1, 0),
        (0, 0, 1),
        (0, 0, 1),
        (0, 1, 1),
        (0, 1, 1),
        (1, 0, 0),
        (1, 0, 0),
    ]
    assert geometry.chip_of(7) == 0 and geometry.chip_of(8) == 1
    assert geometry.hops(0, 1) == (0, 0)  # same tile
    assert geometry.hops(0, 2) == (1, 0)
    assert geometry.hops(0, 4) == (0, 1)
    assert geometry.hops(1, 7) == (1, 1)
    assert geometry.hops(7, 1) == (1, 1)
    # Chips in one east-west row: chip 1 starts at global x = 2.
    assert geometry.hops(0, 8) == (2, 0)
    assert geometry.hops(6, 8) == (1, 1)
    assert geometry.chip_crossings(6, 8) == 1
    # Two chips per row: chip 2 (cores 16..23) sits below chip 0.
    assert geometry.hops(0, 16, chips_per_row=2) == (0, 2)
    assert geometry.hops(0, 31, chips_per_row=2) == (3, 3)
    assert geometry.chip_crossings(0, 31, chips_per_row=2) == 2
    assert geometry.same_tile(2, 3) and not geometry.same_tile(3, 4)


def test_geometry_rejects_a_mesh_too_small():
    with pytest.raises(ParameterError, match="cores_per_chip"):
        CoreGeometry(cores_per_chip=9, cores_per_tile=2, mesh_width=2, mesh_height=2)


@pytest.mark.parametrize("core", [-1, 1.5, "3", True, None])
def test_bad_core_index(core):
    with pytest.raises(ParameterError, match="core"):
        load_profile("loihi").mesh_position(core)


def test_core_index_accepts_numpy_integers():
    assert load_profile("loihi").mesh_position(np.int64(127)) == (0, 7, 3)


def test_loihi_mesh_and_route_costs():
    loihi = load_profile("loihi-davies2018")
    assert loihi.tiles_per_chip == 32
    assert loihi.hops(0, 127) == (7, 3)
    assert loihi.route_energy_pj(0, 1) == pytest.approx(1.7)  # same tile
    assert loihi.route_energy_pj(0, 4) == pytest.approx(3.0)  # one tile east
    assert loihi.route_energy_pj(0, 32) == pytest.approx(4.0)  # one tile north-south
    assert loihi.route_energy_pj(0, 127) == pytest.approx(7 * 3.0 + 3 * 4.0)
    assert loihi.route_time_ns(0, 127) == pytest.approx(7 * 4.1 + 3 * 6.5)
    # Core 128 is core 0 of chip 1, 8 tiles further east across one chip boundary.
    assert loihi.hops(0, 128) == (8, 0)
    assert loihi.route_energy_pj(0, 128) == pytest.approx(8 * 3.0 + 160.0)
    assert loihi.route_time_ns(0, 128) == pytest.approx(8 * 4.1 + 100.0)


def test_barrier_sync_interpolation():
    loihi = load_profile("loihi-davies2018")
    assert loihi.barrier_sync_ns(1) == pytest.approx(113.0)
    assert loihi.barrier_sync_ns() == pytest.approx(465.0)
    assert loihi.barrier_sync_ns(32) == pytest.approx(465.0)
    assert loihi.barrier_sync_ns(10_000) == pytest.approx(465.0)
    assert loihi.barrier_sync_ns(17) == pytest.approx(113.0 + 352.0 * 16 / 31)
    with pytest.raises(ParameterError, match="n_tiles"):
        loihi.barrier_sync_ns(0)


# ------------------------------------------------------------------------------ memory model
def test_synaptic_memory_bits_loihi():
    loihi = load_profile("loihi")
    # 100 synapses x (9 weight + 10 index) bits = 1900 bits -> 30 words of 64 bits.
    assert loihi.synaptic_memory_bits(100) == 30 * 64
    assert loihi.synaptic_memory_bits(100, weight_bits=1, index_bits=0) == 2 * 64
    # Per-list padding: lists of 1 and 3 synapses each take whole words.
    assert loihi.synaptic_memory_bits([1, 3, 0]) == 64 + 64
    assert loihi.synaptic_memory_bits(np.array([[1], [3]])) == 128
    assert loihi.synaptic_memory_bits([]) == 0
    assert loihi.synaptic_memory_bits(0) == 0
    assert loihi.max_synapses_per_core(weight_bits=1, index_bits=0) == 1024 * 1024


def test_synaptic_memory_bits_truenorth_crossbar_rows():
    truenorth = load_profile("truenorth")
    assert truenorth.synaptic_memory_bits([3, 0, 256]) == 2 * 256
    assert truenorth.max_synapses_per_core() == 256 * 256


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"n_synapses": -1}, "n_synapses"),
        ({"n_synapses": [1, -2]}, "n_synapses"),
        ({"n_synapses": [1.5]}, "n_synapses"),
        ({"n_synapses": 10, "weight_bits": 12}, "weight_bits"),
        ({"n_synapses": 10, "weight_bits": 0}, "weight_bits"),
        ({"n_synapses": 10, "index_bits": -1}, "index_bits"),
    ],
)
def test_synaptic_memory_bits_rejects_bad_input(kwargs, fragment):
    with pytest.raises(ParameterError, match=fragment):
        load_profile("loihi").synaptic_memory_bits(**kwargs)


def test_spinnaker2_synapse_fills_one_word():
    spinnaker2 = load_profile("spinnaker2")
    assert spinnaker2.synaptic_memory_bits(1) == 32
    assert math.isclose(spinnaker2.time_synop_ns, 1e9 / 12e6, rel_tol=1e-3)
