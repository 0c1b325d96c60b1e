"""A two-process Dask cluster shared by the distributed tests (started once: each worker
process loads the compiled kernels once)."""

import logging

import pytest

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="session")
def cluster():
    """``LocalCluster(n_workers=2, processes=True, threads_per_worker=1)``."""
    with distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as local:
        yield local


@pytest.fixture(scope="session")
def client(cluster):
    """A client of :func:`cluster`, with both workers up."""
    with distributed.Client(cluster) as c:
        c.wait_for_workers(2)
        yield c
