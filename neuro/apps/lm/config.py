"""Configuration of an EGRU language-model training run (JSON-serialisable)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from neuro.exceptions import ParameterError

__all__ = ["TrainConfig"]


@dataclass
class TrainConfig:
    """Everything that defines a training run; stored with every checkpoint.

    Parameters
    ----------
    embedding_size : int
        Embedding width E.
    hidden_sizes : list of int
        Units per EGRU layer; with ``tie_weights`` the last must equal E.
    tie_weights : bool
        Decoder weight shared with the embedding.
    dropout, dropout_emb, dropout_between, dropout_words, dropconnect : float
        Regularisation of :class:`neuro.torch.EGRULanguageModel` (training only).
    thr_init_mean : float
        Mean of the initial thresholds.
    batch_size, bptt : int
        Parallel token streams and truncated-BPTT length (tokens).
    lr : float
        Peak learning rate; it decays with a cosine over each phase.
    weight_decay, clip : float
        Weight decay (see ``optimizer``) and gradient-norm clip.
    activity_gamma : float
        Weight of the event-rate penalty (mean fraction of units sending per step).
    time_budget_s : float
        Wall-clock seconds for the whole run (dense training plus fine-tuning).
    max_epochs : float or None
        Stop the dense phase after this many passes over the training tokens.
    sparsities : list of float
        Weight sparsities (fractions of weights set to zero) to prune to, in order;
        each level starts from the previous one (iterative magnitude pruning).
    prune_time_fraction : float
        Share of ``time_budget_s`` spent on pruning and fine-tuning (split evenly over
        the non-zero levels).
    finetune_lr_scale : float
        Fine-tuning peak learning rate relative to ``lr``.
    prune_embedding : bool
        Prune the embedding (and tied decoder) too, not only the EGRU kernels.  When
        False, a level's sparsity is that of the EGRU kernels, and the embedding keeps
        the zeros it has when the level starts (an earlier level's, or a checkpoint's).
    prune_ramp_fraction : float
        0: each level prunes in one shot when it starts.  Otherwise gradual magnitude
        pruning (Zhu & Gupta 2017): over this fraction of the level's fine-tuning the
        target sparsity rises from the level's starting sparsity to the level's with a
        cubic schedule, ``s = s1 + (s0 - s1) (1 - t)^3``, the masks recomputed every
        ``PRUNE_INTERVAL_STEPS`` steps; the rest of the level fine-tunes at the final
        sparsity.
    init_from : str or None
        A checkpoint (``.pt`` or compact ``.npz``) of the same architecture to start
        from: its weights replace the dense phase, which is skipped, and every
        non-zero level of ``sparsities`` must exceed its weight sparsity.
    eval_batch_size : int
        Streams used for validation and test perplexity.
    max_train_tokens, max_eval_tokens : int or None
        Truncate the training / evaluation streams (tiny runs and tests).
    seed : int
    optimizer : {"adamw", "adam"}
        AdamW (decoupled weight decay) or Adam (L2 penalty in the gradient).
    epochs : float or None
        Length of the dense phase in passes over the training tokens.  When set, the
        run is defined by steps, not seconds: the learning rate follows a linear
        warm-up over ``warmup_steps`` and a cosine to ``lr / 20`` over the phase's
        steps, each pruning level fine-tunes for ``finetune_epochs``, and a stopped
        run resumed from its training state ends bit-identical to an uninterrupted
        one.  ``time_budget_s`` then only caps the wall time of one invocation.
        None: the learning rate decays over the phase's wall-clock share of
        ``time_budget_s`` (bounded-time runs).
    finetune_epochs : float
        Fine-tuning length of each pruning level when ``epochs`` is set.
    warmup_steps : int
        Linear learning-rate warm-up at the start of the dense phase (step mode).
    eval_every_epochs : float or None
        Validation perplexity (``max_eval_tokens`` of the validation split) logged this
        often during training, in epochs.
    checkpoint_every_s : float
        Wall-clock seconds between two writes of the resumable training state.
    """

    embedding_size: int = 256
    hidden_sizes: list = field(default_factory=lambda: [512, 256])
    tie_weights: bool = True
    dropout: float = 0.3
    dropout_emb: float = 0.1
    dropout_between: float = 0.2
    dropout_words: float = 0.0
    dropconnect: float = 0.2
    thr_init_mean: float = 0.2
    batch_size: int = 32
    bptt: int = 35
    lr: float = 3e-3
    weight_decay: float = 1e-6
    clip: float = 0.5
    activity_gamma: float = 0.0
    time_budget_s: float = 1500.0
    max_epochs: float | None = None
    sparsities: list = field(default_factory=lambda: [0.0, 0.5, 0.8, 0.9])
    prune_time_fraction: float = 0.35
    finetune_lr_scale: float = 0.3
    prune_embedding: bool = True
    prune_ramp_fraction: float = 0.0
    init_from: str | None = None
    eval_batch_size: int = 10
    max_train_tokens: int | None = None
    max_eval_tokens: int | None = None
    seed: int = 0
    optimizer: str = "adamw"
    epochs: float | None = None
    finetune_epochs: float = 1.0
    warmup_steps: int = 0
    eval_every_epochs: float | None = None
    checkpoint_every_s: float = 300.0

    def __post_init__(self):
        self.hidden_sizes = [int(h) for h in self.hidden_sizes]
        self.sparsities = sorted(float(s) for s in self.sparsities)
        for s in self.sparsities:
            if not 0.0 <= s < 1.0:
                raise ParameterError(f"TrainConfig sparsities: {s!r}, each must be in [0, 1).")
        if not 0.0 <= self.prune_time_fraction < 1.0:
            raise ParameterError(
                f"TrainConfig prune_time_fraction == {self.prune_time_fraction!r}, "
                "must be in [0, 1)."
            )
        if not 0.0 <= self.prune_ramp_fraction <= 1.0:
            raise ParameterError(
                f"TrainConfig prune_ramp_fraction == {self.prune_ramp_fraction!r}, "
                "must be in [0, 1]."
            )
        if self.init_from is not None:
            self.init_from = str(self.init_from)
        if self.time_budget_s <= 0:
            raise ParameterError(
                f"TrainConfig time_budget_s == {self.time_budget_s!r}, must be > 0."
            )
        if self.optimizer not in ("adamw", "adam"):
            raise ParameterError(
                f"TrainConfig optimizer == {self.optimizer!r}, must be 'adamw' or 'adam'."
            )
        for name in ("epochs", "finetune_epochs", "eval_every_epochs"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ParameterError(f"TrainConfig {name} == {value!r}, must be > 0 (or None).")
        if self.checkpoint_every_s <= 0 or self.warmup_steps < 0:
            raise ParameterError(
                f"TrainConfig checkpoint_every_s == {self.checkpoint_every_s!r} must be > 0 and "
                f"warmup_steps == {self.warmup_steps!r} >= 0."
            )
        for name in ("batch_size", "bptt", "eval_batch_size", "embedding_size"):
            if int(getattr(self, name)) < 1:
                raise ParameterError(
                    f"TrainConfig {name} == {getattr(self, name)!r}, must be >= 1."
                )

    def model_kwargs(self, vocab_size: int) -> dict:
        """Keyword arguments of :class:`neuro.torch.EGRULanguageModel`."""
        return {
            "vocab_size": int(vocab_size),
            "embedding_size": int(self.embedding_size),
            "hidden_sizes": list(self.hidden_sizes),
            "dropout": self.dropout,
            "dropout_emb": self.dropout_emb,
            "dropout_between": self.dropout_between,
            "dropconnect": self.dropconnect,
            "tie_weights": self.tie_weights,
            "dropout_words": self.dropout_words,
            "thr_init_mean": self.thr_init_mean,
        }

    def to_dict(self) -> dict:
        """Plain dict (JSON-serialisable)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ParameterError`."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ParameterError(f"TrainConfig has no field(s) {unknown}; known: {sorted(names)}.")
        return cls(**data)
