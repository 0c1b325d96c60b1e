"""Shared helpers of the benchmark scripts: timing, thread hygiene, result rows.

Every script prints its measurements and, with ``--json PATH``, writes its result
rows ``{"benchmark", "target", "measured", "met"}`` for ``run_all.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from contextlib import contextmanager

import numpy as np

__all__ = [
    "best_time",
    "blas_threads",
    "machine",
    "parser",
    "peak_rss_gb",
    "row",
    "write_rows",
]


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the ``--json`` option every script shares."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", help="write the result rows to this file")
    return p


def best_time(fn, min_time: float = 0.3, repeats: int = 3) -> float:
    """Seconds per call of ``fn()``: the best of ``repeats`` rounds of >= ``min_time`` each.

    The first call (compilation, page faults) is not timed.  The best round is the
    least disturbed by other processes on a shared machine.
    """
    fn()
    best = float("inf")
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        best = min(best, elapsed / n)
    return best


@contextmanager
def blas_threads(n: int):
    """Limit BLAS/OpenMP pools to ``n`` threads (so numba and BLAS never oversubscribe)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n):
        yield


def row(benchmark: str, target: str, measured: str, met: bool | None) -> dict:
    """One result row; ``met`` is None where the row is informative only."""
    return {"benchmark": benchmark, "target": target, "measured": measured, "met": met}


def write_rows(path: str | None, rows: list[dict]) -> None:
    """Print ``rows`` and write them as JSON to ``path`` (if given)."""
    for r in rows:
        flag = {True: "met", False: "MISSED", None: "info"}[r["met"]]
        print(f"  [{flag:6}] {r['benchmark']}: {r['measured']}  (target: {r['target']})")
    if path:
        with open(path, "w") as f:
            json.dump(rows, f, indent=1)


def peak_rss_gb() -> float:
    """Peak resident memory of this process in GB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def machine() -> dict:
    """A short description of the machine and libraries the numbers come from."""
    import numba

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(
            f"{i.get('internal_api')} {i.get('version')}"
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        )
    except ImportError:
        blas = "unknown"
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load average (1, 5, 15 min)": " ".join(f"{x:.2f}" for x in load),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "blas": blas or "unknown",
        "os": platform.platform(),
    }
