"""EGRU language-model checkpoints: torch state_dict + the training config, and a JSON twin.

A checkpoint ``NAME.pt`` holds ``{"format", "version", "config", "vocab_size",
"state_dict", "sparsity", "metrics"}``; ``NAME.json`` holds the same without the
weights, for people and scripts.  A tied decoder weight is stored once (as
``embedding.weight``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from neuro.exceptions import FileFormatError, require

from .config import TrainConfig

__all__ = ["FORMAT", "save_checkpoint", "load_checkpoint", "build_model", "atomic_torch_save"]

FORMAT = "neuro.egru_lm"
VERSION = 1


def build_model(config: TrainConfig, vocab_size: int):
    """A fresh :class:`neuro.torch.EGRULanguageModel` for ``config``."""
    require("torch", "torch", "training EGRU language models")
    from neuro.torch import EGRULanguageModel

    return EGRULanguageModel(**config.model_kwargs(vocab_size))


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms without directory descriptors
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_torch_save(obj, path) -> Path:
    """``torch.save`` ``obj`` to ``path`` atomically: temp file, fsync, rename, fsync dir.

    A reader (or a run killed at any moment) sees either the previous file or the
    complete new one, never a partial write.

    Returns
    -------
    Path
        ``path``.
    """
    torch = require("torch", "torch", "saving EGRU checkpoints")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    return path


def save_checkpoint(path, model, config: TrainConfig, sparsity=0.0, metrics=None) -> Path:
    """Write ``model`` with its config to ``path`` (.pt) and a ``.json`` summary beside it.

    Returns
    -------
    Path
        The ``.pt`` file.
    """
    require("torch", "torch", "saving EGRU checkpoints")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "config": config.to_dict(),
        "vocab_size": int(model.vocab_size),
        "sparsity": float(sparsity),
        "metrics": dict(metrics or {}),
    }
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if model.decoder.weight is model.embedding.weight:
        del state["decoder.weight"]  # tied: stored once, restored on load
    atomic_torch_save({**meta, "state_dict": state}, path)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, default=float))
    return path


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint` (``.pt``) or a compact one
    written by :func:`neuro.apps.lm.compact.save_compact` (``.npz``).

    Returns
    -------
    model : neuro.torch.EGRULanguageModel
        In eval mode.
    info : dict
        ``config`` (a :class:`TrainConfig`), ``sparsity``, ``metrics``, ``vocab_size``.

    Raises
    ------
    FileFormatError
        Missing file, not a torch file, or not an EGRU language-model checkpoint.
    """
    torch = require("torch", "torch", "loading EGRU checkpoints")
    path = Path(path)
    if path.suffix == ".npz":
        from .compact import load_compact

        return load_compact(path)
    if not path.is_file():
        raise FileFormatError(f"{path}: no such checkpoint file.")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a bad file
        raise FileFormatError(f"{path}: not a readable torch checkpoint: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise FileFormatError(
            f"{path}: not an EGRU language-model checkpoint (format {found!r}, "
            f"expected {FORMAT!r}); write one with neuro.apps.lm.save_checkpoint."
        )
    if int(data.get("version", -1)) != VERSION:
        raise FileFormatError(
            f"{path}: checkpoint version {data.get('version')!r}, this neuro reads {VERSION}."
        )
    return restore_model(data, dict(data["state_dict"]))


def load_initial_weights(model, path) -> float:
    """Copy a checkpoint's weights into ``model`` (the start of a pruning run).

    Parameters
    ----------
    model : neuro.torch.EGRULanguageModel
        Built from the run's config; its dropouts stay the run's.
    path : str or Path
        ``.pt`` or compact ``.npz`` checkpoint of the same architecture and vocabulary.

    Returns
    -------
    float
        The checkpoint's weight sparsity (as stored in it).

    Raises
    ------
    FileFormatError
        Unreadable checkpoint.
    ParameterError
        Another architecture or vocabulary than ``model``'s.
    """
    from neuro.exceptions import ParameterError

    source, info = load_checkpoint(path)
    mine, theirs = model.state_dict(), source.state_dict()
    shapes = {k: tuple(v.shape) for k, v in mine.items()}
    found = {k: tuple(v.shape) for k, v in theirs.items()}
    if shapes != found:
        diff = sorted(k for k in set(shapes) | set(found) if shapes.get(k) != found.get(k))
        raise ParameterError(
            f"{path}: init_from checkpoint has another architecture than the run's config "
            f"(tensors {diff[:4]} differ in shape or presence); give the checkpoint's "
            "embedding size, hidden sizes and tying."
        )
    model.load_state_dict(theirs)
    return info["sparsity"]


def restore_model(meta: dict, state: dict):
    """The model a checkpoint describes, in eval mode, and its ``info`` dict.

    Parameters
    ----------
    meta : dict
        ``config`` (a dict), ``vocab_size``, optional ``sparsity`` and ``metrics``.
    state : dict of str → torch.Tensor
        The state_dict, a tied decoder weight possibly left out (stored once).
    """
    config = TrainConfig.from_dict(meta["config"])
    model = build_model(config, int(meta["vocab_size"]))
    if config.tie_weights and "decoder.weight" not in state and "embedding.weight" in state:
        state["decoder.weight"] = state["embedding.weight"]
    model.load_state_dict(state)
    model.eval()
    info = {
        "config": config,
        "sparsity": float(meta.get("sparsity", 0.0)),
        "metrics": dict(meta.get("metrics", {})),
        "vocab_size": int(meta["vocab_size"]),
    }
    return model, info
