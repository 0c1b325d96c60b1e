"""Hardware profiles of simulated neuromorphic cores.

A profile gives a hardware planner the per-core capacity (neurons, synaptic
memory, fan-in and fan-out, weight and payload widths), the mesh layout and the
per-operation energy and time of one chip, each figure with its source.

Built-in profiles (JSON files shipped as package data in
``neuro/hardware/profiles/``):

``loihi``
    Intel Loihi with per-operation costs calibrated like SANA-FE's Loihi model
    (Boyle et al., IEEE TCAD 2025): synaptic events by format, neuron access,
    update and spike, message send and receive, hops, barrier by tiles used.
``loihi-davies2018``
    Intel Loihi with the pre-silicon figures of Davies et al., IEEE Micro 38(1),
    2018, Table 2.
``loihi2``
    Intel Loihi 2, capacities from Intel's 2021 technology brief; per-operation
    costs are unpublished and borrowed from the calibrated Loihi model (flagged
    as assumptions).
``spinnaker2``
    SpiNNaker 2 (152 Arm Cortex-M4F processing elements per chip).
``truenorth``
    IBM TrueNorth, from Merolla et al., Science 345(6197), 2014.
``generic``
    Round numbers for quick what-if planning; every figure is an assumption.

Examples
--------
>>> from neuro.hardware import load_profile
>>> loihi = load_profile("loihi")
>>> loihi.units_per_core
1024
>>> loihi.hops(0, 127)
(7, 3)
>>> loihi.sources()["energy_message_send_pj"].assumption
False
"""

from __future__ import annotations

import functools
import json
import os
from importlib import resources
from typing import Any

from ..exceptions import FileFormatError, ParameterError
from .costs import COST_TERMS, OMITTED_TERMS, CostTerm, cost_terms
from .geometry import CoreGeometry
from .profile import HardwareProfile
from .sanafe_export import export_sanafe, run_sanafe
from .schema import FIELD_SPECS, FORMAT, FORMAT_VERSION, FieldSource, FieldSpec, SyncTable

__all__ = [
    "COST_TERMS",
    "OMITTED_TERMS",
    "CostTerm",
    "SyncTable",
    "cost_terms",
    "export_sanafe",
    "run_sanafe",
    "FIELD_SPECS",
    "FORMAT",
    "FORMAT_VERSION",
    "CoreGeometry",
    "FieldSource",
    "FieldSpec",
    "HardwareProfile",
    "available_profiles",
    "load_profile",
]

_PROFILE_DIR = "profiles"


def _profile_files():
    return resources.files(__name__).joinpath(_PROFILE_DIR)


def available_profiles() -> tuple[str, ...]:
    """Return the names of the built-in profiles, sorted.

    Returns
    -------
    tuple of str
        Names accepted by :func:`load_profile`, e.g. ``("generic", "loihi", ...)``.
    """
    names = (
        entry.name[: -len(".json")]
        for entry in _profile_files().iterdir()
        if entry.name.endswith(".json") and entry.is_file()
    )
    return tuple(sorted(names))


@functools.cache
def _load_builtin(name: str) -> HardwareProfile:
    resource = _profile_files().joinpath(f"{name}.json")
    origin = f"<built-in profile {name!r}>"
    try:
        text = resource.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:  # pragma: no cover - broken install
        raise FileFormatError(f"cannot read the built-in hardware profile {name!r}: {exc}") from exc
    return _parse(text, origin)


def _parse(text: str, origin: str) -> HardwareProfile:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileFormatError(
            f"hardware profile file {origin!r} is not valid JSON: {exc.msg} "
            f"(line {exc.lineno}, column {exc.colno})."
        ) from None
    return HardwareProfile.from_dict(data, origin=origin)


def _looks_like_path(text: str) -> bool:
    return (
        text.lower().endswith(".json")
        or os.sep in text
        or (os.altsep is not None and os.altsep in text)
        or os.path.exists(text)
    )


def load_profile(name_or_path: str | os.PathLike[str] | HardwareProfile) -> HardwareProfile:
    """Load a built-in hardware profile by name, or a user profile from a JSON file.

    Parameters
    ----------
    name_or_path : str, os.PathLike or HardwareProfile
        A built-in name (case-insensitive, see :func:`available_profiles`), the
        path of a JSON profile file, or a profile (returned unchanged).

    Returns
    -------
    HardwareProfile
        The validated profile.  Built-in profiles are cached; profiles are
        immutable, so sharing them is safe.

    Raises
    ------
    ParameterError
        If ``name_or_path`` is neither a built-in name nor a path; the message
        lists the built-in names.  Also raised when a value in the file breaks
        its rule (the message names the profile, field, value and rule).
    FileFormatError
        If the file is missing, unreadable, not JSON, or lacks a field or has
        one of the wrong type; the message names the file and the field.

    Examples
    --------
    >>> load_profile("truenorth").units_per_core
    256
    """
    if isinstance(name_or_path, HardwareProfile):
        return name_or_path
    if isinstance(name_or_path, os.PathLike):
        return _load_file(os.fspath(name_or_path))
    if not isinstance(name_or_path, str):
        raise ParameterError(
            f"load_profile expects a profile name or a file path, got "
            f"{type(name_or_path).__name__}: {name_or_path!r}."
        )
    builtin = available_profiles()
    if name_or_path.lower() in builtin:
        return _load_builtin(name_or_path.lower())
    if _looks_like_path(name_or_path):
        return _load_file(name_or_path)
    raise ParameterError(
        f"unknown hardware profile {name_or_path!r}; built-in profiles: "
        f"{', '.join(builtin)}. To load your own profile, pass the path of a JSON file."
    )


def _load_file(path: str) -> HardwareProfile:
    if not os.path.isfile(path):
        raise FileFormatError(
            f"hardware profile file {path!r} does not exist (or is not a file). Built-in "
            f"profiles: {', '.join(available_profiles())}."
        )
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"cannot read hardware profile file {path!r}: {exc}") from exc
    return _parse(text, path)
