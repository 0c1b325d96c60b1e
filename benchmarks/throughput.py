"""Synaptic throughput of the compiled ``cpu`` engine (float32, dense fan-out rows).

Prints, per core, synaptic ops per second (one op = one non-zero weight reached by
an event) for

* weights in DRAM: a 4096 x 4096 layer (64 MB of weights) at 10 % input activity;
* cache-resident weights: a 512 x 1024 layer (2 MB) at 50 % input activity;

and the speedup of two threads over one: a batch of 16 samples (samples in parallel,
weights in DRAM and in cache) and a single sample (dense deliveries split over
column blocks).  With weights in DRAM, two threads are bounded by the memory
bandwidth two cores share; a one-thread read-bandwidth probe puts the one-core
rate in context.  BLAS is limited to one thread throughout so the numba and BLAS
pools never oversubscribe the cores.
Engine times are per step: (run of T steps - run of 1 step) / (T - 1).

Usage::

    python benchmarks/throughput.py [--json rows.json]
"""

from __future__ import annotations

import numba
import numpy as np
from _bench import best_time, blas_threads, parser, row, write_rows
from fatrelu_layer import activity_inputs
from numba import njit

import neuro


@njit(cache=True, nogil=True, fastmath=True)
def _read_all(w):
    """Sum of a 2-D float32 array: reads every byte once (a read-bandwidth probe)."""
    s = np.float32(0)
    for i in range(w.shape[0]):
        row = w[i]
        for j in range(row.shape[0]):
            s += row[j]
    return s


def read_bandwidth(w) -> float:
    """Bytes per second one thread streams out of ``w`` (the bound of an event row stream)."""
    return w.nbytes / best_time(lambda: _read_all(w), min_time=0.3)


def layer(n_pre: int, n_out: int, seed: int = 0) -> neuro.Network:
    """Input (n_pre) → Readout (n_out) through dense float32 weights without zeros."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 1.5, size=(n_pre, n_out)).astype(np.float32)
    net = neuro.Network(name=f"layer{n_pre}x{n_out}")
    net.add_population("x", (n_pre,), neuro.Input())
    net.add_population("y", (n_out,), neuro.Readout())
    net.connect("x", "y", neuro.Dense(w))
    return net


def synop_rate(net, x, threads: int = 1) -> float:
    """Synaptic ops per second of the engine on inputs x (T, B, n)."""

    def run(xs):
        return neuro.run(net, xs, record_steps="last", threads=threads)

    synops = run(x).counts.synops - run(x[:1]).counts.synops
    one = best_time(lambda: run(x[:1]), min_time=0.1)
    many = best_time(lambda: run(x), min_time=0.3)
    return synops / max(many - one, 1e-12)


def measure() -> list[dict]:
    """Run every throughput measurement; returns the result rows."""
    rows = []
    cores = min(2, numba.config.NUMBA_NUM_THREADS)
    with blas_threads(1):
        dram = layer(4096, 4096)
        x = activity_inputs(0.1, 300, 1, 4096)
        r_dram = synop_rate(dram, x)
        bw = read_bandwidth(dram.projections["x->y"].weights.weight)
        print(
            f"weights in DRAM (64 MB), p = 10 %, 1 thread: {r_dram / 1e9:.2f} Gsynop/s; "
            f"one thread reads the weights at {bw / 1e9:.1f} GB/s = {bw / 4e9:.2f} Gsynop/s "
            f"bound ({r_dram / (bw / 4):.0%} of it)"
        )
        rows.append(
            row(
                "synaptic throughput, weights in DRAM (4096x4096, p=10%), 1 core",
                ">= 5 Gsynop/s",
                f"{r_dram / 1e9:.2f} Gsynop/s ({r_dram / (bw / 4):.0%} of the "
                f"{bw / 4e9:.2f} Gsynop/s read-bandwidth bound measured in the same run)",
                bool(r_dram >= 5e9),
            )
        )
        cache = layer(512, 1024)
        xc = activity_inputs(0.5, 2000, 1, 512)
        r_cache = synop_rate(cache, xc)
        print(f"cache-resident weights (2 MB), p = 50 %, 1 thread: {r_cache / 1e9:.2f} Gsynop/s")
        rows.append(
            row(
                "synaptic throughput, cache-resident weights (512x1024, p=50%), 1 core",
                ">= 10 Gsynop/s",
                f"{r_cache / 1e9:.2f} Gsynop/s",
                bool(r_cache >= 10e9),
            )
        )
        if cores < 2:
            print("one core only: two-thread scaling not measured")
            return rows
        xb = activity_inputs(0.1, 20, 16, 4096, seed=3)
        one, two = synop_rate(dram, xb, 1), synop_rate(dram, xb, 2)
        print(
            f"batch 16, DRAM: 1 thread {one / 1e9:.2f}, 2 threads {two / 1e9:.2f} Gsynop/s "
            f"({two / one:.2f}x)"
        )
        rows.append(
            row(
                "two threads vs one (batch 16, samples in parallel, 4096x4096, p=10%)",
                ">= 1.6x",
                f"{two / one:.2f}x ({one / 1e9:.2f} → {two / 1e9:.2f} Gsynop/s)",
                bool(two / one >= 1.6),
            )
        )
        xcb = activity_inputs(0.5, 200, 16, 512, seed=4)
        one, two = synop_rate(cache, xcb, 1), synop_rate(cache, xcb, 2)
        print(
            f"batch 16, cache-resident: 1 thread {one / 1e9:.2f}, 2 threads {two / 1e9:.2f} "
            f"Gsynop/s ({two / one:.2f}x)"
        )
        rows.append(
            row(
                "two threads vs one (batch 16, samples in parallel, 512x1024, p=50%)",
                ">= 1.6x",
                f"{two / one:.2f}x ({one / 1e9:.2f} → {two / 1e9:.2f} Gsynop/s)",
                bool(two / one >= 1.6),
            )
        )
        one, two = synop_rate(dram, x, 1), synop_rate(dram, x, 2)
        print(
            f"single sample, DRAM: 1 thread {one / 1e9:.2f}, 2 threads {two / 1e9:.2f} "
            f"Gsynop/s ({two / one:.2f}x)"
        )
        rows.append(
            row(
                "two threads vs one (single sample, column blocks, 4096x4096, p=10%)",
                ">= 1.6x",
                f"{two / one:.2f}x ({one / 1e9:.2f} → {two / 1e9:.2f} Gsynop/s)",
                bool(two / one >= 1.6),
            )
        )
    return rows


def main(argv=None):
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    write_rows(args.json, measure())


if __name__ == "__main__":
    main()
