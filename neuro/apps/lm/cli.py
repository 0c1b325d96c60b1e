"""Train an EGRU language model on Penn Treebank (CPU), then prune it; resumable.

Writes one checkpoint per sparsity level (``egru_lm_s00.pt``, ``egru_lm_s50.pt``, ...,
each with a ``.json`` summary), ``results.json``, ``progress.jsonl`` and the resumable
training state ``train_state.pt`` into ``--out``.  ``--resume`` continues the run
stored in ``--out`` with its stored configuration (only ``--time-budget`` and
``--threads`` apply anew).  ``--init-from CHECKPOINT`` starts the pruning levels from a
trained model instead of training a dense one: the run takes the checkpoint's
configuration, with the pruning options given here.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from neuro.exceptions import ParameterError

__all__ = ["configure", "main"]


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.replace(",", " ").split()]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.replace(",", " ").split()]


def configure(parser) -> None:
    """Add the ``neuro train-lm`` arguments to ``parser``."""
    from .config import TrainConfig

    d = TrainConfig()
    parser.add_argument("--data", default=None, help="PTB directory (default $NEURO_PTB_DIR)")
    parser.add_argument("--out", default="runs/egru_ptb", help="checkpoint directory")
    parser.add_argument(
        "--time-budget", type=float, default=d.time_budget_s, help="wall-clock seconds, total"
    )
    parser.add_argument("--max-epochs", type=float, default=None, help="cap on dense epochs")
    parser.add_argument("--embedding-size", type=int, default=d.embedding_size)
    parser.add_argument("--hidden-sizes", type=_ints, default=d.hidden_sizes, help="e.g. '512,256'")
    parser.add_argument("--no-tie", action="store_true", help="separate decoder weights")
    parser.add_argument(
        "--sparsities",
        type=_floats,
        default=d.sparsities,
        help="weight sparsities to prune to, e.g. '0,0.5,0.8,0.9'",
    )
    parser.add_argument("--prune-time-fraction", type=float, default=d.prune_time_fraction)
    parser.add_argument(
        "--prune-ramp",
        type=float,
        default=d.prune_ramp_fraction,
        help="fraction of each level's fine-tuning over which pruning ramps up (0: one shot)",
    )
    parser.add_argument(
        "--no-prune-embedding",
        action="store_true",
        help="prune only the EGRU kernels (the embedding keeps the zeros it has)",
    )
    parser.add_argument(
        "--init-from",
        default=None,
        help="start the pruning levels from this checkpoint (.pt or .npz); no dense phase",
    )
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--bptt", type=int, default=d.bptt)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--dropout", type=float, default=d.dropout)
    parser.add_argument("--dropconnect", type=float, default=d.dropconnect)
    parser.add_argument("--dropout-emb", type=float, default=d.dropout_emb)
    parser.add_argument("--dropout-between", type=float, default=d.dropout_between)
    parser.add_argument("--dropout-words", type=float, default=d.dropout_words)
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay)
    parser.add_argument("--clip", type=float, default=d.clip)
    parser.add_argument("--optimizer", choices=("adamw", "adam"), default=d.optimizer)
    parser.add_argument("--activity-gamma", type=float, default=d.activity_gamma)
    parser.add_argument(
        "--epochs",
        type=float,
        default=d.epochs,
        help="dense epochs; step-defined, reproducible run (--time-budget caps one invocation)",
    )
    parser.add_argument("--finetune-epochs", type=float, default=d.finetune_epochs)
    parser.add_argument("--finetune-lr-scale", type=float, default=d.finetune_lr_scale)
    parser.add_argument("--warmup-steps", type=int, default=d.warmup_steps)
    parser.add_argument("--eval-every", type=float, default=d.eval_every_epochs, help="epochs")
    parser.add_argument(
        "--checkpoint-every", type=float, default=d.checkpoint_every_s, help="seconds"
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: all cores)"
    )
    parser.add_argument("--seed", type=int, default=d.seed)


def main(args) -> int:
    """Run ``neuro train-lm``."""
    from neuro.data.ptb import load_ptb
    from neuro.exceptions import require

    from .config import TrainConfig
    from .train import read_state_config, train_lm

    torch = require("torch", "torch", "neuro train-lm")
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    if args.time_budget <= 0:
        raise ParameterError(f"--time-budget == {args.time_budget}, must be > 0 seconds.")
    if args.resume:
        stored = read_state_config(args.out).to_dict()
        stored["time_budget_s"] = args.time_budget
        config = TrainConfig.from_dict(stored)
    elif args.init_from:
        config = _config_from_checkpoint(args)
    else:
        config = _config_from_args(args)
    corpus = load_ptb(args.data)
    out = Path(args.out)
    start = time.perf_counter()

    def log(line):
        print(f"[{time.perf_counter() - start:7.0f}s] {line}", flush=True)

    log(f"config: {json.dumps(config.to_dict())}")
    log(f"torch threads: {torch.get_num_threads()}; resume: {bool(args.resume)}")
    _, results = train_lm(corpus, config, out, log=log, resume=args.resume)
    summary = [
        {
            "sparsity": r.sparsity,
            "valid_ppl": r.valid_ppl,
            "test_ppl": r.test_ppl,
            "steps": r.steps,
            "seconds": r.seconds,
            "checkpoint": str(r.path),
        }
        for r in results
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"config": config.to_dict(), "levels": summary}))
    print("sparsity  valid ppl  test ppl  checkpoint")
    for r in summary:
        print(
            f"{r['sparsity']:8.2f}  {r['valid_ppl']:9.2f}  {r['test_ppl']:8.2f}  {r['checkpoint']}"
        )
    sys.stdout.flush()
    return 0


#: The options a run started from a checkpoint takes from the command line; every other
#: field (architecture, dropouts, optimiser, learning rate) is the checkpoint's.
_PRUNING_OPTIONS = {
    "sparsities": "sparsities",
    "finetune_epochs": "finetune_epochs",
    "finetune_lr_scale": "finetune_lr_scale",
    "prune_ramp_fraction": "prune_ramp",
    "eval_every_epochs": "eval_every",
    "checkpoint_every_s": "checkpoint_every",
    "time_budget_s": "time_budget",
    "seed": "seed",
    "init_from": "init_from",
}


def _config_from_checkpoint(args):
    from .checkpoint import load_checkpoint
    from .config import TrainConfig

    _, info = load_checkpoint(args.init_from)
    fields = info["config"].to_dict()
    fields.update({key: getattr(args, name) for key, name in _PRUNING_OPTIONS.items()})
    fields["prune_embedding"] = not args.no_prune_embedding
    if fields["epochs"] is None:
        fields["epochs"] = 1.0  # step mode: each level fine-tunes for finetune_epochs
    return TrainConfig.from_dict(fields)


def _config_from_args(args):
    from .config import TrainConfig

    return TrainConfig(
        embedding_size=args.embedding_size,
        hidden_sizes=args.hidden_sizes,
        tie_weights=not args.no_tie,
        sparsities=args.sparsities,
        prune_time_fraction=args.prune_time_fraction,
        batch_size=args.batch_size,
        bptt=args.bptt,
        lr=args.lr,
        dropout=args.dropout,
        dropconnect=args.dropconnect,
        activity_gamma=args.activity_gamma,
        time_budget_s=args.time_budget,
        max_epochs=args.max_epochs,
        seed=args.seed,
        dropout_emb=args.dropout_emb,
        dropout_between=args.dropout_between,
        dropout_words=args.dropout_words,
        weight_decay=args.weight_decay,
        clip=args.clip,
        optimizer=args.optimizer,
        epochs=args.epochs,
        finetune_epochs=args.finetune_epochs,
        finetune_lr_scale=args.finetune_lr_scale,
        prune_ramp_fraction=args.prune_ramp,
        prune_embedding=not args.no_prune_embedding,
        warmup_steps=args.warmup_steps,
        eval_every_epochs=args.eval_every,
        checkpoint_every_s=args.checkpoint_every,
    )
