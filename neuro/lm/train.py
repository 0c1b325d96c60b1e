"""Training an EGRU language model on Penn Treebank in bounded time, with pruning.

The run has two phases sharing one wall-clock budget:

1. dense training with truncated BPTT (state carried between chunks, gradients cut),
   Adam and a cosine learning-rate decay over the phase's time;
2. iterative magnitude pruning: for each sparsity level (ascending) the smallest
   weights of every matrix are zeroed, and the model is fine-tuned with the masks
   re-applied after every step.  Each level starts from the previous level's model.

A checkpoint (torch state_dict + config) is written after each phase/level.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.ptb import batchify, bptt_batches
from ..exceptions import require
from .checkpoint import build_model, save_checkpoint
from .config import TrainConfig
from .evaluate import torch_perplexity
from .pruning import apply_masks, magnitude_masks, prunable_weights, weight_sparsity

__all__ = ["LevelResult", "train_lm", "train_phase"]


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
    from ..torch.regularizers import event_rate

    weights = prunable_weights(model, config.prune_embedding) if masks else {}
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=config.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()
    start = time.perf_counter()
    steps, tokens, history, last, running = 0, 0, [], float("nan"), []
    per_epoch = (train_streams.shape[0] - 1) * train_streams.shape[1]
    model.train()
    done = False
    while not done:
        state = None
        for x, y in bptt_batches(train_streams, config.bptt):
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
            xt = torch.from_numpy(np.ascontiguousarray(x))
            yt = torch.from_numpy(np.ascontiguousarray(y))
            want_act = config.activity_gamma > 0
            out = model(xt, state, return_activity=want_act)
            logits, state = out[0], _detach(out[1])
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), yt.reshape(-1))
            total = loss + config.activity_gamma * event_rate(out[2]) if want_act else loss
            opt.zero_grad(set_to_none=True)
            total.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
            opt.step()
            for layer in model.layers:
                layer.clamp_thresholds_()
            if masks:
                apply_masks(weights, masks)
            steps += 1
            tokens += x.size
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


def train_lm(corpus, config: TrainConfig, out_dir=None, log=None, max_steps=None) -> tuple:
    """Train a dense EGRU LM, then prune it level by level; checkpoint each.

    Parameters
    ----------
    corpus : neuro.data.ptb.PTBCorpus
    config : TrainConfig
    out_dir : str or Path, optional
        Checkpoints ``egru_lm_s{percent}.pt`` (+ ``.json``) are written here.
    log : callable, optional
        Receives progress lines.
    max_steps : int, optional
        Cap on optimiser steps per phase (tests).

    Returns
    -------
    models : dict of float → EGRULanguageModel
        One model (a separate copy) per sparsity level, 0.0 for the dense one.
    results : list of LevelResult
    """
    torch = require("torch", "torch", "training EGRU language models")
    import copy

    torch.manual_seed(config.seed)
    train = corpus.train[: config.max_train_tokens]
    valid = corpus.valid[: config.max_eval_tokens]
    test = corpus.test[: config.max_eval_tokens]
    streams = batchify(train, config.batch_size)
    model = build_model(config, len(corpus.vocab))
    levels = [s for s in config.sparsities if s > 0]
    prune_share = config.prune_time_fraction if levels else 0.0
    dense_s = config.time_budget_s * (1.0 - prune_share)
    level_s = config.time_budget_s * prune_share / max(1, len(levels))

    def finish(sparsity, info):
        v = torch_perplexity(model, valid, config.eval_batch_size)
        t = torch_perplexity(model, test, config.eval_batch_size)
        path = None
        metrics = {"valid_ppl": v, "test_ppl": t, "steps": info["steps"], "epochs": info["epochs"]}
        if out_dir is not None:
            path = save_checkpoint(
                Path(out_dir) / f"egru_lm_s{round(sparsity * 100):02d}.pt",
                model,
                config,
                sparsity,
                metrics,
            )
        if log:
            log(f"sparsity {sparsity:.2f}: valid ppl {v:.2f}  test ppl {t:.2f}")
        return LevelResult(sparsity, v, t, info["steps"], info["seconds"], path, info["history"])

    if log:
        n = sum(p.numel() for p in model.parameters())  # a tied weight is listed once
        log(f"EGRU LM: {n} parameters, dense phase {dense_s:.0f}s, {len(levels)} pruning levels")
    info = train_phase(
        model, streams, config, dense_s, config.lr, None, max_steps, config.max_epochs, log
    )
    results = [finish(0.0, info)]
    models = {0.0: copy.deepcopy(model)}
    for s in levels:
        weights = prunable_weights(model, config.prune_embedding)
        masks = magnitude_masks(weights, s)
        apply_masks(weights, masks)
        if log:
            log(f"pruned to {weight_sparsity(weights):.3f} sparsity; fine-tuning {level_s:.0f}s")
        info = train_phase(
            model, streams, config, level_s, config.lr * config.finetune_lr_scale, masks, max_steps
        )
        results.append(finish(weight_sparsity(weights), info))
        models[s] = copy.deepcopy(model)
    return models, results
