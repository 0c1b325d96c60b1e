"""A batch split across the workers of a Dask cluster: :func:`run`.

The network is sent to every worker once; the batch is cut into contiguous parts
(:mod:`~neuro.distributed.split`), each part is one task that calls :func:`neuro.run`
on a worker, and the parts are merged exactly (:mod:`~neuro.distributed.merge`).
Samples are independent in every backend, so counts equal those of one
:func:`neuro.run` over the whole batch, and so do outputs, recordings and final state on
the ``cpu`` and ``cores`` backends, bit for bit (``reference`` multiplies dense numpy
arrays, whose products may round differently for another batch shape).

Runs are split in two steps so that a caller can watch or act on the tasks between
them: :func:`submit` returns a :class:`Submitted` (futures and what merging needs), and
:func:`collect` gathers and merges it.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass

from ..exceptions import BackendError, InputError
from .cluster import check_client, resident, ship_network, spread, task_keys, tasks_for, wait_for
from .merge import merge_counts, merge_info, merge_recordings, merge_states
from .split import bounds, split_inputs, split_state

__all__ = ["Submitted", "collect", "run", "submit"]


def run_part(network, inputs, backend, steps, record, record_steps, initial_state, options):
    """Run one part of a batch on a worker; returns what merging needs (no network)."""
    from distributed import get_worker

    from ..backends.base import run

    cpu = time.process_time()
    res = run(
        resident(network),
        inputs,
        backend=backend,
        steps=steps,
        record=record,
        record_steps=record_steps,
        initial_state=initial_state,
        progress=False,
        **options,
    )
    return {
        "recordings": res.recordings,
        "counts": res.counts,
        "final_state": res.final_state,
        "info": res.info,
        "wall_time_s": res.wall_time_s,
        "cpu_time_s": time.process_time() - cpu,
        "worker": get_worker().address,
    }


@dataclass
class Submitted:
    """Tasks of a distributed run in flight.

    Attributes
    ----------
    futures : list of distributed.Future
        One per part, in batch order.
    ranges : list of (int, int)
        Sample range of each part.
    client : distributed.Client
    network, backend, options, record, record_steps, time_axis, batch, started, progress
        What :func:`collect` needs to shape and merge the result.
    """

    client: object
    futures: list
    ranges: list
    network: object
    backend: str
    options: dict
    record: list
    record_steps: str
    time_axis: bool
    batch: int
    started: float
    progress: bool | None = None


def _profile(backend: str, options: dict):
    if backend != "cores":
        return None
    mapping = options.get("mapping")
    if mapping is not None:
        return mapping.profile
    from ..hardware import load_profile

    return load_profile(options.get("hardware", "loihi"))


def submit(
    network,
    inputs,
    client,
    backend: str = "cpu",
    steps: int | None = None,
    record: list[str] | None = None,
    record_steps: str = "all",
    initial_state: dict | None = None,
    tasks: int | None = None,
    progress: bool | None = None,
    **options,
) -> Submitted:
    """Validate, split and submit a run whose batch is split across a Dask cluster.

    :func:`collect` gathers and merges the tasks; :func:`run` does both.

    Parameters
    ----------
    network : Network
        Sent to every worker once, and reused by later calls while it is unchanged
        (see :func:`~neuro.distributed.cluster.ship_network`).
    inputs : ndarray or dict of str → ndarray
        As for :func:`neuro.run`: (B, *sample_shape) static or (T, B, *sample_shape).
    client : distributed.Client
        The cluster to run on.
    backend, steps, record, record_steps, initial_state
        As for :func:`neuro.run`; ``initial_state`` arrays are cut along the batch axis.
    tasks : int, optional
        Parts the batch is cut into (contiguous sample ranges); default one per worker
        thread, at most one per sample.
    progress : bool, optional
        Show Dask's progress bar (default: on a terminal).  The scheduler's dashboard
        shows the tasks under the prefix ``neuro-run``.
    **options
        Backend options, as for :func:`neuro.run`.

    Returns
    -------
    Submitted
        The tasks in flight; ``collect(submitted)`` returns a RunResult:
        outputs, recordings and ``final_state`` concatenated along the batch axis;
        ``counts`` summed (equal to one run over the whole batch); ``wall_time_s``
        the seconds of the whole call (shipping, tasks, gathering and merging);
        ``info["distributed"]`` the tasks' sample ranges, workers, backend seconds
        and CPU seconds of the worker processes.  A task whose worker dies is rerun
        by Dask on another worker.

    Raises
    ------
    BackendError
        ``quantize`` on the ``cores`` backend with more than one task (fixed-point
        ranges are calibrated on the whole batch).
    InputError
        Invalid inputs, or ``client`` is not a ``dask.distributed.Client``.
    """
    from ..backends.base import prepare_inputs

    check_client(client)
    started = time.perf_counter()
    network.validate()
    prepared = prepare_inputs(network, inputs, steps)
    record = list(network.outputs if record is None else record)
    for name in record:
        if name not in network.populations:
            raise InputError(
                f"cannot record {name!r}: no such population; known: {sorted(network.populations)}."
            )
    if record_steps not in ("all", "last"):
        raise InputError(f"record_steps == {record_steps!r}, must be 'all' or 'last'.")
    nthreads = client.nthreads()  # one round trip to the scheduler per call
    n = tasks_for(client, prepared.batch, tasks, nthreads)
    if backend == "cores" and options.get("quantize") and n > 1:
        from ..backends.cores.quantize import Quantization

        if Quantization.parse(options["quantize"]) is not None:
            raise BackendError(
                f"backend 'cores': quantize == {options['quantize']!r} calibrates fixed-point "
                f"ranges on the whole batch, so a batch split into {n} tasks would change "
                "the result; run it as one task (tasks=1) or without quantize."
            )
    ranges = bounds(prepared.batch, n)
    parts = split_inputs(prepared, ranges)
    states = split_state(initial_state, ranges)
    shipped = ship_network(client, network)
    keys = task_keys("neuro-run", n)
    futures = [
        client.submit(
            run_part,
            shipped,
            part,
            backend,
            prepared.steps if all(prepared.static.values()) else None,
            record,
            record_steps,
            state,
            options,
            key=key,
            pure=False,
            **where,
        )
        for part, state, key, where in zip(parts, states, keys, spread(client, n, nthreads))
    ]
    return Submitted(
        client,
        futures,
        ranges,
        network,
        backend,
        dict(options),
        record,
        record_steps,
        prepared.time_axis,
        prepared.batch,
        started,
        progress,
    )


def collect(submitted: Submitted):
    """Gather the tasks of :func:`submit` and merge them into one :class:`RunResult`."""
    from ..backends.base import RunResult

    s = submitted
    parts = wait_for(s.client, s.futures, s.progress)
    batches = [hi - lo for lo, hi in s.ranges]
    axis = 1 if s.time_axis and s.record_steps == "all" else 0
    recordings = merge_recordings([p["recordings"] for p in parts], axis)
    counts = merge_counts([p["counts"] for p in parts])
    state = merge_states([p["final_state"] for p in parts])
    info = merge_info([p["info"] for p in parts], batches, _profile(s.backend, s.options))
    info["distributed"] = {
        "tasks": len(parts),
        "ranges": [list(r) for r in s.ranges],
        "workers": sorted({p["worker"] for p in parts}),
        "task_wall_time_s": [p["wall_time_s"] for p in parts],
        "task_cpu_time_s": [p["cpu_time_s"] for p in parts],
    }
    outs = [n for n in s.network.outputs if n in recordings]
    outputs = recordings[outs[0]] if len(outs) == 1 else {n: recordings[n] for n in outs}
    wall = time.perf_counter() - s.started
    return RunResult(outputs, recordings, counts, state, s.backend, s.network, wall, info)


def run(network, inputs, client, **options):
    """Run an event network with its batch split across a Dask cluster.

    ``collect(submit(network, inputs, client, **options))``: the parameters, result and
    errors are those of :func:`submit` (which holds them, for both).
    """
    return collect(submit(network, inputs, client, **options))


run.__signature__ = inspect.signature(submit).replace(return_annotation="RunResult")
