"""Fixed cost per layer per step of the ``cpu`` backend (small layers, whole runs compiled).

A chain of 16 FATReLU layers of 16 units (dense weights, a few events per layer
and step) runs for T steps with one sample; the cost per layer per step is
(run of T steps - run of 1 step) / ((T - 1) x layers), so per-run setup is left
out.  The step-by-step ``engine="python"`` scheduler is measured the same way for
comparison.

Usage::

    python benchmarks/fixed_cost.py [--json rows.json]
"""

from __future__ import annotations

import numpy as np
from _bench import blas_threads, loadavg, parser, row, step_time, write_rows

import neuro

LAYERS = 16
UNITS = 16


def chain(layers: int = LAYERS, units: int = UNITS, seed: int = 0) -> neuro.Network:
    """Input → ``layers`` FATReLU layers of ``units`` units, dense, θ = 0.1."""
    rng = np.random.default_rng(seed)
    net = neuro.Network(name="chain")
    net.add_population("l0", (units,), neuro.Input())
    for i in range(1, layers + 1):
        net.add_population(f"l{i}", (units,), neuro.FATReLU(0.1))
        w = rng.standard_normal((units, units)).astype(np.float32) * np.float32(0.5)
        net.connect(f"l{i - 1}", f"l{i}", neuro.Dense(w), bias=np.full(units, 0.05))
    return net


def per_layer_step(net, x, layers, engine):
    """Seconds per layer per step: a :class:`_bench.Timing` (median, min-max of 5 rounds)."""

    def run(xs):
        return neuro.run(net, xs, record_steps="last", engine=engine)

    return step_time(run, x).scale(1.0 / layers)


def measure() -> list[dict]:
    """Run the measurement; returns the result rows."""
    net = chain()
    rng = np.random.default_rng(1)
    x = rng.random((4000, 1, UNITS), dtype=np.float32)
    x[x < 0.5] = 0
    with blas_threads(1):
        fast = per_layer_step(net, x, LAYERS, "compiled")
        slow = per_layer_step(net, x[:200], LAYERS, "python")
    events = neuro.run(net, x[:200]).counts.events / 200 / (LAYERS + 1)
    print(
        f"{LAYERS} layers x {UNITS} units, {events:.1f} events per layer and step: "
        f"compiled {fast.fmt(digits=3)}, step-by-step python {slow.fmt()} per layer-step "
        f"({slow.median / max(fast.median, 1e-12):.0f}x)"
    )
    return [
        row(
            f"fixed cost per layer per step ({LAYERS} layers x {UNITS} units, compiled run)",
            "<= 5 us",
            f"{fast.fmt(digits=3)} (median, min-max of 5 rounds; step-by-step python "
            f"scheduler: {slow.fmt()})",
            bool(fast.median <= 5e-6),
        )
    ]


def main(argv=None):
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    load = loadavg()
    write_rows(args.json, measure(), load)


if __name__ == "__main__":
    main()
