"""Scale: a deep network with 1M units and 500M synapses runs 100 steps within 16 GB.

The network is a chain of dense FATReLU layers (θ = 0, He-initialised float32
weights, so about half the units are active at every layer and step): ``--full``
builds 2001 layers of 500 units (1,000,500 units, 500M synapses, 2 GB of weights);
the default is a small version of the same chain (100 layers of 100 units) that
runs in seconds.  Prints the peak resident memory of the process (weights
included), the run time and the synaptic throughput.

Usage::

    python benchmarks/scale.py [--full] [--steps 100] [--json rows.json]
"""

from __future__ import annotations

import time

import numpy as np
from _bench import blas_threads, loadavg, parser, peak_rss_gb, row, write_rows

import neuro

LIMIT_GB = 16.0


def deep_chain(layers: int, units: int, seed: int = 0) -> neuro.Network:
    """Input → ``layers - 1`` FATReLU layers of ``units`` units, dense float32 weights."""
    rng = np.random.default_rng(seed)
    scale = np.float32(np.sqrt(2.0 / units))
    net = neuro.Network(name=f"chain{layers}x{units}")
    net.add_population("l0", (units,), neuro.Input())
    for i in range(1, layers):
        net.add_population(f"l{i}", (units,), neuro.FATReLU(0.0))
        w = rng.standard_normal((units, units), dtype=np.float32)
        w *= scale
        net.connect(f"l{i - 1}", f"l{i}", neuro.Dense(w))
    return net


def measure(full: bool, steps: int) -> list[dict]:
    """Build, run and report; returns the result rows."""
    layers, units = (2001, 500) if full else (100, 100)
    start = time.perf_counter()
    net = deep_chain(layers, units)
    built = time.perf_counter() - start
    n_units, n_syn = layers * units, net.n_synapses()
    x = np.abs(np.random.default_rng(1).standard_normal((1, units))).astype(np.float32)
    with blas_threads(1):
        neuro.run(deep_chain(3, 4), x[:, :4], record_steps="last")  # load compiled code
        start = time.perf_counter()
        result = neuro.run(net, x, steps=steps, record_steps="last", threads=1)
        ran = time.perf_counter() - start
    peak = peak_rss_gb()
    synops = result.counts.synops
    print(
        f"{n_units:,} units, {n_syn:,} synapses ({n_syn * 4 / 2**30:.2f} GB of float32 weights): "
        f"built in {built:.1f} s, {steps} steps in {ran:.1f} s "
        f"({synops / ran / 1e9:.2f} Gsynop/s incl. set-up), peak RSS {peak:.2f} GB"
    )
    size = "1M units / 500M synapses" if full else "small (use --full for 1M / 500M)"
    return [
        row(
            f"scale: {n_units:,} units, {n_syn / 1e6:.1f}M synapses, {steps} steps [{size}]",
            f"runs within {LIMIT_GB:.0f} GB" if full else "(informative; --full for the target)",
            f"peak RSS {peak:.2f} GB, {ran:.1f} s, {synops / ran / 1e9:.2f} Gsynop/s",
            bool(peak <= LIMIT_GB) if full else None,
        )
    ]


def main(argv=None):
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true", help="1M units, 500M synapses (2 GB weights)")
    p.add_argument("--steps", type=int, default=100)
    args = p.parse_args(argv)
    load = loadavg()
    write_rows(args.json, measure(args.full, args.steps), load)


if __name__ == "__main__":
    main()
