"""The Dask side of a distributed run: importing ``distributed``, shipping data, progress.

Everything that touches :mod:`dask.distributed` directly lives here, so the rest of
:mod:`neuro.distributed` reads as plain numpy.  ``dask[distributed]`` is an optional
dependency (``pip install 'neuro[dask]'``), imported only when a function needs it.
"""

from __future__ import annotations

import os
import sys
import uuid

from ..exceptions import InputError, require

__all__ = [
    "check_client",
    "connect",
    "distributed_module",
    "ship",
    "show_progress",
    "task_keys",
    "tasks_for",
    "wait_for",
    "worker_threads",
]


def distributed_module():
    """Import :mod:`distributed` or raise a :class:`~neuro.exceptions.MissingDependencyError`
    naming the ``dask`` extra."""
    return require("distributed", "dask", "running on a Dask cluster")


def connect(address: str):
    """A :class:`distributed.Client` connected to the scheduler at ``address``.

    Parameters
    ----------
    address : str
        Scheduler address, e.g. ``"tcp://10.0.0.5:8786"``.

    Returns
    -------
    distributed.Client
    """
    distributed = distributed_module()
    return distributed.Client(address)


def check_client(client) -> None:
    """Raise :class:`~neuro.exceptions.InputError` unless ``client`` is a Dask client."""
    distributed = distributed_module()
    if not isinstance(client, distributed.Client):
        raise InputError(
            f"client is a {type(client).__name__}, must be a dask.distributed.Client "
            "(e.g. Client(LocalCluster()) or Client('tcp://scheduler:8786'))."
        )


def worker_threads(client) -> int:
    """Threads over all workers of ``client`` (at least 1)."""
    return max(1, sum(client.nthreads().values()))


def tasks_for(client, batch: int, tasks: int | None) -> int:
    """Number of tasks a batch of ``batch`` samples is split into.

    Parameters
    ----------
    client : distributed.Client
    batch : int
        Samples (or streams).
    tasks : int, optional
        Requested number; default one per worker thread.

    Returns
    -------
    int
        In [1, batch].
    """
    if tasks is None:
        tasks = worker_threads(client)
    if isinstance(tasks, bool) or int(tasks) != tasks or tasks < 1:
        raise InputError(f"tasks == {tasks!r}, must be an int >= 1.")
    return int(min(int(tasks), batch))


def ship(client, value):
    """Send ``value`` to every worker once; returns its future.

    The value is replicated on all workers (``broadcast=True``), so a worker that dies
    does not take the only copy with it and Dask can rerun its tasks elsewhere.
    """
    return client.scatter(value, broadcast=True, hash=False)


def task_keys(prefix: str, n: int) -> list[str]:
    """Unique task keys ``{prefix}-{run id}-{i}``; the dashboard groups them by prefix."""
    run_id = uuid.uuid4().hex[:8]
    return [f"{prefix}-{run_id}-{i}" for i in range(n)]


def show_progress(enabled: bool | None) -> bool:
    """Whether to show Dask's progress bar: ``enabled``, or (None) on a terminal outside tests."""
    if enabled is None:
        return sys.stderr.isatty() and "PYTEST_CURRENT_TEST" not in os.environ
    return bool(enabled)


def wait_for(client, futures, progress: bool | None = None) -> list:
    """Gather ``futures`` in order, with Dask's progress bar when asked.

    A task whose worker dies is rerun by the scheduler on another worker; a task that
    raises re-raises here with its original exception.
    """
    distributed = distributed_module()
    if show_progress(progress):
        distributed.progress(futures)
    return client.gather(futures)
