"""Word-level language model built from stacked EGRU layers.

Modelled on the Penn Treebank benchmark of EvNN v0.2.0
(``Efficient-Scalable-Machine-Learning/EvNN``, ``benchmarks/lm/models.py`` and
``benchmarks/lm/train.py``)::

    tokens [T, B] -> embedding -> EGRU_1 -> ... -> EGRU_L -> decoder -> logits [T, B, V]

Regularisation follows the same recipe, active in training mode only:

* ``dropout_words``: whole rows of the embedding matrix (word types) are
  dropped, with inverted scaling (EvNN's ``dropout_words``);
* ``dropout_emb``: variational ("locked") dropout on the embedded sequence,
  one mask per sequence shared over time (EvNN's ``dropout_embedding``);
* ``dropout_between``: locked dropout on each EGRU output that feeds another
  EGRU (EvNN's ``dropout_forward``);
* ``dropout``: locked dropout on the last layer's output before the decoder
  (EvNN applies its default rate 0.5 here);
* ``dropconnect``: DropConnect on every layer's ``recurrent_kernel``.

Differences from EvNN's script, kept deliberately small:

* time-major ``[T, B]`` tokens instead of batch-first;
* the decoder returns logits, not log-probabilities;
* no optional projection layer between the last EGRU and the decoder, so a
  checkpoint that has one (``decoder.projection.*``) is refused;
* tying is optional (EvNN always ties the decoder to the embedding);
* the state carried between calls is ``(y, c)`` per layer, whereas EvNN
  carries only ``y`` and restarts ``c`` at zero on every call; pass
  ``[(y, None) for y, _ in state]`` to reproduce EvNN exactly.

Checkpoint keys of EvNN's ``LanguageModel`` map to ours as follows
(:func:`convert_evnn_lm_state_dict`)::

    embeddings.weight          -> embedding.weight
    rnns.{l}.<name>            -> layers.{l}.<name>   (kernel, recurrent_kernel, bias,
                                                        recurrent_bias, thr)
    rnns.{l}.module.<name>     -> layers.{l}.<name>   (WeightDrop-wrapped layers)
    decoder.decoder.weight     -> decoder.weight
    decoder.decoder.bias       -> decoder.bias
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..exceptions import ConversionError, InputError, ParameterError, ShapeError
from .egru import EGRU
from .egru_ops import EGRUActivity

__all__ = ["EGRULanguageModel", "convert_evnn_lm_state_dict", "locked_dropout"]


def locked_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Variational dropout with one mask per sequence, shared over time.

    Parameters
    ----------
    x : torch.Tensor
        ``[T, B, F]``.
    p : float
        Drop probability in ``[0, 1)``.
    training : bool
        Dropout is applied only when True.

    Returns
    -------
    torch.Tensor
        ``[T, B, F]``; kept entries are scaled by ``1 / (1 - p)``.
    """
    if not training or p == 0:
        return x
    mask = x.new_empty(1, x.shape[1], x.shape[2]).bernoulli_(1.0 - p) / (1.0 - p)
    return x * mask


def _embedding_dropout(weight: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Drop whole rows (word types) of an embedding matrix ``[V, E]``."""
    if not training or p == 0:
        return weight
    mask = weight.new_empty(weight.shape[0], 1).bernoulli_(1.0 - p) / (1.0 - p)
    return weight * mask


_EVNN_LAYER = re.compile(r"^rnns\.(\d+)\.(?:module\.)?(\w+)$")
_EVNN_IGNORED = ("dampening_factor", "pseudo_derivative_support", "_max_norm")


def convert_evnn_lm_state_dict(
    state_dict: Mapping[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], dict[int, dict[str, float]]]:
    """Rename the keys of an EvNN ``LanguageModel`` checkpoint to ours.

    Keys already in our layout pass through unchanged.

    Parameters
    ----------
    state_dict : Mapping[str, torch.Tensor]
        The flat state dict saved by EvNN's ``benchmarks/lm/train.py``
        (``model.state_dict()``).

    Returns
    -------
    converted : dict[str, torch.Tensor]
        State dict with this package's keys (see the module docstring).
    layer_settings : dict[int, dict[str, float]]
        Per layer index, EvNN's frozen ``dampening_factor`` and
        ``pseudo_derivative_support`` where the checkpoint has them.

    Raises
    ------
    ConversionError
        The checkpoint has a projection layer or a key this model cannot use.
    """
    converted: dict[str, torch.Tensor] = {}
    settings: dict[int, dict[str, float]] = {}
    unknown = []
    for key, value in state_dict.items():
        layer = _EVNN_LAYER.match(key)
        if key == "embeddings.weight":
            new = "embedding.weight"
        elif key in ("decoder.decoder.weight", "decoder.decoder.bias"):
            new = key[len("decoder.") :]
        elif key.startswith("decoder.projection."):
            raise ConversionError(
                f"EvNN checkpoint key {key!r} belongs to a projection layer between the last "
                "EGRU and the decoder; EGRULanguageModel has none (train EvNN without "
                "--projection)."
            )
        elif layer is not None:
            index, name = int(layer.group(1)), layer.group(2)
            if name in _EVNN_IGNORED:
                if name != "_max_norm":
                    settings.setdefault(index, {})[name] = float(
                        torch.as_tensor(value).flatten()[0]
                    )
                continue
            new = f"layers.{index}.{name}"
        elif key.startswith(("embedding.", "layers.", "decoder.")):
            new = key
        else:
            unknown.append(key)
            continue
        if new in converted:
            raise ConversionError(f"EvNN checkpoint maps two keys onto {new!r} (second: {key!r}).")
        converted[new] = value
    if unknown:
        raise ConversionError(f"EvNN checkpoint has keys this model cannot use: {unknown}.")
    return converted, settings


def _probability(name: str, value) -> float:
    try:
        p = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"EGRULanguageModel {name} must be a number; got {value!r}.") from None
    if not 0 <= p < 1:
        raise ParameterError(f"EGRULanguageModel {name} is {p!r}; it must be in [0, 1).")
    return p


class EGRULanguageModel(nn.Module):
    """Stacked-EGRU word-level language model (EvNN PTB benchmark layout).

    Parameters
    ----------
    vocab_size : int
        Number of token types ``V``.
    embedding_size : int
        Embedding width ``E``; input size of the first EGRU.
    hidden_sizes : list of int
        Units of each EGRU layer, first to last.
    dropout : float, optional
        Locked dropout on the last layer's output before the decoder
        (default 0.5).
    dropout_emb : float, optional
        Locked dropout on the embedded sequence (default 0.4).
    dropout_between : float, optional
        Locked dropout between consecutive EGRU layers (default 0.3).
    dropconnect : float, optional
        DropConnect rate on each ``recurrent_kernel`` (default 0.5).
    tie_weights : bool, optional
        Share the decoder weight with the embedding matrix; needs
        ``hidden_sizes[-1] == embedding_size``.
    dropout_words : float, optional
        Probability of dropping a whole word type from the embedding
        (default 0.1).
    dampening_factor, pseudo_derivative_support, thr_init_mean : float, optional
        Passed to every :class:`~neuro.torch.egru.EGRU`.

    Attributes
    ----------
    embedding : torch.nn.Embedding
        ``[V, E]``, initialised uniform in ``[-0.1, 0.1]``.
    layers : torch.nn.ModuleList
        The :class:`~neuro.torch.egru.EGRU` layers (time-major).
    decoder : torch.nn.Linear
        ``hidden_sizes[-1] -> V`` with a bias (zero-initialised).

    Raises
    ------
    ParameterError
        A size or rate is out of range, or tying is asked for with
        ``hidden_sizes[-1] != embedding_size``.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int,
        hidden_sizes: Sequence[int],
        dropout: float = 0.5,
        dropout_emb: float = 0.4,
        dropout_between: float = 0.3,
        dropconnect: float = 0.5,
        tie_weights: bool = False,
        dropout_words: float = 0.1,
        dampening_factor: float = 0.7,
        pseudo_derivative_support: float = 1.0,
        thr_init_mean: float = 0.3,
    ) -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("embedding_size", embedding_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(
                    f"EGRULanguageModel {name} must be a positive int; got {value!r}."
                )
        sizes = list(hidden_sizes) if isinstance(hidden_sizes, Sequence) else None
        if not sizes or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in sizes):
            raise ParameterError(
                "EGRULanguageModel hidden_sizes must be a non-empty list of positive ints; "
                f"got {hidden_sizes!r}."
            )
        if tie_weights and sizes[-1] != embedding_size:
            raise ParameterError(
                f"EGRULanguageModel tie_weights needs hidden_sizes[-1] == embedding_size; got "
                f"hidden_sizes[-1]={sizes[-1]} and embedding_size={embedding_size}."
            )
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.hidden_sizes = sizes
        self.dropout = _probability("dropout", dropout)
        self.dropout_emb = _probability("dropout_emb", dropout_emb)
        self.dropout_between = _probability("dropout_between", dropout_between)
        self.dropout_words = _probability("dropout_words", dropout_words)
        self.dropconnect = _probability("dropconnect", dropconnect)
        self.tie_weights = bool(tie_weights)

        self.embedding = nn.Embedding(vocab_size, embedding_size)
        inputs = [embedding_size] + sizes[:-1]
        self.layers = nn.ModuleList(
            EGRU(
                n_in,
                n_out,
                dropconnect=self.dropconnect,
                dampening_factor=dampening_factor,
                pseudo_derivative_support=pseudo_derivative_support,
                thr_init_mean=thr_init_mean,
            )
            for n_in, n_out in zip(inputs, sizes, strict=True)
        )
        self.decoder = nn.Linear(sizes[-1], vocab_size, bias=True)
        with torch.no_grad():
            nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
            nn.init.zeros_(self.decoder.bias)
        if self.tie_weights:
            self.decoder.weight = self.embedding.weight

    def init_state(self, batch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Zero state for every layer.

        Parameters
        ----------
        batch : int
            Batch size ``B``.

        Returns
        -------
        list of tuple of torch.Tensor
            One ``(y, c)`` pair of ``[B, H_l]`` zeros per layer, with the
            model's dtype and device.
        """
        w = self.embedding.weight
        return [layer.init_state(batch, dtype=w.dtype, device=w.device) for layer in self.layers]

    def forward(
        self,
        tokens: torch.Tensor,
        state: Sequence | None = None,
        return_activity: bool = False,
    ):
        """Predict next-token logits.

        Parameters
        ----------
        tokens : torch.Tensor
            Token ids ``[T, B]``, an integer dtype (normally int64).
        state : list, optional
            Per layer, ``(y, c)`` as returned by a previous call or
            :meth:`init_state`; default zeros.
        return_activity : bool, optional
            If True, also return one :class:`~neuro.torch.egru_ops.EGRUActivity`
            per layer.

        Returns
        -------
        logits : torch.Tensor
            ``[T, B, V]``.
        state : list of tuple of torch.Tensor
            Per layer, the final ``(y_T, c_T)``, each ``[B, H_l]``.
        activity : list of EGRUActivity
            Only when ``return_activity`` is True.

        Raises
        ------
        ShapeError
            ``tokens`` is not 2-D or ``state`` has the wrong length.
        InputError
            ``tokens`` is not an integer tensor.
        """
        if tokens.dim() != 2:
            raise ShapeError(
                f"EGRULanguageModel tokens must be [T, B]; got shape {tuple(tokens.shape)}."
            )
        if tokens.dtype.is_floating_point or tokens.dtype.is_complex or tokens.dtype == torch.bool:
            raise InputError(
                f"EGRULanguageModel tokens must be integer ids (int64); got dtype {tokens.dtype}."
            )
        if state is None:
            state = [None] * len(self.layers)
        elif len(state) != len(self.layers):
            raise ShapeError(
                f"EGRULanguageModel state has {len(state)} entries but the model has "
                f"{len(self.layers)} layers."
            )
        weight = _embedding_dropout(self.embedding.weight, self.dropout_words, self.training)
        x = F.embedding(tokens, weight)
        x = locked_dropout(x, self.dropout_emb, self.training)
        new_state: list[tuple[torch.Tensor, torch.Tensor]] = []
        activity: list[EGRUActivity] = []
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            if return_activity:
                x, final, act = layer(x, state[index], return_activity=True)
                activity.append(act)
            else:
                x, final = layer(x, state[index])
            new_state.append(final)
            if index < last:
                x = locked_dropout(x, self.dropout_between, self.training)
        x = locked_dropout(x, self.dropout, self.training)
        logits = self.decoder(x)
        if return_activity:
            return logits, new_state, activity
        return logits, new_state

    def load_evnn_state_dict(
        self, state_dict: Mapping[str, torch.Tensor], clamp_thr: bool = True
    ) -> EGRULanguageModel:
        """Load a checkpoint of EvNN's PTB ``LanguageModel`` (or one of ours).

        Parameters
        ----------
        state_dict : Mapping[str, torch.Tensor]
            Flat state dict; keys are renamed by
            :func:`convert_evnn_lm_state_dict`.  EvNN's per-layer
            ``dampening_factor`` / ``pseudo_derivative_support`` are adopted.
        clamp_thr : bool, optional
            Clamp thresholds to ``[0, 1]`` as EvNN does before every forward
            pass (default True).

        Returns
        -------
        EGRULanguageModel
            ``self``.

        Raises
        ------
        ConversionError
            Keys are missing or unknown, or tied weights differ.
        ShapeError
            A tensor's shape does not match this model.
        """
        converted, settings = convert_evnn_lm_state_dict(state_dict)
        emb, dec = "embedding.weight", "decoder.weight"
        if self.tie_weights:
            if emb in converted and dec in converted:
                if not torch.equal(
                    torch.as_tensor(converted[emb]), torch.as_tensor(converted[dec])
                ):
                    raise ConversionError(
                        "EGRULanguageModel ties decoder and embedding weights, but the "
                        "checkpoint's embedding and decoder weights differ."
                    )
            elif emb in converted:
                converted[dec] = converted[emb]
            elif dec in converted:
                converted[emb] = converted[dec]
        own = self.state_dict()
        missing = sorted(set(own) - set(converted))
        unknown = sorted(set(converted) - set(own))
        if missing or unknown:
            raise ConversionError(
                f"Checkpoint does not fit EGRULanguageModel: missing keys {missing}, "
                f"unexpected keys {unknown}."
            )
        for key, value in converted.items():
            if tuple(torch.as_tensor(value).shape) != tuple(own[key].shape):
                raise ShapeError(
                    f"Checkpoint tensor {key!r} has shape {list(torch.as_tensor(value).shape)}; "
                    f"this model needs {list(own[key].shape)}."
                )
        self.load_state_dict(converted, strict=True)
        for index, values in settings.items():
            if index >= len(self.layers):
                raise ConversionError(
                    f"Checkpoint has settings for layer {index} but the model has "
                    f"{len(self.layers)} layers."
                )
            layer = self.layers[index]
            for name, value in values.items():
                setattr(layer, name, value)
        if clamp_thr:
            for layer in self.layers:
                layer.clamp_thresholds_()
        return self
