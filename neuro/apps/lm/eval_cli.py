"""Evaluate EGRU language-model checkpoints on PTB: torch vs event-driven perplexity,
per-token counts per projection, activity per layer, and the MAC-reduction table
(dense → weight-sparse → activity-sparse → both) over the given checkpoints.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["configure", "main", "evaluate_checkpoint"]


def configure(parser) -> None:
    """Add the ``neuro eval-lm`` arguments to ``parser``."""
    parser.add_argument(
        "checkpoints", nargs="+", help="checkpoints (.pt, or compact .npz) from neuro train-lm"
    )
    parser.add_argument("--data", default=None, help="PTB directory (default $NEURO_PTB_DIR)")
    parser.add_argument("--split", default="test", choices=["train", "valid", "test"])
    parser.add_argument("--batch-size", type=int, default=10, help="parallel streams")
    parser.add_argument("--max-tokens", type=int, default=None, help="evaluate a prefix only")
    parser.add_argument("--backend", default="cpu", help="reference or cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument(
        "--threads", type=int, default=1, help="cpu backend threads (at most the free cores)"
    )
    parser.add_argument("--reset-every", type=int, default=None, help="reset c every K tokens")
    parser.add_argument("--no-fuse", action="store_true", help="embedding as E events per token")
    parser.add_argument("--json", default=None, help="write all results as JSON")
    parser.add_argument("--progress", action="store_true", help="show a progress bar")


def evaluate_checkpoint(
    path,
    ids,
    batch_size=10,
    backend="cpu",
    reset_every=None,
    fuse_embedding=True,
    progress=None,
    **options,
) -> dict:
    """Torch and event-driven perplexity of one checkpoint, with its per-token counts.

    Returns
    -------
    dict
        ``checkpoint``, ``sparsity``, ``ppl_torch``, ``ppl_event``, ``activity`` (mean
        over EGRU layers), per-token ``dense_macs``, ``weight_sparse_macs``,
        ``activity_sparse_macs``, ``synops``, and ``report`` (:func:`lm_report`).
    """
    from .checkpoint import load_checkpoint
    from .evaluate import event_perplexity, torch_perplexity
    from .pruning import prunable_weights, weight_sparsity
    from .report import lm_report

    model, info = load_checkpoint(path)
    ppl_t = torch_perplexity(model, ids, batch_size, reset_every)
    res = event_perplexity(
        model,
        ids,
        batch_size,
        backend,
        reset_every,
        fuse_embedding=fuse_embedding,
        progress=progress,
        **options,
    )
    rep = lm_report(res)
    acts = list(rep["activity"].values())
    sparsity = weight_sparsity(prunable_weights(model, info["config"].prune_embedding))
    return {
        "checkpoint": str(path),
        "sparsity": sparsity,
        "ppl_torch": ppl_t,
        "ppl_event": res.info["perplexity"],
        "activity": float(sum(acts) / len(acts)),
        "tokens_per_s": rep["tokens"] / max(res.wall_time_s, 1e-9),
        **{k: rep["totals"][k] for k in ("dense_macs", "weight_sparse_macs")},
        **{k: rep["totals"][k] for k in ("activity_sparse_macs", "synops")},
        "report": rep,
    }


def _print_report(row: dict) -> None:
    rep = row["report"]
    print(f"\n{row['checkpoint']}: weight sparsity {row['sparsity']:.3f}")
    print(f"  perplexity torch {row['ppl_torch']:.3f}  event-driven {row['ppl_event']:.3f}")
    print("  activity per layer: " + ", ".join(f"{k} {v:.4f}" for k, v in rep["activity"].items()))
    print(f"  {'projection':<18} {'role':<16} {'events':>9} {'synops':>12} {'dense MACs':>12}")
    for name, p in rep["projections"].items():
        print(
            f"  {name:<18} {p['role']:<16} {p['events_in']:9.1f} {p['synops']:12.0f} "
            f"{p['dense_macs']:12.0f}"
        )
    print(f"  event-driven throughput {row['tokens_per_s']:.0f} tokens/s")


def main(args) -> int:
    """Run ``neuro eval-lm``."""
    from neuro.data.ptb import load_ptb

    from .evaluate import sparsity_table

    corpus = load_ptb(args.data)
    ids = getattr(corpus, args.split)[: args.max_tokens]
    options = {"dtype": args.dtype, "threads": args.threads} if args.backend == "cpu" else {}
    rows = []
    for path in args.checkpoints:
        row = evaluate_checkpoint(
            Path(path),
            ids,
            args.batch_size,
            args.backend,
            args.reset_every,
            not args.no_fuse,
            progress=args.progress or None,
            **options,
        )
        _print_report(row)
        rows.append(row)
    print(f"\nPTB {args.split}, {ids.size} tokens, per token:")
    print(sparsity_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, default=float))
    return 0
