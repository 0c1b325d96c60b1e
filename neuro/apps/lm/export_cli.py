"""``neuro export-lm``: write compact copies (``.npz``) of ``neuro train-lm`` checkpoints.

    neuro export-lm runs/egru/egru_lm_s*.pt --out examples/checkpoints/ptb_egru

Each ``egru_lm_sNN.pt`` becomes ``egru_lm_sNN.npz`` (float16 values, pruned tensors as a
bit mask and their non-zeros; see :mod:`neuro.apps.lm.compact`).  The compact model is a
rounded copy: evaluate it with ``neuro eval-lm OUT/*.npz`` for the figures that go with it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["configure", "main"]


def configure(parser) -> None:
    """Add the ``neuro export-lm`` arguments to ``parser``."""
    parser.add_argument("checkpoints", nargs="+", help="checkpoints (.pt) from neuro train-lm")
    parser.add_argument("--out", required=True, help="directory for the .npz files")


def main(args) -> int:
    """Run ``neuro export-lm``."""
    from neuro.io.paths import check_writable_dir

    from .checkpoint import load_checkpoint
    from .compact import save_compact

    out = Path(args.out)
    check_writable_dir(out, "--out")
    for name in args.checkpoints:
        model, info = load_checkpoint(name)
        target = save_compact(
            out / (Path(name).stem + ".npz"),
            model,
            info["config"],
            info["sparsity"],
            {**info["metrics"], "source": Path(name).name},
        )
        print(f"{name} -> {target} ({target.stat().st_size / 1e6:.2f} MB)")
    return 0
