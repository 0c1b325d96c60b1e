"""Memory stays flat over long runs of the ``cpu`` backend.

A recurrent network (input → FATReLU with delayed feedback → accumulating readout)
runs with ``record_steps="last"`` for T and 10 T steps (a static input, so the
inputs do not grow either), and as 20 chunks of T steps continued through
``final_state``.  Prints the peak memory the run allocates (numpy and Python
allocations, traced) for each length, and the growth of the process's resident
memory over the chunked run.  Targets: the peak does not grow with the run length,
and chunked runs do not accumulate memory.

Usage::

    python benchmarks/memory_flat.py [--steps 1000] [--json rows.json]
"""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
from _bench import loadavg, parser, row, write_rows

import neuro


def recurrent(n: int = 512, seed: int = 0) -> neuro.Network:
    """Input (n) → FATReLU (n) with delay-1 recurrence → accumulating readout (10)."""
    rng = np.random.default_rng(seed)
    net = neuro.Network(name="recurrent")
    net.add_population("x", (n,), neuro.Input())
    net.add_population("h", (n,), neuro.FATReLU(0.3))
    net.add_population("y", (10,), neuro.Readout(accumulate=True))
    net.connect("x", "h", neuro.Dense(rng.normal(size=(n, n)).astype(np.float32) / 16))
    # recurrent gain about 0.7 (spectral radius sqrt(n) / 32): activity stays bounded, so
    # long runs stay finite in float32
    net.connect("h", "h", neuro.Dense(rng.normal(size=(n, n)).astype(np.float32) / 32), delay=1)
    net.connect("h", "y", neuro.Dense(rng.normal(size=(n, 10)).astype(np.float32)))
    return net


def traced_peak(fn) -> int:
    """Peak bytes allocated (traced) while ``fn()`` runs."""
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def rss_bytes() -> int:
    """Current resident memory of the process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def measure(steps: int) -> list[dict]:
    """Run the measurements; returns the result rows."""
    net = recurrent()
    x = (np.random.default_rng(1).random((2, 512)) < 0.2).astype(np.float32)
    run = neuro.run(net, x, steps=2, record_steps="last")  # compile, warm up
    short = traced_peak(lambda: neuro.run(net, x, steps=steps, record_steps="last"))
    long = traced_peak(lambda: neuro.run(net, x, steps=10 * steps, record_steps="last"))
    print(
        f"traced peak: {steps} steps {short / 2**20:.2f} MB, {10 * steps} steps "
        f"{long / 2**20:.2f} MB ({long / short:.3f}x)"
    )
    state = run.final_state
    for _ in range(3):  # settle allocator pools
        state = neuro.run(net, x, steps=steps, record_steps="last", initial_state=state).final_state
    gc.collect()
    before = rss_bytes()
    for _ in range(20):
        state = neuro.run(net, x, steps=steps, record_steps="last", initial_state=state).final_state
    gc.collect()
    growth = (rss_bytes() - before) / 2**20
    print(f"resident memory over 20 chunks of {steps} steps: {growth:+.2f} MB")
    return [
        row(
            f"memory flat: traced peak of a {10 * steps}-step vs a {steps}-step run",
            "no growth with run length (<= 1.05x)",
            f"{long / short:.3f}x ({short / 2**20:.2f} → {long / 2**20:.2f} MB)",
            bool(long <= 1.05 * short),
        ),
        row(
            f"memory flat: resident memory over 20 chained runs of {steps} steps",
            "no growth (< 2 MB)",
            f"{growth:+.2f} MB",
            bool(growth < 2.0),
        ),
    ]


def main(argv=None):
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1000)
    args = p.parse_args(argv)
    load = loadavg()
    write_rows(args.json, measure(args.steps), load)


if __name__ == "__main__":
    main()
