"""EGRU language models → event networks, and the runner that streams tokens through them.

Network built from an :class:`neuro.torch.EGRULanguageModel` (or a state_dict in EvNN's
or our layout) with layers ``l = 0..L-1``::

    tokens (TokenInput, V) ──embedding──▶ embedding (Readout, E) ──egru0.input──▶ egru0 ...
                           └─────────── egru0.input (fused: table E·W_0, V × 3H_0) ──▶ egru0
    egru{l} ──egru{l}.recurrent (delay 1, bias b_r)──▶ egru{l}.recurrent
    egru{l} ──egru{l+1}.input (bias b_x)──▶ egru{l+1}.input
    egru{L-1} ──decoder (bias)──▶ decoder (Readout, V)   logits

With ``fuse_embedding=True`` (default) a token is one event whose fan-out is the
token's row of ``E · W_0`` (3H_0 weights): the embedding population disappears.
With ``fuse_embedding=False`` a token is one event into an embedding population
that sends its E non-zero values as E events.  ``network.metadata["input_encoding"]``
says which.  A tied decoder uses ``embedding.weight`` transposed.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from neuro.backends.base import RunResult, run
from neuro.exceptions import ConversionError, InputError, require
from neuro.ir import Dense, Network, Sparse
from neuro.models import Readout, TokenInput
from neuro.models.egru import EGRU

from .api import RUNNERS
from .registry import register_model_converter

__all__ = [
    "convert_egru_lm",
    "convert_evnn_state_dict",
    "egru_lm_network",
    "run_language_model",
    "RUNNER",
]

RUNNER = "language_model"

ENCODING_FUSED = (
    "token: one event of value 1 per token into a fused embedding·input-weight table "
    "(fan-out 3·H_0 per token; no embedding population)"
)
ENCODING_UNFUSED = (
    "token: one event of value 1 per token into the embedding projection; the embedding "
    "population then sends its E non-zero values as E events"
)


# Default chunking of run_language_model: the recorded logits of one backend call stay
# within this many bytes.
LOGITS_CHUNK_BYTES = 512 << 20


def _weights(matrix: np.ndarray, sparse: bool, dtype=np.float64):
    matrix = np.asarray(matrix, dtype=dtype)
    return Sparse.from_matrix(matrix) if sparse else Dense(matrix)


def egru_lm_network(
    embedding: np.ndarray,
    layers: list[dict],
    decoder_weight: np.ndarray,
    decoder_bias: np.ndarray | None,
    fuse_embedding: bool = True,
    sparse_weights: bool = False,
    name: str = "egru_lm",
    tied: bool = False,
    dtype="float64",
) -> Network:
    """Build the event network of an EGRU language model from arrays.

    Parameters
    ----------
    embedding : ndarray, shape (V, E)
    layers : list of dict
        Per layer ``kernel`` (I, 3H), ``recurrent_kernel`` (H, 3H), ``bias`` (3H,),
        ``recurrent_bias`` (3H,), ``thr`` (H,); gate blocks z | r | g.
    decoder_weight : ndarray, shape (V, H_last)
        ``torch.nn.Linear`` layout.
    decoder_bias : ndarray of shape (V,) or None
    fuse_embedding : bool
        Fold the embedding into the first layer's input weights (see the module docstring).
    sparse_weights : bool
        Store weights as CSR (only non-zero weights are connections: faster for pruned
        models, but ``dense_macs`` then counts stored weights only).  Default dense.
    name : str
    tied : bool
        Recorded in the metadata.
    dtype : {"float64", "float32"}
        Storage precision of the weights; float32 halves memory and lets the ``cpu``
        backend's float32 runs use them without a copy.

    Returns
    -------
    Network
    """
    emb = np.asarray(embedding, dtype=np.float64)
    vocab, emb_size = emb.shape
    net = Network(name=name)
    net.add_population("tokens", (vocab,), TokenInput())
    roles = {}
    if fuse_embedding:
        prev = "tokens"
    else:
        net.add_population("embedding", (emb_size,), Readout())
        net.connect("tokens", "embedding", _weights(emb, sparse_weights, dtype), name="embedding")
        roles["embedding"] = "embedding"
        prev = "embedding"
    names = []
    for index, layer in enumerate(layers):
        kernel = np.asarray(layer["kernel"], dtype=np.float64)
        recurrent = np.asarray(layer["recurrent_kernel"], dtype=np.float64)
        hidden = recurrent.shape[0]
        pop = f"egru{index}"
        net.add_population(pop, (hidden,), EGRU(np.asarray(layer["thr"], dtype=np.float64)))
        if index == 0 and fuse_embedding:
            if kernel.shape[0] != emb_size:
                raise ConversionError(
                    f"layer 0 kernel has {kernel.shape[0]} inputs, the embedding is {emb_size} "
                    "wide; they must be equal."
                )
            kernel = emb @ kernel
        net.connect(
            prev,
            pop,
            _weights(kernel, sparse_weights, dtype),
            port="input",
            bias=np.asarray(layer["bias"], dtype=np.float64),
            name=f"{pop}.input",
        )
        net.connect(
            pop,
            pop,
            _weights(recurrent, sparse_weights, dtype),
            port="recurrent",
            delay=1,
            bias=np.asarray(layer["recurrent_bias"], dtype=np.float64),
            name=f"{pop}.recurrent",
        )
        roles[f"{pop}.input"] = "embedding+input" if index == 0 and fuse_embedding else "input"
        roles[f"{pop}.recurrent"] = "recurrent"
        names.append(pop)
        prev = pop
    dec = np.asarray(decoder_weight, dtype=np.float64)
    net.add_population("decoder", (dec.shape[0],), Readout())
    bias = None if decoder_bias is None else np.asarray(decoder_bias, dtype=np.float64)
    net.connect(prev, "decoder", _weights(dec.T, sparse_weights, dtype), bias=bias, name="decoder")
    roles["decoder"] = "decoder"
    net.outputs = ["decoder"]
    net.metadata.update(
        source="EGRULanguageModel",
        runner=RUNNER,
        input_encoding=ENCODING_FUSED if fuse_embedding else ENCODING_UNFUSED,
        fuse_embedding=bool(fuse_embedding),
        vocab_size=int(vocab),
        embedding_size=int(emb_size),
        hidden_sizes=[int(np.asarray(la["thr"]).size) for la in layers],
        tied=bool(tied),
        egru_layers=names,
        projection_roles=roles,
    )
    return net.validate()


def _numpy(t) -> np.ndarray:
    if hasattr(t, "detach"):  # a torch tensor
        return t.detach().cpu().double().numpy()
    return np.asarray(t, dtype=np.float64)


def _is_egru_lm(model) -> bool:
    return type(model).__name__ == "EGRULanguageModel" and hasattr(model, "layers")


@register_model_converter("EGRULanguageModel", _is_egru_lm)
def convert_egru_lm(
    model, example_input=None, fuse_embedding: bool = True, sparse_weights: bool = False
) -> Network:
    """Convert an :class:`neuro.torch.EGRULanguageModel` (eval semantics: no dropout).

    Parameters
    ----------
    model : EGRULanguageModel
    example_input : ignored
        Token ids; a language model needs none to learn shapes.
    fuse_embedding, sparse_weights : bool
        See :func:`egru_lm_network`.

    Returns
    -------
    Network
        ``metadata["runner"] == "language_model"``: ``convert_and_run`` streams tokens
        through :func:`run_language_model`.

    Raises
    ------
    ConversionError
        A threshold is negative (EvNN clamps thresholds to [0, 1]; call
        ``layer.clamp_thresholds_()``).
    """
    layers = []
    for index, layer in enumerate(model.layers):
        arrays = {
            k: _numpy(getattr(layer, k))
            for k in ("kernel", "recurrent_kernel", "bias", "recurrent_bias", "thr")
        }
        if arrays["thr"].min() < 0:
            raise ConversionError(
                f"EGRULanguageModel layer {index}: threshold {arrays['thr'].min()!r} < 0; "
                "thresholds must be >= 0 (EvNN clamps them to [0, 1]: call "
                "layer.clamp_thresholds_())."
            )
        layers.append(arrays)
    bias = None if model.decoder.bias is None else _numpy(model.decoder.bias)
    return egru_lm_network(
        _numpy(model.embedding.weight),
        layers,
        _numpy(model.decoder.weight),
        bias,
        fuse_embedding=fuse_embedding,
        sparse_weights=sparse_weights,
        tied=model.decoder.weight is model.embedding.weight,
    )


def _is_lm_state_dict(obj) -> bool:
    if not isinstance(obj, Mapping):
        return False
    keys = set(obj)
    has_emb = bool(keys & {"embeddings.weight", "embedding.weight"})
    return has_emb and any(k.startswith(("rnns.0.", "layers.0.")) for k in keys)


@register_model_converter("EGRU LM state_dict", _is_lm_state_dict)
def convert_evnn_state_dict(
    state_dict,
    example_input=None,
    fuse_embedding: bool = True,
    sparse_weights: bool = False,
    clamp_thr: bool = True,
) -> Network:
    """Convert a flat language-model state_dict in EvNN's layout (or ours).

    EvNN keys (``embeddings.weight``, ``rnns.{l}[.module].kernel``, ...,
    ``decoder.decoder.weight``) are renamed by
    :func:`neuro.torch.convert_evnn_lm_state_dict`.  A checkpoint without a decoder
    weight is tied (EvNN always ties).  Thresholds are clamped to [0, 1] as EvNN does
    before every forward pass (``clamp_thr``).
    """
    require("torch", "torch", "converting EvNN checkpoints")
    from neuro.torch import convert_evnn_lm_state_dict

    converted, _ = convert_evnn_lm_state_dict(state_dict)
    emb = _numpy(converted["embedding.weight"])
    layers, index = [], 0
    while f"layers.{index}.kernel" in converted:
        layer = {
            k: _numpy(converted[f"layers.{index}.{k}"])
            for k in ("kernel", "recurrent_kernel", "bias", "recurrent_bias", "thr")
        }
        if clamp_thr:
            layer["thr"] = np.clip(layer["thr"], 0.0, 1.0)
        layers.append(layer)
        index += 1
    if not layers:
        raise ConversionError("state_dict has no EGRU layers (keys rnns.0.* or layers.0.*).")
    tied = "decoder.weight" not in converted
    dec_w = emb if tied else _numpy(converted["decoder.weight"])
    dec_b = _numpy(converted["decoder.bias"]) if "decoder.bias" in converted else None
    return egru_lm_network(
        emb, layers, dec_w, dec_b, fuse_embedding, sparse_weights, "egru_lm_evnn", tied
    )


def _logsumexp(logits: np.ndarray, threads: int = 1) -> np.ndarray:
    """log Σ exp over the last axis of (T, B, V) logits, float64 (T, B).

    Works step by step (a (B, V) slice stays in cache) in the logits' own precision
    (numpy's vectorised exp), summing in float64; ``threads > 1`` splits the steps
    over threads (numpy releases the GIL in these loops).
    """
    out = np.empty(logits.shape[:-1])

    def steps(t0, t1):
        for t in range(t0, t1):
            x = logits[t]
            m = x.max(axis=-1, keepdims=True)
            e = np.exp(x - m)
            out[t] = m[:, 0] + np.log(e.sum(axis=-1, dtype=np.float64))

    n = logits.shape[0]
    threads = max(1, min(int(threads), n))
    if threads == 1:
        steps(0, n)
        return out
    from concurrent.futures import ThreadPoolExecutor

    bounds = np.linspace(0, n, threads + 1).astype(int)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(steps, bounds[:-1], bounds[1:]))
    return out


def _target_nll(logits: np.ndarray, lse: np.ndarray, y: np.ndarray) -> float:
    """Σ −log p(y) of the steps of ``y`` (the first ``len(y)`` steps of ``logits``)."""
    n = y.shape[0]
    picked = np.take_along_axis(logits[:n], y[..., None], -1)[..., 0]
    return float((lse[:n] - picked.astype(np.float64)).sum())


def _reset(network: Network, state: dict, what: str) -> dict:
    out = {}
    for name, entry in state.items():
        entry = {"state": dict(entry["state"]), "history": list(entry["history"])}
        if name in network.metadata.get("egru_layers", []):
            entry["state"]["c"] = np.zeros_like(entry["state"]["c"])
            if what == "all":
                entry["history"] = [np.zeros_like(h) for h in entry["history"]]
        out[name] = entry
    return out


def run_language_model(
    network: Network,
    inputs,
    backend: str = "cpu",
    reset_every: int | None = None,
    reset: str = "c",
    chunk: int | None = None,
    targets=None,
    keep_outputs: bool = True,
    output: str = "logits",
    initial_state: dict | None = None,
    progress: bool | None = None,
    **options,
) -> RunResult:
    """Stream a (T, B) token matrix through a converted language model, chunk by chunk.

    Parameters
    ----------
    network : Network
        From :func:`convert_egru_lm`.
    inputs : ndarray of int, shape (T, B)
        Token ids, time-major (B parallel streams).
    backend : str
    reset_every : int, optional
        Every K tokens the EGRU internal state ``c`` restarts at 0 (``y`` is carried),
        as EvNN's evaluation does by calling its layers once per K-token chunk.
    reset : {"c", "all"}
        What a reset clears: ``c`` only (EvNN) or ``c`` and ``y``.
    chunk : int, optional
        Steps per backend call when ``reset_every`` is not given; memory is flat in T.
        Default: as many as keep one call's recorded logits within
        ``LOGITS_CHUNK_BYTES`` (512 MB; float64 unless ``dtype`` says otherwise).
    targets : None, True or ndarray of int (T, B)
        ``True``: the next token of each stream (``inputs[t + 1]``, (T − 1)·B
        predictions).  An array: the target of every position.  The NLL is accumulated
        on the fly (float64).
    keep_outputs : bool
        Keep the (T, B, V) outputs; False keeps memory flat for long streams.
    output : {"logits", "log_probs"}
    initial_state : dict, optional
        ``final_state`` of a previous call, to continue a stream.
    progress : bool, optional
    **options
        Backend options (e.g. ``dtype="float64"``).

    Returns
    -------
    RunResult
        ``outputs`` (T, B, V) or None; ``counts`` summed over chunks; ``final_state``;
        ``info["backend"]`` (the backend's info of the last chunk); ``info["nll"]``,
        ``info["n_predictions"]``, ``info["perplexity"]`` when targets are given.
    """
    from neuro._progress import progress_bar

    tokens = np.asarray(inputs)
    if tokens.ndim != 2 or tokens.dtype.kind not in "iu":
        raise InputError(
            f"language-model inputs have shape {tokens.shape} and dtype {tokens.dtype}; "
            "they must be integer token ids of shape (T, B)."
        )
    if reset not in ("c", "all"):
        raise InputError(f"reset == {reset!r}, must be 'c' or 'all'.")
    if output not in ("logits", "log_probs"):
        raise InputError(f"output == {output!r}, must be 'logits' or 'log_probs'.")
    readout = network.outputs[0]
    if chunk is None:
        itemsize = np.dtype(options.get("dtype", "float64")).itemsize
        row_bytes = tokens.shape[1] * network.populations[readout].size * itemsize
        chunk = max(1, LOGITS_CHUNK_BYTES // max(1, row_bytes))
    step = int(reset_every or chunk)
    if step < 1:
        raise InputError(f"reset_every/chunk == {step}, must be >= 1.")
    n_steps, _ = tokens.shape
    if targets is True:
        tgt = None
    elif targets is not None:
        tgt = np.asarray(targets)
        if tgt.shape != tokens.shape:
            raise InputError(f"targets have shape {tgt.shape}, the inputs {tokens.shape}.")
    state, counts, kept, nll, n_pred, wall = initial_state, None, [], 0.0, 0, 0.0
    hardware = []  # per-chunk hardware sections of the cores backend
    bar = progress_bar(n_steps, f"{backend} {network.name}", progress)
    for start in range(0, n_steps, step):
        stop = min(start + step, n_steps)
        res = run(
            network,
            tokens[start:stop],
            backend=backend,
            record=[readout],
            initial_state=state,
            progress=False,
            **options,
        )
        wall += res.wall_time_s
        counts = res.counts if counts is None else counts + res.counts
        if "hardware" in res.info:
            hardware.append(res.info["hardware"])
        state = res.final_state
        if reset_every:
            state = _reset(network, state, reset)
        logits = res.outputs.reshape(stop - start, tokens.shape[1], -1)
        need_lse = targets is not None or output == "log_probs"
        lse = _logsumexp(logits, options.get("threads", 1)) if need_lse else None
        if targets is not None:
            if tgt is None:
                last = min(stop, n_steps - 1)
                if last > start:
                    y = tokens[start + 1 : last + 1]
                    nll += _target_nll(logits, lse, y)
                    n_pred += y.size
            else:
                y = tgt[start:stop]
                nll += _target_nll(logits, lse, y)
                n_pred += y.size
        if keep_outputs:
            kept.append(logits - lse[..., None] if output == "log_probs" else logits)
        bar.update(stop - start)
    bar.close()
    info = {"chunks": -(-n_steps // step), "reset_every": reset_every, "backend": res.info}
    if hardware:
        info["hardware_chunks"] = hardware
    if targets is not None:
        info.update(nll=nll, n_predictions=n_pred, perplexity=float(np.exp(nll / max(1, n_pred))))
    outputs = np.concatenate(kept) if keep_outputs else None
    recordings = {readout: outputs} if keep_outputs else {}
    return RunResult(
        outputs, recordings, counts, state, backend, network, wall, info, program=res.program
    )


RUNNERS[RUNNER] = run_language_model
