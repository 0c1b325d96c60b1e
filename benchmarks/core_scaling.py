"""The machine's own ceiling for two cores: independent processes, no shared work.

Every multi-core target in RESULTS.md ("two threads ≥ 1.6× one thread", "2 Dask workers
≥ 1.7× one") is bounded by what the machine gives two copies of a job that share
nothing: no locks, no messages, no common data. This script measures that ceiling
for three kinds of work, each timed as one process alone and as two processes
started together (same work per process):

* ``compute``: a float32 128×128 matrix product in L1/L2 cache, repeated (BLAS on
  one thread): instruction-bound, the best case for two cores;
* ``stream``: float32 GEMV through a 64 MB matrix (4096×4096), repeated: bound by
  memory bandwidth, like the dense-layer and convolution kernels at batch 1;
* ``conv``: ``torch.nn.functional.conv2d`` of one ResNet-18 layer-1 shape (64×56×56,
  3×3, 64 outputs) on one thread (with ``--torch``).

The ratio is the two processes' summed throughput over one process's: 2.0 is a perfect
pair of cores; a hypervisor that shares a physical core, turbo that drops with two busy
cores, or a shared memory bus give less. The script prints the median with the min-max
of ``--repeats`` rounds.

Run::

    python benchmarks/core_scaling.py --repeats 5 --torch
"""

from __future__ import annotations

import multiprocessing as mp
import time

import numpy as np
from _bench import blas_threads, loadavg, parser, row, write_rows

_KINDS = ("compute", "stream", "conv")


def _job(kind: str, seconds: float, ready, start, out) -> None:
    """Run ``kind`` on one thread for ``seconds`` after ``start`` is set; put units per second."""
    with blas_threads(1):
        _run(kind, seconds, ready, start, out)


def _run(kind: str, seconds: float, ready, start, out) -> None:
    if kind == "compute":
        a = np.random.default_rng(0).standard_normal((128, 128)).astype(np.float32)
        c = np.empty_like(a)

        def unit():
            for _ in range(50):
                np.matmul(a, a, out=c)

    elif kind == "stream":
        w = np.random.default_rng(0).standard_normal((4096, 4096)).astype(np.float32)
        x = np.ones(4096, np.float32)

        def unit():
            w @ x

    else:
        import torch

        torch.set_num_threads(1)
        x = torch.randn(1, 64, 56, 56)
        w = torch.randn(64, 64, 3, 3)

        def unit():
            torch.nn.functional.conv2d(x, w, padding=1)

    for _ in range(3):
        unit()
    ready.put(True)
    start.wait()
    done = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        unit()
        done += 1
    out.put(done / (time.perf_counter() - t0))


def throughput(kind: str, processes: int, seconds: float) -> float:
    """Summed units per second of ``processes`` copies of ``kind`` running together."""
    ctx = mp.get_context("spawn")
    ready, start, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_job, args=(kind, seconds, ready, start, out)) for _ in range(processes)
    ]
    for p in procs:
        p.start()
    for _ in procs:  # every process imported and warmed up: the timed windows coincide
        ready.get()
    time.sleep(0.2)
    start.set()
    rates = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return float(sum(rates))


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5, help="rounds per kind")
    p.add_argument("--seconds", type=float, default=2.0, help="timed seconds per round")
    p.add_argument("--torch", action="store_true", help="also the torch conv2d kind")
    args = p.parse_args()
    kinds = _KINDS if args.torch else _KINDS[:2]
    print(f"load average before: {loadavg()}")
    rows = []
    for kind in kinds:
        ratios = []
        for _ in range(args.repeats):
            one = throughput(kind, 1, args.seconds)
            two = throughput(kind, 2, args.seconds)
            ratios.append(two / one)
        med = float(np.median(ratios))
        print(
            f"{kind:8s} two processes / one: {med:.2f}x "
            f"({min(ratios):.2f}-{max(ratios):.2f}), {args.repeats} rounds"
        )
        name = f"core scaling, {kind}: 2 processes / 1"
        rows.append(row(name, "informative", f"{med:.2f}x", None))
    print(f"load average after: {loadavg()}")
    write_rows(args.json, rows)


if __name__ == "__main__":
    main()
