"""Networks in HDF5 files: versioned schema, atomic writes, exact round trips.

Layout (schema version 1)::

    (user block)         the checksum header of :mod:`neuro.io.seal`, verified on load
    /                    attrs: format="neuro.network", schema_version, name, outputs, metadata
    /populations/000000  attrs: name, shape, model;  /model: the model's fields
    /projections/000000  attrs: name, pre, post, port, delay, weights, role (only when not
                         "synaptic"; absent in older files);  /weights: its fields,
                         /bias (optional dataset)

Fields are written generically from ``to_dict()`` (arrays → datasets, scalars →
attributes) and read back through the model and weight registries, so a new
registered model or operator needs no change here.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import numpy as np

from ..exceptions import FileFormatError, NeuroError, PathError, ValidationError, require
from ..ir.network import Network
from ..ir.population import Population
from ..ir.projection import Projection
from ..ir.weights import WEIGHTS
from ..models.base import MODELS
from .paths import (
    as_path,
    check_writable_file,
    fsync_dir,
    fsync_file,
    is_temp_path,
    stale_temp_files,
    temp_path,
)
from .seal import HEADER_BYTES, probe, seal, verify

FORMAT = "neuro.network"
SCHEMA_VERSION = 1

__all__ = ["save", "load", "FORMAT", "SCHEMA_VERSION"]


def _write_fields(group, fields: dict) -> None:
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, np.ndarray):
            group.create_dataset(key, data=value)
        elif isinstance(value, (str, bool, int, float, np.generic)):
            group.attrs[key] = value
        elif isinstance(value, (tuple, list)):
            group.attrs[key] = np.asarray(value)
            group.attrs[f"{key}.__tuple__"] = True
        else:
            raise FileFormatError(f"cannot store field {key!r} of type {type(value).__name__}.")


def _read_fields(group) -> dict:
    out = {}
    for key, value in group.attrs.items():
        if key.endswith(".__tuple__"):
            continue
        if f"{key}.__tuple__" in group.attrs:
            value = tuple(np.asarray(value).tolist())
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    for key, ds in group.items():
        out[key] = ds[()]
        if isinstance(out[key], np.generic):
            out[key] = np.asarray(out[key])
    return out


def _metadata_json(network: Network) -> str:
    try:
        return json.dumps(dict(network.metadata))
    except (TypeError, ValueError) as exc:  # entries changed in place after being set
        raise ValidationError(
            f"network {network.name!r}: metadata cannot be stored as JSON ({exc})."
        ) from None


def _write(f, network: Network) -> None:
    f.attrs["format"] = FORMAT
    f.attrs["schema_version"] = SCHEMA_VERSION
    f.attrs["name"] = network.name
    f.attrs["outputs"] = json.dumps(network._outputs)
    f.attrs["metadata"] = _metadata_json(network)
    pops = f.create_group("populations")
    for i, pop in enumerate(network.populations.values()):
        g = pops.create_group(f"{i:06d}")
        g.attrs.update(name=pop.name, shape=np.asarray(pop.shape), model=pop.model.type)
        _write_fields(g.create_group("model"), pop.model.to_dict())
    projs = f.create_group("projections")
    for i, p in enumerate(network.projections.values()):
        g = projs.create_group(f"{i:06d}")
        g.attrs.update(
            name=p.name,
            pre=p.pre,
            post=p.post,
            port=p.port,
            delay=p.delay,
            weights=p.weights.type,
        )
        _write_fields(g.create_group("weights"), p.weights.to_dict())
        if p.role != "synaptic":  # files of synaptic-only networks are unchanged
            g.attrs["role"] = p.role
        if p.bias is not None:
            g.create_dataset("bias", data=p.bias)


def save(network: Network, path) -> Path:
    """Write ``network`` to an HDF5 file, atomically and durably.

    The file is written to ``.NAME.tmp`` beside ``path`` (the same name for every save
    to ``path``), flushed to the disk, renamed onto ``path`` and the directory flushed:
    after a crash at any moment ``path`` holds the old or the new network, never a mix.
    A temporary file left by an interrupted save is overwritten and removed by the next
    save to the same path.  Concurrent saves to one path are not supported.

    Parameters
    ----------
    network : Network
        Validated before writing.
    path : str or Path

    Returns
    -------
    Path

    Raises
    ------
    ValidationError
        The network breaks a rule of the IR (nothing is written).
    PathError
        ``path`` cannot be written: a missing or read-only directory, a directory at
        ``path``, a full disk; the message names ``path``.
    """
    h5py = require("h5py", "io", "saving networks")
    if not isinstance(network, Network):
        raise ValidationError(
            f"neuro.save: network is a {type(network).__name__}, must be a neuro.Network."
        )
    network.validate()
    path = check_writable_file(path, "network file", replace=True)
    tmp = temp_path(path)
    for stale in stale_temp_files(path):
        with contextlib.suppress(OSError):
            stale.unlink()
    try:
        with h5py.File(tmp, "w", userblock_size=HEADER_BYTES) as f:
            _write(f, network)
        seal(tmp)
        fsync_file(tmp)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, NeuroError):
            reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
            raise PathError(f"cannot write network file {str(path)!r}: {reason}.") from None
        raise
    return path


def _interrupted_note(path: Path) -> str:
    if is_temp_path(path):
        target = path.with_name(path.name[1:-4])
        return (
            f" {path.name!r} is the unfinished temporary file of a save to {str(target)!r} "
            "that was interrupted; load that file, or save the network again."
        )
    if temp_path(path).exists():
        return (
            f" A save to this path was interrupted (its unfinished temporary file "
            f"{temp_path(path).name!r} is beside it); save the network again."
        )
    return ""


def _schema_version(path: Path, value) -> int:
    try:
        ok = not isinstance(value, (str, bytes)) and np.ndim(value) == 0 and int(value) == value
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        shown = value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value
        raise FileFormatError(
            f"{path}: schema_version attribute == {shown!r}, must be an integer; "
            "the file is damaged or was not written by neuro."
        )
    return int(value)


def load(path) -> Network:
    """Read a network written by :func:`save`.

    The file's checksum (written by every save) is verified before HDF5 reads it, so a
    damaged or changed byte gives an error, never a crash or a different network.

    Raises
    ------
    FileFormatError
        If the file is missing, not HDF5 (truncated, corrupt), not a neuro network
        (foreign HDF5), of another schema version, damaged inside, or left by an
        interrupted save; the message names ``path`` and the reason.
    """
    h5py = require("h5py", "io", "loading networks")
    path = as_path(path, "network file", FileFormatError)
    if not path.is_file():
        what = "is a directory, not a network file" if path.is_dir() else "no such file"
        raise FileFormatError(f"{path}: {what}.{_interrupted_note(path)}")
    try:
        state = verify(path)
    except FileFormatError as exc:
        raise FileFormatError(f"{exc}{_interrupted_note(path)}") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot be read: {exc.strerror or exc}.") from None
    if state != "verified":  # bytes neuro did not write as they are: parse them apart first
        problem = probe(lambda p: _parse(h5py, p), path)
        if problem is not None:
            raise FileFormatError(problem)
        if state == "changed":  # readable, but not what was saved: never a silent difference
            raise FileFormatError(
                f"{path}: damaged network file: its bytes do not match the checksum written "
                "with them (changed after it was written; edit networks in Python and save "
                "them again)."
            )
    return _parse(h5py, path)


def _parse(h5py, path: Path) -> Network:
    try:
        f = h5py.File(path, "r")
    except Exception as exc:  # h5py reports damage as OSError, sometimes other types
        raise FileFormatError(
            f"{path}: not a readable HDF5 file (truncated or corrupt?): "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}."
            f"{_interrupted_note(path)}"
        ) from None
    with f:
        try:
            return _load_open(f, path)
        except NeuroError as exc:
            if isinstance(exc, FileFormatError):
                raise
            raise FileFormatError(f"{path}: damaged network file: {exc}") from None
        except Exception as exc:  # any failure while reading is damage to the file
            raise FileFormatError(
                f"{path}: damaged network file: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}{_interrupted_note(path)}"
            ) from None


_ROOT_ATTRS = {"format", "schema_version", "name", "outputs", "metadata"}


def _load_open(f, path: Path) -> Network:
    fmt = f.attrs.get("format")
    if fmt != FORMAT:
        raise FileFormatError(
            f"{path}: an HDF5 file but not a neuro network (format attribute {fmt!r}, "
            f"expected {FORMAT!r}).{_interrupted_note(path)}"
        )
    version = _schema_version(path, f.attrs.get("schema_version", -1))
    if version != SCHEMA_VERSION:
        raise FileFormatError(
            f"{path}: schema version {version}, this neuro reads version {SCHEMA_VERSION}; "
            "upgrade neuro (newer file) or re-save the network (older file)."
        )
    unknown = sorted(set(f.attrs.keys()) - _ROOT_ATTRS)
    if unknown:
        raise FileFormatError(f"{path}: damaged network file: unknown attributes {unknown}.")
    return _read_network(f)


def _read_network(f) -> Network:
    net = Network(
        name=str(f.attrs["name"]),
        outputs=json.loads(f.attrs["outputs"]),
        metadata=json.loads(f.attrs["metadata"]),
    )
    for key in sorted(f["populations"]):
        g = f["populations"][key]
        model = MODELS.get(str(g.attrs["model"])).from_dict(_read_fields(g["model"]))
        net._add(
            net.populations,
            Population(str(g.attrs["name"]), tuple(g.attrs["shape"]), model),
            "population",
        )
    for key in sorted(f["projections"]):
        g = f["projections"][key]
        weights = WEIGHTS.get(str(g.attrs["weights"])).from_dict(_read_fields(g["weights"]))
        bias = g["bias"][()] if "bias" in g else None
        proj = Projection(
            str(g.attrs["name"]),
            str(g.attrs["pre"]),
            str(g.attrs["post"]),
            weights,
            port=str(g.attrs["port"]),
            delay=int(g.attrs["delay"]),
            bias=bias,
            role=str(g.attrs.get("role", "synaptic")),
        )
        net._add(net.projections, proj, "projection")
    return net.validate()
