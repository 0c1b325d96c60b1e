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
from typing import NamedTuple

import numpy as np

__all__ = [
    "ROUNDS",
    "Timing",
    "blas_threads",
    "loadavg",
    "machine",
    "parser",
    "peak_rss_gb",
    "row",
    "step_time",
    "time_rounds",
    "timings",
    "write_rows",
]

ROUNDS = 5
"""Timed rounds per figure: every figure is the median with the min-max of these rounds."""


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the ``--json`` option every script shares."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", help="write the result rows to this file")
    return p


class Timing(NamedTuple):
    """Median and spread (min, max) of the timed rounds of one figure, in seconds."""

    median: float
    lo: float
    hi: float

    def scale(self, factor: float) -> Timing:
        """The same figure times ``factor`` (e.g. per step, per token)."""
        return Timing(self.median * factor, self.lo * factor, self.hi * factor)

    def rate(self, work: float) -> Timing:
        """``work`` per second: median work/median, spread from the slowest and fastest round."""
        return Timing(work / self.median, work / self.hi, work / self.lo)

    def fmt(self, unit: str = "us", digits: int = 1) -> str:
        """``median (min-max) unit`` with the figure in ``unit`` (s, ms, us or a rate unit)."""
        f = {"s": 1.0, "ms": 1e3, "us": 1e6}.get(unit, 1.0)
        m, lo, hi = (f"{v * f:.{digits}f}" for v in self)
        return f"{m} ({lo}-{hi}) {unit}"


def timings(fn, rounds: int = ROUNDS, warmup: int = 1) -> Timing:
    """Wall seconds of single calls of ``fn()``: median and min-max of ``rounds`` calls.

    ``warmup`` calls first (compilation, page faults, thread pools) are not timed; give
    every side of a comparison the same ``warmup`` and ``rounds``.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(rounds, 1)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return Timing(float(np.median(times)), min(times), max(times))


def time_rounds(fn, min_time: float = 0.3, rounds: int = ROUNDS) -> Timing:
    """Seconds per call of ``fn()``: median and min-max over ``rounds`` rounds.

    Each round repeats ``fn()`` for at least ``min_time`` seconds and gives the mean
    time per call of that round.  The first call (compilation, page faults) is not
    timed.  The median, not the best round, is the figure reported and compared with
    targets; the min-max shows how much the machine disturbed the rounds.
    """
    fn()
    per_call = []
    for _ in range(max(rounds, 1)):
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        per_call.append(elapsed / n)
    return Timing(float(np.median(per_call)), min(per_call), max(per_call))


def step_time(run, x, rounds: int = ROUNDS) -> Timing:
    """Seconds per step of ``run(xs)``: (run of T steps - run of 1 step) / (T - 1).

    Per-run set-up is left out by subtracting the median one-step run from each round
    of the T-step run; ``x`` is (T, ...) with T >= 2.
    """
    steps = x.shape[0]
    one = time_rounds(lambda: run(x[:1]), min_time=0.1, rounds=rounds)
    many = time_rounds(lambda: run(x), min_time=0.3, rounds=rounds)
    return Timing(*(max(v - one.median, 1e-12) / (steps - 1) for v in many))


def loadavg() -> str:
    """The load average (1, 5, 15 min) now, as text ("?" where the OS has none)."""
    if not hasattr(os, "getloadavg"):
        return "? ? ?"
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@contextmanager
def blas_threads(n: int):
    """Limit BLAS/OpenMP pools to ``n`` threads (so numba and BLAS never oversubscribe)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n):
        yield


def row(benchmark: str, target: str, measured: str, met: bool | None) -> dict:
    """One result row; ``met`` is None where the row is informative only."""
    return {"benchmark": benchmark, "target": target, "measured": measured, "met": met}


def write_rows(path: str | None, rows: list[dict], load_before: str | None = None) -> None:
    """Print ``rows`` and write them as JSON to ``path`` (if given).

    With ``load_before`` (:func:`loadavg` at the start), every row records the load
    average before and after the script's measurements.
    """
    if load_before is not None:
        after = loadavg()
        rows = [{**r, "load": f"{load_before} -> {after}"} for r in rows]
        print(f"load average before {load_before}, after {after}")
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
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load average (1, 5, 15 min)": loadavg(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "blas": blas or "unknown",
        "os": platform.platform(),
    }
