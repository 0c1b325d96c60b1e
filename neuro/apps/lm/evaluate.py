"""Perplexity of an EGRU language model: torch forward and event-driven, with op counts.

Both paths cut a token stream into ``B`` parallel streams (:func:`batchify`), predict
token ``t + 1`` from tokens ``..t`` and average the negative log-likelihood over the
``(T − 1) · B`` predictions.  The state is carried over the whole stream; with
``reset_every=K`` the internal state ``c`` restarts at 0 every K tokens while ``y``
is carried (what EvNN's evaluation does by calling the layers once per K-token chunk).
"""

from __future__ import annotations

import math

import numpy as np

from neuro.data.ptb import batchify
from neuro.exceptions import require

__all__ = ["torch_perplexity", "torch_nll", "event_perplexity", "sparsity_table"]


def torch_nll(model, tokens: np.ndarray, reset_every: int | None = None, chunk: int = 256):
    """Summed next-token NLL (nats) of the torch forward over a (T, B) token matrix.

    Returns
    -------
    nll : float
    count : int
        Number of predictions, (T − 1) · B.
    """
    torch = require("torch", "torch", "evaluating EGRU language models")
    model.eval()
    tokens = np.asarray(tokens)
    step = reset_every or chunk
    state, total = None, 0.0
    with torch.no_grad():
        for s in range(0, tokens.shape[0] - 1, step):
            x = torch.from_numpy(np.ascontiguousarray(tokens[s : s + step]))
            y = torch.from_numpy(np.ascontiguousarray(tokens[s + 1 : s + step + 1]))
            logits, state = model(x, state)
            if reset_every:
                state = [(yy, None) for yy, _ in state]
            logp = torch.log_softmax(logits[: y.shape[0]].double(), dim=-1)
            total -= float(logp.gather(-1, y.unsqueeze(-1)).sum())
    return total, (tokens.shape[0] - 1) * tokens.shape[1]


def torch_perplexity(model, ids, batch_size: int = 10, reset_every: int | None = None) -> float:
    """Perplexity of the torch forward on an id stream (see the module docstring)."""
    nll, n = torch_nll(model, batchify(ids, batch_size), reset_every)
    return math.exp(nll / n)


def event_perplexity(
    model,
    ids,
    batch_size: int = 10,
    backend: str = "cpu",
    reset_every: int | None = None,
    chunk: int = 256,
    fuse_embedding: bool = True,
    progress=None,
    **options,
):
    """Perplexity of the converted event network, with its op counts.

    Parameters
    ----------
    model : neuro.torch.EGRULanguageModel or neuro.Network
    ids : ndarray of int, shape (n,)
    batch_size : int
    backend : str
    reset_every : int, optional
    chunk : int
        Tokens per backend call (memory is flat in the stream length).
    fuse_embedding : bool
        Token → gates table (one event per token) or embedding population (E events).
    **options
        Backend options (``dtype``...).

    Returns
    -------
    RunResult
        ``info["perplexity"]``, ``info["nll"]``, ``info["n_predictions"]`` and the summed
        ``counts`` of the whole stream; ``outputs`` is None (logits are not kept).
    """
    from converters import convert_and_run

    tokens = batchify(ids, batch_size)
    return convert_and_run(
        model,
        tokens,
        backend=backend,
        convert_options={"fuse_embedding": fuse_embedding},
        targets=True,
        keep_outputs=False,
        reset_every=reset_every,
        chunk=chunk,
        progress=progress,
        **options,
    )


def sparsity_table(rows: list[dict]) -> str:
    """Markdown table of MAC reductions vs weight sparsity and perplexity.

    Parameters
    ----------
    rows : list of dict
        Each with ``sparsity`` (of the pruned matrices), ``ppl_torch``, ``ppl_event``,
        ``activity`` (mean over EGRU layers), ``dense_macs``, ``weight_sparse_macs``,
        ``activity_sparse_macs`` and ``synops`` (per token); optionally
        ``embedding_sparsity`` (then ``sparsity`` is the EGRU kernels' and the table
        gains a column).

    Returns
    -------
    str
    """
    split = all("embedding_sparsity" in r for r in rows)
    head = (
        ("| EGRU weight sparsity | embedding sparsity |" if split else "| weight sparsity |")
        + " ppl torch | ppl event | activity | dense MACs/tok | weight-sparse | "
        "activity-sparse | both (synops) | reduction both | 1/(d_w·d_a) |"
    )
    lines = [head, "|" + "---|" * (11 if split else 10)]
    for r in rows:
        both = r["dense_macs"] / max(1.0, r["synops"])
        dw = r["weight_sparse_macs"] / r["dense_macs"]
        da = r["activity_sparse_macs"] / r["dense_macs"]
        emb = f" {r['embedding_sparsity']:.2f} |" if split else ""
        lines.append(
            f"| {r['sparsity']:.2f} |{emb} {r['ppl_torch']:.2f} | {r['ppl_event']:.2f} | "
            f"{r['activity']:.3f} | {r['dense_macs']:,.0f} | {r['weight_sparse_macs']:,.0f} | "
            f"{r['activity_sparse_macs']:,.0f} | {r['synops']:,.0f} | {both:.2f}x | "
            f"{1.0 / (dw * da):.2f}x |"
        )
    return "\n".join(lines)
