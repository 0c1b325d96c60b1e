"""Compact EGRU language-model checkpoints, small enough to keep in a repository.

A compact checkpoint ``NAME.npz`` (``numpy.savez_compressed``) holds, per tensor of the
model's ``state_dict``, either its float16 values (``dense:KEY``) or, when at least a
quarter of its entries are zero (a pruned weight), a bit mask of the non-zeros
(``mask:KEY``, ``numpy.packbits`` in C order) and the float16 non-zero values in the
same order (``values:KEY``); ``meta`` is the JSON text of ``{"format", "version",
"config", "vocab_size", "sparsity", "metrics", "shapes"}``.  A tied decoder weight is
stored once (as ``embedding.weight``).

Float16 rounds every weight (relative error ≤ 2⁻¹¹); zeros stay zeros, so a pruned
model keeps its sparsity exactly.  A compact checkpoint therefore describes a model of
its own: :func:`load_compact` returns the rounded model, and every perplexity reported
for the file is measured on that model (torch and event-driven read the same weights).
:func:`neuro.apps.lm.load_checkpoint` reads both formats (by suffix).

Sizes, for a tied EGRU of 4.34 M parameters (vocabulary 10,000, embedding 256, layers
512 and 256): 17.4 MB as a ``.pt`` file at every sparsity; as a compact file 8.0 MB
dense, 4.3 MB with every matrix at 50 % sparsity, 3.3 and 3.0 MB with the EGRU kernels
at 80 and 90 % and the embedding at 50 % (the embedding's 2.56 M weights dominate).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from neuro.exceptions import FileFormatError, ParameterError, require

__all__ = ["COMPACT_FORMAT", "save_compact", "load_compact", "compact_state"]

COMPACT_FORMAT = "neuro.egru_lm.compact"
COMPACT_VERSION = 1
#: A tensor with at least this fraction of zero entries is stored as mask + values.
SPARSE_FRACTION = 0.25
_F16_MAX = float(np.finfo(np.float16).max)


def compact_state(state: dict) -> dict[str, np.ndarray]:
    """Encode a ``state_dict`` (name → tensor or array) as the compact arrays.

    Parameters
    ----------
    state : dict
        Float tensors or arrays of any shape.

    Returns
    -------
    dict of ndarray
        ``dense:KEY`` (float16, the tensor's shape) or ``mask:KEY`` (uint8, packed
        bits of the flattened tensor) with ``values:KEY`` (float16, the non-zeros).

    Raises
    ------
    ParameterError
        A tensor holds a non-finite value or one beyond float16's range (±65504),
        which float16 storage would turn into ±inf.
    """
    arrays = {}
    for key, tensor in state.items():
        a = np.asarray(tensor.detach().cpu().numpy() if hasattr(tensor, "detach") else tensor)
        a = a.astype(np.float64, copy=False)
        if not np.all(np.isfinite(a)):
            raise ParameterError(
                f"{key}: holds NaN or inf; a compact checkpoint needs finite weights."
            )
        peak = float(np.max(np.abs(a))) if a.size else 0.0
        if peak > _F16_MAX:
            raise ParameterError(
                f"{key}: |weight| reaches {peak:.6g}, beyond float16's {_F16_MAX:g}; "
                "keep this model in a .pt checkpoint."
            )
        flat = a.reshape(-1)
        nonzero = flat != 0
        if flat.size and 1.0 - nonzero.mean() >= SPARSE_FRACTION:
            arrays[f"mask:{key}"] = np.packbits(nonzero)
            arrays[f"values:{key}"] = flat[nonzero].astype(np.float16)
        else:
            arrays[f"dense:{key}"] = a.astype(np.float16)
    return arrays


def _expand_state(arrays, shapes: dict) -> dict[str, np.ndarray]:
    """Inverse of :func:`compact_state` (float32 arrays)."""
    state = {}
    for key, shape in shapes.items():
        shape = tuple(int(s) for s in shape)
        if f"dense:{key}" in arrays:
            a = np.asarray(arrays[f"dense:{key}"]).astype(np.float32)
        elif f"mask:{key}" in arrays and f"values:{key}" in arrays:
            n = int(np.prod(shape))
            mask = np.unpackbits(np.asarray(arrays[f"mask:{key}"]), count=n).astype(bool)
            values = np.asarray(arrays[f"values:{key}"])
            if values.size != int(mask.sum()):
                raise FileFormatError(
                    f"{key}: {values.size} stored values for {int(mask.sum())} non-zero "
                    "positions; the compact checkpoint is damaged."
                )
            a = np.zeros(n, np.float32)
            a[mask] = values.astype(np.float32)
        else:
            raise FileFormatError(f"{key}: missing from the compact checkpoint.")
        if a.size != int(np.prod(shape)):
            raise FileFormatError(f"{key}: {a.size} values for shape {shape}.")
        state[key] = a.reshape(shape)
    return state


def save_compact(path, model, config, sparsity=0.0, metrics=None) -> Path:
    """Write ``model`` as a compact checkpoint (see the module docstring).

    Parameters
    ----------
    path : str or Path
        Target ``.npz`` file (written atomically: temp file, then rename).
    model : neuro.torch.EGRULanguageModel
    config : TrainConfig
    sparsity : float
        The model's weight sparsity (recorded).
    metrics : dict, optional
        Recorded as is (e.g. perplexities measured on the compact model).

    Returns
    -------
    Path
        ``path``.
    """
    import os

    path = Path(path)
    state = {k: v for k, v in model.state_dict().items()}
    if model.decoder.weight is model.embedding.weight:
        del state["decoder.weight"]
    meta = {
        "format": COMPACT_FORMAT,
        "version": COMPACT_VERSION,
        "config": config.to_dict(),
        "vocab_size": int(model.vocab_size),
        "sparsity": float(sparsity),
        "metrics": dict(metrics or {}),
        "shapes": {k: list(v.shape) for k, v in state.items()},
    }
    arrays = compact_state(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.npz")
    np.savez_compressed(tmp, meta=np.array(json.dumps(meta, default=float)), **arrays)
    os.replace(tmp, path)
    return path


def load_compact(path):
    """Read a compact checkpoint.

    Returns
    -------
    model : neuro.torch.EGRULanguageModel
        In eval mode, with the float16-rounded weights (as float32).
    info : dict
        ``config`` (a :class:`TrainConfig`), ``sparsity``, ``metrics``, ``vocab_size``.

    Raises
    ------
    FileFormatError
        Missing or unreadable file, another format or version, damaged arrays.
    """
    torch = require("torch", "torch", "loading EGRU checkpoints")
    from .checkpoint import restore_model

    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"{path}: no such checkpoint file.")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # zipfile and numpy raise several types for a bad file
        raise FileFormatError(f"{path}: not a readable .npz file: {exc}") from None
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except (KeyError, ValueError):
        raise FileFormatError(
            f"{path}: no checkpoint metadata (not a compact checkpoint)."
        ) from None
    if meta.get("format") != COMPACT_FORMAT:
        raise FileFormatError(
            f"{path}: format {meta.get('format')!r}, expected {COMPACT_FORMAT!r}."
        )
    if int(meta.get("version", -1)) != COMPACT_VERSION:
        raise FileFormatError(
            f"{path}: compact checkpoint version {meta.get('version')!r}, "
            f"this neuro reads {COMPACT_VERSION}."
        )
    state = {k: torch.from_numpy(v) for k, v in _expand_state(arrays, meta["shapes"]).items()}
    return restore_model(meta, state)
