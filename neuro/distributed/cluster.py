"""The Dask side of a distributed run: importing ``distributed``, shipping data, progress.

Everything that touches :mod:`dask.distributed` directly lives here, so the rest of
:mod:`neuro.distributed` reads as plain numpy.  ``dask[distributed]`` is an optional
dependency (``pip install 'neuro[dask]'``), imported only when a function needs it.
"""

from __future__ import annotations

import os
import sys
import uuid
import weakref
from collections import OrderedDict

from ..exceptions import InputError, require

__all__ = [
    "check_client",
    "connect",
    "distributed_module",
    "ship",
    "resident",
    "ship_network",
    "show_progress",
    "spread",
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


def worker_threads(client, nthreads: dict | None = None) -> int:
    """Threads over all workers of ``client`` (at least 1); ``nthreads`` is
    ``client.nthreads()`` when the caller already asked the scheduler for it."""
    nthreads = client.nthreads() if nthreads is None else nthreads
    return max(1, sum(nthreads.values()))


_TOKEN = "_neuro_shipped_as"

# on a worker: token → the first copy of that shipped network it received
_RESIDENT: OrderedDict = OrderedDict()
RESIDENT_NETWORKS = 4


def resident(network):
    """On a worker: the copy of a shipped network this process already holds.

    A worker may receive the same shipped network several times (Dask moves data between
    workers and drops extra replicas); every copy carries the token of its version, and
    the first copy a worker received is reused, so its compiled program and run buffers
    serve every later task.  Networks not shipped by :func:`ship_network` pass through.
    """
    token = network.__dict__.get(_TOKEN)
    if token is None:
        return network
    kept = _RESIDENT.get(token)
    if kept is None:
        _RESIDENT[token] = kept = network
        while len(_RESIDENT) > RESIDENT_NETWORKS:
            _RESIDENT.popitem(last=False)
    else:
        _RESIDENT.move_to_end(token)
    return kept


def spread(client, n: int, nthreads: dict | None = None) -> list[dict]:
    """Placement hints for ``n`` tasks.

    Up to two tasks per worker thread: one worker thread after another, round robin.
    Dask would otherwise send every task to a worker that already holds their shared
    data (the shipped network), and its memory manager keeps a single copy of it; the
    hints spread the parts over the workers, and ``allow_other_workers`` lets the
    scheduler move a part elsewhere (a worker that died, a busy one).

    More tasks than that: no hints.  Tasks without restrictions that outnumber the
    cluster's threads more than twice are "root-ish" to Dask's scheduler, which queues
    them and hands each to the next worker thread that frees up (a worker holds at most
    ``ceil(worker-saturation × threads)`` of them), so a faster or less loaded worker
    takes more parts: many small tasks balance workers of unequal speed.

    ``nthreads`` is ``client.nthreads()`` when the caller already asked the scheduler
    for it (each question is a round trip to the scheduler).
    """
    nthreads = client.nthreads() if nthreads is None else nthreads
    slots = [w for w, threads in sorted(nthreads.items()) for _ in range(threads)]
    if not slots or n > 2 * len(slots):
        return [{} for _ in range(n)]
    return [{"workers": [slots[i % len(slots)]], "allow_other_workers": True} for i in range(n)]


def tasks_for(client, batch: int, tasks: int | None, nthreads: dict | None = None) -> int:
    """Number of tasks a batch of ``batch`` samples is split into.

    Parameters
    ----------
    client : distributed.Client
    batch : int
        Samples (or streams).
    tasks : int, optional
        Requested number; default one per worker thread.
    nthreads : dict, optional
        ``client.nthreads()``, when the caller already has it.

    Returns
    -------
    int
        In [1, batch].
    """
    if tasks is None:
        tasks = worker_threads(client, nthreads)
    if isinstance(tasks, bool) or int(tasks) != tasks or tasks < 1:
        raise InputError(f"tasks == {tasks!r}, must be an int >= 1.")
    return int(min(int(tasks), batch))


def ship(client, value):
    """Send ``value`` to every worker once; returns its future.

    The value is replicated on all workers (``broadcast=True``), so a worker that dies
    does not take the only copy with it and Dask can rerun its tasks elsewhere.
    """
    return client.scatter(value, broadcast=True, hash=False)


class _Version:
    """The shipped version of a network: the guard of its arrays and its token.

    Kept on the network (it lives and dies with it); copies and pickles start empty,
    so the workers receive only the token (``_neuro_shipped_as``).
    """

    def __init__(self, guard=None, token=None):
        self.guard = guard
        self.token = token
        self.clients: list = []  # weak references to the clients holding a copy

    def __copy__(self):
        return _Version()

    def __deepcopy__(self, memo):
        return _Version()

    def __reduce__(self):
        return (_Version, ())


_VERSION = "_neuro_shipped_version"  # on a network: its _Version
_COPIES = "_neuro_shipped"  # on a client: token → future of the network copy on its cluster


def _forget(client_ref, token) -> None:
    """Drop a client's copy of a network version (the network died or changed)."""
    client = client_ref()
    if client is not None:
        client.__dict__.get(_COPIES, {}).pop(token, None)


def ship_network(client, network):
    """Send ``network`` to every worker once, and reuse that copy while it is unchanged.

    The workers keep one object per shipped network, so the program a worker compiles
    for it (and the run buffers of each batch size) serve every later task, as in one
    process.  Shipping locks the network's arrays like :func:`neuro.run` does (see
    :class:`~neuro.backends.program.NetworkGuard`): an in-place edit raises, and a network
    changed in any other way is shipped again.

    Each client holds the futures of its own copies (keyed by the version's token), and
    the network holds only its version, so neither keeps the other alive: a closed client
    is collected with its copies, and a network that is collected is dropped from every
    client it was shipped through (its copies are released on the clusters).
    """
    from ..backends.program import NetworkGuard

    version = network.__dict__.get(_VERSION)
    copies = client.__dict__.setdefault(_COPIES, {})
    if version is not None and version.guard is not None and version.guard.current():
        future = copies.get(version.token)
        if future is not None and future.status == "finished":
            return future
    else:
        if version is not None:  # the old version: released on every cluster
            for ref in version.clients:
                _forget(ref, version.token)
        version = _Version(NetworkGuard(network), uuid.uuid4().hex)
        network.__dict__[_VERSION] = version
        network.__dict__[_TOKEN] = version.token  # names this version on the workers
    future = ship(client, network)
    copies[version.token] = future
    ref = weakref.ref(client)
    version.clients.append(ref)
    weakref.finalize(network, _forget, ref, version.token)
    return future


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
