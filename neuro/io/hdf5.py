"""Networks in HDF5 files: versioned schema, atomic writes, exact round trips.

Layout (schema version 1)::

    /                    attrs: format="neuro.network", schema_version, name, outputs, metadata
    /populations/000000  attrs: name, shape, model;  /model: the model's fields
    /projections/000000  attrs: name, pre, post, port, delay, weights;  /weights: its fields,
                         /bias (optional dataset)

Fields are written generically from ``to_dict()`` (arrays → datasets, scalars →
attributes) and read back through the model and weight registries, so a new
registered model or operator needs no change here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..exceptions import FileFormatError, NeuroError, require
from ..ir.network import Network
from ..ir.population import Population
from ..ir.projection import Projection
from ..ir.weights import WEIGHTS
from ..models.base import MODELS

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


def save(network: Network, path) -> Path:
    """Write ``network`` to an HDF5 file, atomically (temporary file, then rename).

    Parameters
    ----------
    network : Network
        Validated before writing.
    path : str or Path

    Returns
    -------
    Path
    """
    h5py = require("h5py", "io", "saving networks")
    network.validate()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["schema_version"] = SCHEMA_VERSION
            f.attrs["name"] = network.name
            f.attrs["outputs"] = json.dumps(network._outputs)
            f.attrs["metadata"] = json.dumps(network.metadata)
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
                if p.bias is not None:
                    g.create_dataset("bias", data=p.bias)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load(path) -> Network:
    """Read a network written by :func:`save`.

    Raises
    ------
    FileFormatError
        If the file is missing, not HDF5 (truncated, corrupt), not a neuro network
        (foreign HDF5), of a newer schema version, or damaged inside.
    """
    h5py = require("h5py", "io", "loading networks")
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"{path}: no such file.")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise FileFormatError(
            f"{path}: not a readable HDF5 file (truncated or corrupt?): {exc}"
        ) from None
    with f:
        fmt = f.attrs.get("format")
        if fmt != FORMAT:
            raise FileFormatError(
                f"{path}: an HDF5 file but not a neuro network (format attribute {fmt!r}, "
                f"expected {FORMAT!r})."
            )
        version = int(f.attrs.get("schema_version", -1))
        if version != SCHEMA_VERSION:
            raise FileFormatError(
                f"{path}: schema version {version}, this neuro reads version {SCHEMA_VERSION}; "
                "upgrade neuro (newer file) or re-save the network (older file)."
            )
        try:
            return _read_network(f)
        except NeuroError as exc:
            raise FileFormatError(f"{path}: damaged network file: {exc}") from None
        except (KeyError, ValueError, TypeError, OSError) as exc:
            raise FileFormatError(f"{path}: damaged network file: {exc!r}") from None


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
        )
        net._add(net.projections, proj, "projection")
    return net.validate()
