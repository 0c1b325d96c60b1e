"""Synaptic throughput of the compiled ``cpu`` engine (float32, dense fan-out rows).

Prints, per core, synaptic ops per second (one op = one non-zero weight reached by
an event) for

* weights in DRAM: a 4096 x 4096 layer (64 MB of weights) at 10 % input activity;
* cache-resident weights: a 512 x 1024 layer (2 MB) at 50 % input activity;

and the speedup of two threads over one: a batch of 16 samples (samples in parallel,
weights in DRAM and in cache) and a single sample (dense deliveries split over
column blocks).  With weights in DRAM, two threads share the memory bandwidth of
the two cores.  A one-thread streaming read of the same weights (a sequential sum,
``_read_all``) is printed beside the one-core rate as a reference: it is not a
bound (the engine reads only the active rows, which the hardware prefetches and
overlaps differently, and it can exceed it).  Every figure is the median, with the
min-max, of 5 timed rounds after an untimed warm-up call; targets are checked
against the median.  BLAS is limited to one thread throughout so the numba and BLAS
pools never oversubscribe the cores.
Engine times are per step: (run of T steps - run of 1 step) / (T - 1).

Usage::

    python benchmarks/throughput.py [--json rows.json]
"""

from __future__ import annotations

import numba
import numpy as np
from _bench import blas_threads, loadavg, parser, row, step_time, time_rounds, write_rows
from fatrelu_layer import activity_inputs
from numba import njit

import neuro


@njit(cache=True, nogil=True, fastmath=True)
def _read_all(w):
    """Sum of a 2-D float32 array: reads every byte once, sequentially (a streaming read)."""
    s = np.float32(0)
    for i in range(w.shape[0]):
        row = w[i]
        for j in range(row.shape[0]):
            s += row[j]
    return s


def read_bandwidth(w):
    """Bytes per second one thread streams out of ``w`` sequentially (a reference, no bound).

    Returns a :class:`_bench.Timing` of rates (median, slowest, fastest round).
    """
    return time_rounds(lambda: _read_all(w), min_time=0.3).rate(w.nbytes)


def layer(n_pre: int, n_out: int, seed: int = 0) -> neuro.Network:
    """Input (n_pre) → Readout (n_out) through dense float32 weights without zeros."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 1.5, size=(n_pre, n_out)).astype(np.float32)
    net = neuro.Network(name=f"layer{n_pre}x{n_out}")
    net.add_population("x", (n_pre,), neuro.Input())
    net.add_population("y", (n_out,), neuro.Readout())
    net.connect("x", "y", neuro.Dense(w))
    return net


def synop_rate(net, x, threads: int = 1):
    """Synaptic ops per second of the engine on inputs x (T, B, n).

    Returns a :class:`_bench.Timing` of rates: median, slowest and fastest round.
    """

    def run(xs):
        return neuro.run(net, xs, record_steps="last", threads=threads)

    synops = run(x).counts.synops - run(x[:1]).counts.synops
    per_step = step_time(run, x)
    return per_step.rate(synops / (x.shape[0] - 1))


def g(t) -> str:
    """A rate Timing in Gsynop/s: ``median (min-max)``."""
    return f"{t.median / 1e9:.2f} ({t.lo / 1e9:.2f}-{t.hi / 1e9:.2f})"


def measure() -> list[dict]:
    """Run every throughput measurement; returns the result rows."""
    rows = []
    cores = min(2, numba.config.NUMBA_NUM_THREADS)
    with blas_threads(1):
        dram = layer(4096, 4096)
        x = activity_inputs(0.1, 300, 1, 4096)
        r_dram = synop_rate(dram, x)
        bw = read_bandwidth(dram.projections["x->y"].weights.weight)
        ref = bw.median / 4  # 4 bytes per float32 weight
        print(
            f"weights in DRAM (64 MB), p = 10 %, 1 thread: {g(r_dram)} Gsynop/s; "
            f"a one-thread streaming read of the weights: {bw.median / 1e9:.1f} GB/s = "
            f"{ref / 1e9:.2f} Gsynop/s (reference, not a bound; engine at "
            f"{r_dram.median / ref:.0%} of it)"
        )
        rows.append(
            row(
                "synaptic throughput, weights in DRAM (4096x4096, p=10%), 1 core",
                ">= 5 Gsynop/s",
                f"{g(r_dram)} Gsynop/s (a one-thread streaming read of the same weights, "
                f"same run: {ref / 1e9:.2f} Gsynop/s-equivalent; engine at "
                f"{r_dram.median / ref:.0%} of it)",
                bool(r_dram.median >= 5e9),
            )
        )
        cache = layer(512, 1024)
        xc = activity_inputs(0.5, 2000, 1, 512)
        r_cache = synop_rate(cache, xc)
        print(f"cache-resident weights (2 MB), p = 50 %, 1 thread: {g(r_cache)} Gsynop/s")
        rows.append(
            row(
                "synaptic throughput, cache-resident weights (512x1024, p=50%), 1 core",
                ">= 10 Gsynop/s",
                f"{g(r_cache)} Gsynop/s",
                bool(r_cache.median >= 10e9),
            )
        )
        if cores < 2:
            print("one core only: two-thread scaling not measured")
            return rows
        xb = activity_inputs(0.1, 20, 16, 4096, seed=3)
        one, two = synop_rate(dram, xb, 1), synop_rate(dram, xb, 2)
        print(
            f"batch 16, DRAM: 1 thread {g(one)}, 2 threads {g(two)} Gsynop/s "
            f"({two.median / one.median:.2f}x)"
        )
        rows.append(
            row(
                "two threads vs one (batch 16, samples in parallel, 4096x4096, p=10%)",
                ">= 1.6x",
                f"{two.median / one.median:.2f}x of medians ({g(one)} → {g(two)} Gsynop/s)",
                bool(two.median / one.median >= 1.6),
            )
        )
        xcb = activity_inputs(0.5, 200, 16, 512, seed=4)
        one, two = synop_rate(cache, xcb, 1), synop_rate(cache, xcb, 2)
        print(
            f"batch 16, cache-resident: 1 thread {g(one)}, 2 threads {g(two)} "
            f"Gsynop/s ({two.median / one.median:.2f}x)"
        )
        rows.append(
            row(
                "two threads vs one (batch 16, samples in parallel, 512x1024, p=50%)",
                ">= 1.6x",
                f"{two.median / one.median:.2f}x of medians ({g(one)} → {g(two)} Gsynop/s)",
                bool(two.median / one.median >= 1.6),
            )
        )
        one, two = synop_rate(dram, x, 1), synop_rate(dram, x, 2)
        print(
            f"single sample, DRAM: 1 thread {g(one)}, 2 threads {g(two)} "
            f"Gsynop/s ({two.median / one.median:.2f}x)"
        )
        rows.append(
            row(
                "two threads vs one (single sample, column blocks, 4096x4096, p=10%)",
                ">= 1.6x",
                f"{two.median / one.median:.2f}x of medians ({g(one)} → {g(two)} Gsynop/s)",
                bool(two.median / one.median >= 1.6),
            )
        )
    return rows


def main(argv=None):
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    load = loadavg()
    write_rows(args.json, measure(), load)


if __name__ == "__main__":
    main()
