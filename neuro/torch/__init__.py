"""Trainable PyTorch reference modules for activation-sparse networks.

Imported only explicitly (``import neuro.torch``); ``import neuro`` never
imports PyTorch.

* :class:`FATReLU` -- ReLU with a forced activation threshold.
* :class:`EGRU`, :func:`egru_step` -- event-based GRU (EvNN v0.2.0 semantics).
* :class:`EGRULanguageModel` -- stacked-EGRU word-level language model.
* :class:`KWinners`, :class:`KWinners2d` -- k-winners-take-all with boosting (Hunter et al. 2021).
* :class:`SparseWeights` -- a layer wrapper with a fixed fraction of zero weights.
* :class:`SAS` -- structured activation sparsity 1:M (Sekikawa 2024).
* :mod:`neuro.torch.regularizers` -- activation-sparsity losses.
"""

from __future__ import annotations

from .egru import EGRU
from .egru_ops import EVNN_LAYER_KEYS, EGRUActivity, EGRUStepResult, egru_step, spike
from .fatrelu import FATReLU, fatrelu
from .kwinners import KWinners, KWinners2d, kwinners_mask, update_boost_strength
from .language_model import EGRULanguageModel, convert_evnn_lm_state_dict, locked_dropout
from .regularizers import (
    event_rate,
    evnn_activity_loss,
    hoyer_activity,
    l1_activity,
    supra_threshold_l1,
)
from .sas import SAS, sas_projection
from .sparse_weights import SparseWeights, rezero_weights

__all__ = [
    "EGRU",
    "EVNN_LAYER_KEYS",
    "EGRUActivity",
    "EGRUStepResult",
    "egru_step",
    "spike",
    "FATReLU",
    "fatrelu",
    "EGRULanguageModel",
    "convert_evnn_lm_state_dict",
    "locked_dropout",
    "l1_activity",
    "hoyer_activity",
    "event_rate",
    "supra_threshold_l1",
    "evnn_activity_loss",
    "KWinners",
    "KWinners2d",
    "kwinners_mask",
    "update_boost_strength",
    "SparseWeights",
    "rezero_weights",
    "SAS",
    "sas_projection",
]
