"""A two-process Dask cluster shared by the distributed tests (started once: each worker
process loads the compiled kernels once)."""

import logging
import os

import pytest

distributed = pytest.importorskip("distributed")


def _restore(environ: dict) -> None:
    """Undo the variables a nanny sets in this process before spawning a worker."""
    for key in set(os.environ) - set(environ):
        del os.environ[key]
    os.environ.update(environ)


@pytest.fixture(scope="session")
def cluster():
    """``LocalCluster(n_workers=2, processes=True, threads_per_worker=1)``."""
    environ = dict(os.environ)
    local = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    )
    _restore(environ)  # OMP_NUM_THREADS, PYTHONHASHSEED... stay with the workers
    try:
        yield local
    finally:
        local.close()
        _restore(environ)


@pytest.fixture(scope="session")
def client(cluster):
    """A client of :func:`cluster`, with both workers up."""
    with distributed.Client(cluster) as c:
        c.wait_for_workers(2)
        yield c
