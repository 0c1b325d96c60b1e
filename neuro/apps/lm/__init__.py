"""EGRU language models on Penn Treebank: training with pruning, checkpoints, evaluation.

Needs the ``torch`` extra; ``import neuro`` never imports this package.

* :func:`train_lm` -- bounded-time training plus iterative magnitude pruning;
* :func:`save_checkpoint`, :func:`load_checkpoint` -- torch state_dict + config;
* :func:`save_compact` -- float16 / bit-mask copies small enough for a repository;
* :func:`torch_perplexity`, :func:`event_perplexity` -- torch vs event-driven;
* :func:`lm_report` -- per-token counts per projection, activity per layer, reductions;
* :func:`hardware_audit` -- one stream on simulated cores (Loihi 2), per-token figures.
"""

from .checkpoint import build_model, load_checkpoint, save_checkpoint
from .compact import save_compact
from .config import TrainConfig
from .evaluate import event_perplexity, sparsity_table, torch_nll, torch_perplexity
from .hardware import hardware_audit, host_embedding_network
from .pruning import (
    apply_masks,
    magnitude_masks,
    prunable_weights,
    ramp_sparsity,
    weight_sparsity,
)
from .report import lm_report
from .train import LevelResult, train_lm, train_phase

__all__ = [
    "TrainConfig",
    "LevelResult",
    "train_lm",
    "train_phase",
    "build_model",
    "save_checkpoint",
    "load_checkpoint",
    "save_compact",
    "torch_nll",
    "torch_perplexity",
    "event_perplexity",
    "sparsity_table",
    "lm_report",
    "hardware_audit",
    "host_embedding_network",
    "prunable_weights",
    "magnitude_masks",
    "apply_masks",
    "weight_sparsity",
    "ramp_sparsity",
]
