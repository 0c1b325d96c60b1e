"""Language-model evaluation with the token streams spread over a Dask cluster.

:func:`neuro.apps.lm.evaluate.event_perplexity` cuts an id stream into ``B`` parallel
streams (a (T, B) matrix) and runs them chunk by chunk, carrying each stream's state.
Streams never interact, so here the columns are cut into groups, each group is one
task that runs its streams through the whole text (state carried per stream, resets as
in the single-process run) and returns the negative log-likelihood of every prediction
and its counts.  The driver adds the NLL chunk by chunk in the single-process order, so
perplexity and counts are those of the single-process run, bit for bit.
"""

from __future__ import annotations

import time

import numpy as np

from ..exceptions import InputError
from .cluster import check_client, resident, ship_network, spread, task_keys, tasks_for, wait_for
from .merge import merge_counts, merge_states
from .split import bounds

__all__ = ["event_perplexity", "stream_part"]


def _chunk_steps(network, batch: int, reset_every, chunk, options) -> int:
    """Tokens per backend call of the single-process run (what its NLL sums group)."""
    from converters.egru import LOGITS_CHUNK_BYTES

    if reset_every:
        return int(reset_every)
    if chunk is None:
        itemsize = np.dtype(options.get("dtype", "float64")).itemsize
        row_bytes = batch * network.populations[network.outputs[0]].size * itemsize
        chunk = max(1, LOGITS_CHUNK_BYTES // max(1, row_bytes))
    if int(chunk) < 1:
        raise InputError(f"chunk == {chunk}, must be >= 1.")
    return int(chunk)


def stream_part(network, tokens, step, reset_every, reset, backend, options):
    """Run a group of streams (T, b) through the model; per-prediction NLL and counts.

    Returns
    -------
    dict
        ``nll`` (T − 1, b) float64: −log p(tokens[t + 1] | tokens[..t]) per stream;
        ``counts`` (summed over chunks), ``final_state``, ``info`` (the backend's, last
        chunk), ``wall_time_s``, ``worker``.
    """
    from converters.egru import _logsumexp, run_language_model

    try:
        from distributed import get_worker

        worker = get_worker().address
    except (ImportError, ValueError):
        worker = None
    network = resident(network)
    T, b = tokens.shape
    nll = np.empty((max(T - 1, 0), b))
    state = counts = info = None
    wall = 0.0
    threads = options.get("threads", 1)
    for start in range(0, T, step):
        stop = min(start + step, T)
        res = run_language_model(
            network,
            tokens[start:stop],
            backend=backend,
            reset_every=reset_every,
            reset=reset,
            chunk=step,
            initial_state=state,
            keep_outputs=True,
            progress=False,
            **options,
        )
        wall += res.wall_time_s
        counts = res.counts if counts is None else counts + res.counts
        state, info = res.final_state, res.info["backend"]
        last = min(stop, T - 1)
        if last > start:
            logits = res.outputs
            y = tokens[start + 1 : last + 1]
            lse = _logsumexp(logits, threads)
            picked = np.take_along_axis(logits[: y.shape[0]], y[..., None], -1)[..., 0]
            nll[start:last] = lse[: y.shape[0]] - picked.astype(np.float64)
    return {
        "nll": nll,
        "counts": counts,
        "final_state": state,
        "info": info,
        "wall_time_s": wall,
        "worker": worker,
    }


def event_perplexity(
    model,
    ids,
    client,
    batch_size: int = 10,
    backend: str = "cpu",
    reset_every: int | None = None,
    reset: str = "c",
    chunk: int | None = None,
    fuse_embedding: bool = True,
    tasks: int | None = None,
    progress: bool | None = None,
    **options,
):
    """Perplexity and counts of a converted language model, streams spread over workers.

    Same parameters and result as :func:`neuro.apps.lm.evaluate.event_perplexity`, plus
    ``client`` and ``tasks``.

    Parameters
    ----------
    model : neuro.torch.EGRULanguageModel, EvNN state_dict or Network
        Converted here, once; the network is sent to every worker once.
    ids : ndarray of int, shape (n,)
        The token stream (e.g. the PTB test split).
    client : distributed.Client
    batch_size : int
        Parallel streams B (:func:`neuro.data.ptb.batchify`).
    backend : str
    reset_every : int, optional
        Every K tokens the EGRU internal state restarts (``reset`` says what).
    reset : {"c", "all"}
    chunk : int, optional
        Tokens per backend call; the default is the single-process run's.
    fuse_embedding : bool
    tasks : int, optional
        Groups of streams; default one per worker thread, at most B.
    progress : bool, optional
        Dask's progress bar.
    **options
        Backend options (``dtype``, ``threads``...).

    Returns
    -------
    RunResult
        ``info["perplexity"]``, ``info["nll"]``, ``info["n_predictions"]``, the counts of
        the whole evaluation, ``final_state`` of all streams, ``outputs`` None;
        ``info["distributed"]`` the stream ranges and workers of the tasks.
    """
    from converters.api import convert

    from ..backends.base import RunResult
    from ..data.ptb import batchify

    check_client(client)
    if reset not in ("c", "all"):
        raise InputError(f"reset == {reset!r}, must be 'c' or 'all'.")
    started = time.perf_counter()
    network = convert(model, fuse_embedding=fuse_embedding)
    if network.metadata.get("runner") != "language_model":
        raise InputError(
            f"network {network.name!r} is not a language model (metadata runner == "
            f"{network.metadata.get('runner')!r}); event_perplexity needs one converted from "
            "an EGRU language model."
        )
    if backend == "cpu" and "dtype" not in options and network.metadata.get("dtype") == "float64":
        options["dtype"] = "float64"  # as converters.convert_and_run does
    tokens = batchify(ids, batch_size)
    T, B = tokens.shape
    step = _chunk_steps(network, B, reset_every, chunk, options)
    nthreads = client.nthreads()  # one round trip to the scheduler per call
    ranges = bounds(B, tasks_for(client, B, tasks, nthreads))
    shipped = ship_network(client, network)
    keys = task_keys("neuro-lm-streams", len(ranges))
    futures = [
        client.submit(
            stream_part,
            shipped,
            np.ascontiguousarray(tokens[:, lo:hi]),
            step,
            reset_every,
            reset,
            backend,
            options,
            key=key,
            pure=False,
            **where,
        )
        for (lo, hi), key, where in zip(ranges, keys, spread(client, len(ranges), nthreads))
    ]
    parts = wait_for(client, futures, progress)
    per_prediction = np.concatenate([p["nll"] for p in parts], axis=1)
    nll = 0.0
    for start in range(0, T, step):  # the single-process run's summation order
        last = min(start + step, T - 1)
        if last > start:
            nll += float(per_prediction[start:last].sum())
    n_pred = per_prediction.size
    counts = merge_counts([p["counts"] for p in parts])
    state = merge_states([p["final_state"] for p in parts])
    info = {
        "chunks": -(-T // step),
        "reset_every": reset_every,
        "backend": parts[-1]["info"],
        "nll": nll,
        "n_predictions": n_pred,
        "perplexity": float(np.exp(nll / max(1, n_pred))),
        "distributed": {
            "tasks": len(parts),
            "ranges": [list(r) for r in ranges],
            "workers": sorted({p["worker"] for p in parts if p["worker"]}),
            "task_wall_time_s": [p["wall_time_s"] for p in parts],
        },
    }
    wall = time.perf_counter() - started
    return RunResult(None, {}, counts, state, backend, network, wall, info)
