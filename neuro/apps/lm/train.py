"""Training an EGRU language model on Penn Treebank, with pruning, resumable.

A run has phases:

1. dense training with truncated BPTT (state carried between chunks, gradients cut),
   AdamW (or Adam) and a cosine learning-rate decay over the phase;
2. iterative magnitude pruning: for each sparsity level (ascending) the smallest
   weights of every pruned matrix are zeroed -- at once, or gradually over part of the
   level (``prune_ramp_fraction``) -- and the model is fine-tuned with the masks
   re-applied after every step.  Each level starts from the previous level's model; with
   ``init_from`` the first starts from a checkpoint, in place of phase 1.

A model checkpoint (torch state_dict + config) is written after each phase/level.
With an output directory, the whole training state -- model, optimizer, phase and
step (which fix the learning rate), data position and carried recurrent state, RNG
states of ``random``, numpy and torch, pruning masks and results so far -- is written
atomically to ``train_state.pt`` every ``checkpoint_every_s`` seconds and at every
phase boundary; ``train_lm(..., resume=True)`` continues from it.  In step mode
(``config.epochs`` set) a stopped and resumed run equals an uninterrupted one (bit for
bit with the same number of torch threads; another thread count changes the rounding of
matrix products, not the run).  Steps redone after a resume (those after the last state
write) appear twice in ``progress.jsonl``.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuro.data.ptb import batchify
from neuro.exceptions import require

from .checkpoint import atomic_torch_save, build_model, load_initial_weights, save_checkpoint
from .config import TrainConfig
from .evaluate import torch_perplexity
from .pruning import (
    PRUNE_INTERVAL_STEPS,
    apply_masks,
    magnitude_masks,
    prunable_weights,
    ramp_sparsity,
    weight_sparsity,
)

__all__ = [
    "LevelResult",
    "train_lm",
    "train_phase",
    "make_optimizer",
    "read_state_config",
    "STATE_FILE",
]

#: Name of the resumable training state inside the output directory.
STATE_FILE = "train_state.pt"


def make_optimizer(model, config: TrainConfig, lr: float):
    """The optimizer of ``config.optimizer`` over all of ``model``'s parameters."""
    torch = require("torch", "torch", "training EGRU language models")
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(model.parameters(), lr=lr, weight_decay=config.weight_decay)


@dataclass
class LevelResult:
    """Outcome of one phase (dense) or pruning level.

    Attributes
    ----------
    sparsity : float
        Fraction of zero weights among the pruned matrices.
    valid_ppl, test_ppl : float
        Torch perplexities (full state carried over the stream).
    steps, seconds : int, float
        Optimiser steps and wall time of the phase.
    path : Path or None
        The checkpoint written.
    history : list of dict
        ``{"step", "seconds", "loss", "lr"}`` samples.
    """

    sparsity: float
    valid_ppl: float
    test_ppl: float
    steps: int
    seconds: float
    path: Path | None = None
    history: list = field(default_factory=list)


def _detach(state):
    return [(y.detach(), c.detach()) for y, c in state]


def train_step(model, opt, loss_fn, x, y, state, config, weights, masks):
    """One optimisation step on a bptt window; returns (loss, detached state).

    Forward with the carried state, cross-entropy (plus the activity term when
    ``config.activity_gamma`` > 0), backward, gradient clipping, the optimizer step,
    threshold clamping and, while pruning, the masks re-applied.
    """
    import torch

    from neuro.torch.regularizers import event_rate

    want_act = config.activity_gamma > 0
    out = model(x, state, return_activity=want_act)
    logits, state = out[0], _detach(out[1])
    loss = loss_fn(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    total = loss + config.activity_gamma * event_rate(out[2]) if want_act else loss
    opt.zero_grad(set_to_none=True)
    total.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
    opt.step()
    for layer in model.layers:
        layer.clamp_thresholds_()
    if masks:
        apply_masks(weights, masks)
    return loss, state


def train_phase(
    model,
    train_streams: np.ndarray,
    config: TrainConfig,
    seconds: float,
    lr: float,
    masks: dict | None = None,
    max_steps: int | None = None,
    max_epochs: float | None = None,
    log=None,
) -> dict:
    """Train ``model`` in place for at most ``seconds`` (and ``max_steps`` / ``max_epochs``).

    Parameters
    ----------
    model : neuro.torch.EGRULanguageModel
    train_streams : ndarray of int, shape (T, B)
        From :func:`neuro.data.ptb.batchify`.
    config : TrainConfig
    seconds : float
        Wall-clock limit; the learning rate follows a cosine from ``lr`` to ``lr / 20``
        over it.
    lr : float
    masks : dict, optional
        Pruning masks re-applied after every optimiser step.
    max_steps : int, optional
    max_epochs : float, optional
    log : callable, optional
        Called with one line of text per report.

    Returns
    -------
    dict
        ``steps``, ``seconds``, ``epochs``, ``history`` (list of dicts) and ``last_loss``.
    """
    torch = require("torch", "torch", "training EGRU language models")

    weights = prunable_weights(model) if masks else {}
    opt = make_optimizer(model, config, lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    start = time.perf_counter()
    steps, tokens, history, last, running = 0, 0, [], float("nan"), []
    per_epoch = (train_streams.shape[0] - 1) * train_streams.shape[1]
    data = torch.from_numpy(np.ascontiguousarray(train_streams))
    model.train()
    done = False
    while not done:
        state = None
        for start_t in range(0, data.shape[0] - 1, config.bptt):
            elapsed = time.perf_counter() - start
            epochs = tokens / per_epoch
            if (
                elapsed >= seconds
                or (max_steps is not None and steps >= max_steps)
                or (max_epochs is not None and epochs >= max_epochs)
            ):
                done = True
                break
            frac = min(1.0, elapsed / seconds)
            if max_epochs is not None:
                frac = max(frac, epochs / max_epochs)
            cur_lr = lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * frac)))
            for group in opt.param_groups:
                group["lr"] = cur_lr
            stop_t = min(start_t + config.bptt, data.shape[0] - 1)
            xt, yt = data[start_t:stop_t], data[start_t + 1 : stop_t + 1]
            loss, state = train_step(model, opt, loss_fn, xt, yt, state, config, weights, masks)
            steps += 1
            tokens += yt.numel()
            running.append(loss.item())
            if steps % 100 == 0:
                last = float(np.mean(running))
                running = []
                row = {
                    "step": steps,
                    "seconds": time.perf_counter() - start,
                    "loss": last,
                    "lr": cur_lr,
                    "epochs": tokens / per_epoch,
                }
                history.append(row)
                if log:
                    log(
                        f"step {steps:6d}  epoch {row['epochs']:.2f}  loss {last:.3f}  "
                        f"ppl {math.exp(last):8.1f}  lr {cur_lr:.2e}  {row['seconds']:.0f}s"
                    )
    model.eval()
    if running:
        last = float(np.mean(running))
    return {
        "steps": steps,
        "seconds": time.perf_counter() - start,
        "epochs": tokens / per_epoch,
        "history": history,
        "last_loss": last,
    }


def read_state_config(out_dir) -> TrainConfig:
    """The :class:`TrainConfig` stored in ``out_dir``'s resumable training state.

    Raises
    ------
    FileFormatError
        No readable training state in ``out_dir``.
    """
    from neuro.exceptions import FileFormatError

    torch = require("torch", "torch", "training EGRU language models")
    path = Path(out_dir) / STATE_FILE
    if not path.is_file():
        raise FileFormatError(f"{path}: no training state to resume (no earlier run there).")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises several unrelated types for a bad file
        raise FileFormatError(f"{path}: not a readable training state: {exc}") from None
    return TrainConfig.from_dict(saved["config"])


def _lr_at(config: TrainConfig, phase: int, frac: float, step: int) -> float:
    """Learning rate of ``phase`` (0 dense, then pruning levels) at progress ``frac``."""
    peak = config.lr if phase == 0 else config.lr * config.finetune_lr_scale
    lr = peak * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, frac))))
    if phase == 0 and config.warmup_steps and step < config.warmup_steps:
        lr *= (step + 1) / config.warmup_steps
    return lr


def _prune_to(weights: dict, sparsity: float) -> dict:
    """Magnitude masks of ``sparsity`` for ``weights``, applied; returns the masks."""
    masks = magnitude_masks(weights, sparsity)
    apply_masks(weights, masks)
    return masks


def _rng_state(torch) -> dict:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),  # noqa: NPY002 (the global state is saved)
        "torch": torch.get_rng_state(),
    }


def _set_rng_state(torch, state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"])


def train_lm(
    corpus,
    config: TrainConfig,
    out_dir=None,
    log=None,
    max_steps=None,
    resume: bool = False,
    stop_after_steps: int | None = None,
) -> tuple:
    """Train a dense EGRU LM, then prune it level by level; checkpoint each; resumable.

    Parameters
    ----------
    corpus : neuro.data.ptb.PTBCorpus
    config : TrainConfig
        With ``config.epochs`` set the run is defined in steps (reproducible, resumable
        bit-identically); otherwise in wall-clock time (``time_budget_s``).
    out_dir : str or Path, optional
        Checkpoints ``egru_lm_s{percent}.pt`` (+ ``.json``), the resumable state
        ``train_state.pt`` and ``progress.jsonl`` (one JSON line per report) go here.
    log : callable, optional
        Receives progress lines.
    max_steps : int, optional
        Cap on optimiser steps per phase (tests).
    resume : bool
        Continue from ``out_dir/train_state.pt`` (the config stored there is used;
        ``config`` must equal it apart from ``time_budget_s``).
    stop_after_steps : int, optional
        Write the training state and return after this many optimiser steps in total
        (all phases), as a stopped session would; ``resume=True`` continues.

    Returns
    -------
    models : dict of float → EGRULanguageModel
        One model (a separate copy) per sparsity level finished in this call, 0.0 for
        the dense one.
    results : list of LevelResult
        Every level finished so far (including those of earlier, resumed invocations).

    Raises
    ------
    FileFormatError
        ``resume`` without a readable training state in ``out_dir``.
    ParameterError
        ``resume`` with a config that differs from the stored one.
    """
    torch = require("torch", "torch", "training EGRU language models")
    import copy
    import json

    from neuro.exceptions import FileFormatError, ParameterError

    wall_start = time.perf_counter()
    out = Path(out_dir) if out_dir is not None else None
    state_path = out / STATE_FILE if out is not None else None
    train = corpus.train[: config.max_train_tokens]
    valid = corpus.valid[: config.max_eval_tokens]
    test = corpus.test[: config.max_eval_tokens]
    streams = batchify(train, config.batch_size)
    data = torch.from_numpy(streams)
    last_t = data.shape[0] - 1
    chunk_starts = list(range(0, last_t, config.bptt))
    per_epoch_steps = len(chunk_starts)
    per_epoch_tokens = last_t * data.shape[1]
    levels = [s for s in config.sparsities if s > 0]
    prune_share = config.prune_time_fraction if levels else 0.0

    def phase_limit(phase):
        """(steps, seconds) limit of a phase; one of them is None."""
        if config.epochs is not None:
            epochs = config.epochs if phase == 0 else config.finetune_epochs
            return max(1, math.ceil(epochs * per_epoch_steps)), None
        if phase == 0:
            return None, config.time_budget_s * (1.0 - prune_share)
        return None, config.time_budget_s * prune_share / max(1, len(levels))

    if resume:
        if state_path is None or not state_path.is_file():
            raise FileFormatError(
                f"{state_path}: no training state to resume (train_lm resume=True needs the "
                "out_dir of an earlier run)."
            )
        try:
            saved = torch.load(state_path, map_location="cpu", weights_only=False)
        except Exception as exc:  # torch raises several unrelated types for a bad file
            raise FileFormatError(f"{state_path}: not a readable training state: {exc}") from None
        stored = dict(saved["config"])
        mine = config.to_dict()
        for key in ("time_budget_s",):
            stored.pop(key, None)
            mine.pop(key, None)
        if stored != mine:
            diff = sorted(k for k in set(stored) | set(mine) if stored.get(k) != mine.get(k))
            raise ParameterError(
                f"{state_path}: the stored training config differs from the given one in "
                f"{diff}; resume with the stored config (neuro train-lm --resume reads it)."
            )
        model = build_model(config, len(corpus.vocab))
        model.load_state_dict(saved["model"])
        run = saved["run"]
        masks = saved["masks"]
        results = [
            LevelResult(**{**r, "path": Path(r["path"]) if r["path"] else None})
            for r in saved["results"]
        ]
        hidden = saved["hidden"]
        _set_rng_state(torch, saved["rng"])
        opt_state = saved["optimizer"]
    else:
        torch.manual_seed(config.seed)
        random.seed(config.seed)
        np.random.seed(config.seed)  # noqa: NPY002
        model = build_model(config, len(corpus.vocab))
        run = {"phase": 0, "step": 0, "seconds": 0.0, "pos": 0, "tokens": 0, "total_steps": 0}
        masks, results, hidden, opt_state = None, [], None, None
        if config.init_from is not None:
            start = load_initial_weights(model, config.init_from)
            if not levels or levels[0] <= start:
                raise ParameterError(
                    f"TrainConfig sparsities {config.sparsities}: with init_from "
                    f"{config.init_from!r} (weight sparsity {start:.3f}) every non-zero level "
                    "must exceed the checkpoint's sparsity, and one is needed."
                )
            run["phase"] = 1  # the checkpoint stands in for the dense phase

    def log_row(row):
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            with open(out / "progress.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")

    def save_state():
        if state_path is None:
            return
        atomic_torch_save(
            {
                "config": config.to_dict(),
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "run": dict(run),
                "masks": masks,
                "hidden": hidden,
                "rng": _rng_state(torch),
                "results": [
                    {**r.__dict__, "path": str(r.path) if r.path else None} for r in results
                ],
            },
            state_path,
        )

    if log and not resume:
        n = sum(p.numel() for p in model.parameters())  # a tied weight is listed once
        log(
            f"EGRU LM: {n} parameters, {per_epoch_steps} steps per epoch, "
            f"{len(levels)} pruning levels"
        )
    models = {}
    loss_fn = torch.nn.CrossEntropyLoss()
    eval_every = (
        max(1, round(config.eval_every_epochs * per_epoch_steps))
        if config.eval_every_epochs
        else None
    )
    phases = [0.0] + levels
    last_save = time.perf_counter()
    while run["phase"] < len(phases):
        phase = run["phase"]
        sparsity = phases[phase]
        weights = prunable_weights(model)  # every matrix a mask may hold
        pruned = prunable_weights(model, config.prune_embedding)  # those pruned further
        if phase > 0 and masks is None:  # entering a pruning level
            # matrices not pruned further keep the zeros they have (an earlier level's)
            masks = {n: w != 0 for n, w in weights.items() if n not in pruned and (w == 0).any()}
            if config.prune_ramp_fraction > 0:  # gradual: keep today's zeros, then ramp
                masks.update({name: w != 0 for name, w in pruned.items()})
                run["ramp_from"] = run["pruned_to"] = weight_sparsity(pruned)
            else:
                masks.update(_prune_to(pruned, sparsity))
            if log:
                log(f"pruned to {weight_sparsity(pruned):.3f} sparsity; fine-tuning to {sparsity}")
        opt = make_optimizer(model, config, _lr_at(config, phase, 0.0, 0))
        if opt_state is not None:
            opt.load_state_dict(opt_state)
            opt_state = None
        limit_steps, limit_s = phase_limit(phase)
        if max_steps is not None:
            limit_steps = max_steps if limit_steps is None else min(limit_steps, max_steps)
        model.train()
        running, t_phase = [], time.perf_counter() - run["seconds"]
        while True:
            run["seconds"] = time.perf_counter() - t_phase
            if (limit_steps is not None and run["step"] >= limit_steps) or (
                limit_s is not None and run["seconds"] >= limit_s
            ):
                break
            if stop_after_steps is not None and run["total_steps"] >= stop_after_steps:
                save_state()
                return models, results
            if (
                config.epochs is None
                and time.perf_counter() - wall_start >= 2 * config.time_budget_s
            ):
                break  # a time-mode run never overruns its budget by more than 2x
            if (
                config.epochs is not None
                and time.perf_counter() - wall_start >= config.time_budget_s
            ):
                save_state()
                if log:
                    log(f"time budget reached; training state written to {state_path}")
                return models, results
            if config.epochs is not None:
                frac = run["step"] / limit_steps
            else:
                frac = run["seconds"] / limit_s
            lr = _lr_at(config, phase, frac, run["step"])
            for group in opt.param_groups:
                group["lr"] = lr
            if "ramp_from" in run and run["pruned_to"] < sparsity:
                t = frac / config.prune_ramp_fraction
                if run["step"] % PRUNE_INTERVAL_STEPS == 0 or t >= 1.0:
                    run["pruned_to"] = ramp_sparsity(run["ramp_from"], sparsity, t)
                    masks.update(_prune_to(pruned, run["pruned_to"]))
            pos = run["pos"]
            if pos == 0:
                hidden = None  # each epoch starts from a zero state
            stop_t = min(pos + config.bptt, last_t)
            x, y = data[pos:stop_t], data[pos + 1 : stop_t + 1]
            loss, hidden = train_step(model, opt, loss_fn, x, y, hidden, config, weights, masks)
            run["step"] += 1
            run["total_steps"] += 1
            run["seconds"] = time.perf_counter() - t_phase
            run["tokens"] += y.numel()
            run["pos"] = stop_t if stop_t < last_t else 0
            running.append(loss.item())
            if len(running) == 100 or (eval_every and run["step"] % eval_every == 0):
                row = {
                    "phase": phase,
                    "sparsity": sparsity,
                    "step": run["step"],
                    "epochs": run["tokens"] / per_epoch_tokens,
                    "loss": float(np.mean(running)),
                    "lr": lr,
                    "weight_sparsity": run.get("pruned_to", sparsity),
                    "seconds": time.perf_counter() - t_phase,
                    "cpu_s": time.process_time(),
                    "wall": time.time(),
                }
                running = []
                if eval_every and run["step"] % eval_every == 0:
                    row["valid_ppl"] = torch_perplexity(model, valid, config.eval_batch_size)
                    model.train()
                log_row(row)
                if log:
                    extra = f"  valid ppl {row['valid_ppl']:.2f}" if "valid_ppl" in row else ""
                    log(
                        f"phase {phase} step {run['step']:6d}  epoch {row['epochs']:.2f}  "
                        f"loss {row['loss']:.3f}  lr {lr:.2e}  {row['seconds']:.0f}s{extra}"
                    )
            if state_path is not None and (
                time.perf_counter() - last_save >= config.checkpoint_every_s
            ):
                save_state()
                last_save = time.perf_counter()
        # phase finished: evaluate, checkpoint the model, move on
        if run.pop("ramp_from", None) is not None and run.pop("pruned_to") < sparsity:
            masks.update(_prune_to(pruned, sparsity))  # a ramp longer than the phase ends here
        model.eval()
        level_sparsity = weight_sparsity(pruned) if phase > 0 else 0.0
        v = torch_perplexity(model, valid, config.eval_batch_size)
        t = torch_perplexity(model, test, config.eval_batch_size)
        metrics = {
            "valid_ppl": v,
            "test_ppl": t,
            "steps": run["step"],
            "epochs": run["tokens"] / per_epoch_tokens,
        }
        path = None
        if out is not None:
            path = save_checkpoint(
                out / f"egru_lm_s{round(sparsity * 100):02d}.pt",
                model,
                config,
                level_sparsity,
                metrics,
            )
        if log:
            log(f"sparsity {level_sparsity:.2f}: valid ppl {v:.2f}  test ppl {t:.2f}")
        log_row(
            {
                "phase": phase,
                "sparsity": level_sparsity,
                "valid_ppl": v,
                "test_ppl": t,
                "done": True,
                "wall": time.time(),
            }
        )
        results.append(LevelResult(level_sparsity, v, t, run["step"], run["seconds"], path, []))
        models[sparsity] = copy.deepcopy(model)
        run.update(phase=phase + 1, step=0, seconds=0.0, pos=0, tokens=0)
        masks, hidden = None, None
        save_state()
        last_save = time.perf_counter()
    return models, results
