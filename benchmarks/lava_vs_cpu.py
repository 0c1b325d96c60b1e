"""The same FATReLU layer on the ``cpu`` backend and on the ``lava`` backend (lava-nc).

Network: input (N) → FATReLU (N, θ = 0.05) through dense float64 weights, input
activity 10 % (one sample).  For N = 1024 and 4096 it prints the time per step of
each backend and the ratio lava / cpu (how many times slower the Lava simulation
is), both measured in this run on this machine; the cpu backend in float32 (its
default) and in float64 (Lava's precision).  The cpu time per step is
(run of T steps − run of 1 step) / (T − 1).  The Lava time per step is measured on
the running process graph (the one the backend builds): after a first step (which
compiles and starts one OS process per Lava process) the next T steps are timed,
so the per-run setup is left out; the setup (a whole 1-step ``neuro.run``) is
printed too.  Both backends must give the same outputs and counts on a T-step run;
the script checks it.

Needs lava-nc (Python 3.10, numpy < 2, ``pip install 'neuro[lava]'``).

Usage::

    python benchmarks/lava_vs_cpu.py [--sizes 1024 4096] [--steps 200] [--json rows.json]
"""

from __future__ import annotations

import time

import numpy as np
from _bench import parser, row, write_rows

import neuro

ACTIVITY = 0.1


def layer(n: int, seed: int = 0) -> neuro.Network:
    """Input (n) → FATReLU (n), dense weights, θ = 0.05."""
    rng = np.random.default_rng(seed)
    net = neuro.Network(name=f"fatrelu{n}")
    net.add_population("x", (n,), neuro.Input())
    net.add_population("h", (n,), neuro.FATReLU(0.05))
    net.connect("x", "h", neuro.Dense(rng.standard_normal((n, n)) / np.sqrt(n)))
    return net


def inputs(n: int, steps: int, seed: int = 1) -> np.ndarray:
    """(steps, 1, n) inputs with a fraction ACTIVITY of entries in [0.5, 1.5)."""
    rng = np.random.default_rng(seed)
    x = rng.random((steps, 1, n))
    x[x >= ACTIVITY] = 0
    x[x > 0] += 0.5
    return x


def timed_run(net, x, backend, repeats, **options):
    """(best wall seconds of ``repeats`` runs, the last result)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = neuro.run(net, x, backend=backend, record_steps="last", **options)
        best = min(best, time.perf_counter() - start)
    return best, result


def lava_step_time(net, x) -> float:
    """Seconds per Lava time step of the backend's process graph, once started."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    from neuro.backends.lava.graph import LavaGraph
    from neuro.backends.lava.schedule import Schedule
    from neuro.backends.state import initial_histories

    steps = x.shape[0]
    schedule = Schedule.for_network(net, steps)
    histories = initial_histories(net, 1, None)
    graph = LavaGraph(net, {"x": x}, schedule, histories, {}, {"h": 1})
    cfg = Loihi2SimCfg(select_tag="floating_pt")
    try:
        graph.root.run(condition=RunSteps(num_steps=1), run_cfg=cfg)
        start = time.perf_counter()
        graph.root.run(condition=RunSteps(num_steps=steps - 1), run_cfg=cfg)
        return (time.perf_counter() - start) / (steps - 1)
    finally:
        graph.root.stop()


def measure(n: int, steps: int, repeats: int) -> tuple[dict, list]:
    """Per-step times of both backends on the N-unit layer.

    The cpu backend is timed in its default precision (float32) and in float64 (Lava's
    floating-point models compute in float64); the float64 run must equal Lava's.
    """
    net, x = layer(n), inputs(n, steps)
    cpu_step, cpu = {}, {}
    for dtype in ("float32", "float64"):
        opts = {"dtype": dtype, "threads": 1}
        timed_run(net, x[:2], "cpu", 1, **opts)  # compile the kernels
        one, _ = timed_run(net, x[:1], "cpu", repeats, **opts)
        every, cpu[dtype] = timed_run(net, x, "cpu", repeats, **opts)
        cpu_step[dtype] = max(every - one, 1e-9) / (steps - 1)
    lava_one, _ = timed_run(net, x[:1], "lava", repeats)
    _, lava = timed_run(net, x, "lava", 1)
    if not np.allclose(lava.outputs, cpu["float64"].outputs, rtol=1e-9, atol=1e-12):
        raise SystemExit(f"N={n}: lava and cpu outputs differ")
    if lava.counts != cpu["float64"].counts:
        raise SystemExit(f"N={n}: lava and cpu counts differ")
    lava_step = min(lava_step_time(net, x) for _ in range(repeats))
    ratio = lava_step / cpu_step["float32"]
    stats = {
        "n": n,
        "cpu_step_s": cpu_step,
        "lava_step_s": lava_step,
        "ratio": ratio,
        "ratio_float64": lava_step / cpu_step["float64"],
        "lava_setup_s": lava_one,
        "events_per_step": lava.counts.populations["x"].events / steps,
        "synops_per_step": lava.counts.synops / steps,
        "info": lava.info,
    }
    rows = [
        row(
            f"cpu vs lava-nc (Loihi2SimCfg), time per step, N={n}, {ACTIVITY:.0%} activity",
            ">= 100x faster",
            f"{ratio:.0f}x (lava {lava_step * 1e3:.2f} ms, cpu {cpu_step['float32'] * 1e6:.1f} "
            f"us per step in float32; {stats['ratio_float64']:.0f}x in float64, "
            f"{cpu_step['float64'] * 1e6:.1f} us)",
            ratio >= 100,
        )
    ]
    return stats, rows


def main(argv=None):
    args_p = parser(__doc__.splitlines()[0])
    args_p.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    args_p.add_argument("--steps", type=int, default=200, help="steps per timed run (default 200)")
    args_p.add_argument("--repeats", type=int, default=2, help="runs per timing (default 2)")
    args = args_p.parse_args(argv)
    rows = []
    print(f"{'N':>6} {'cpu/step f32':>12} {'lava/step':>12} {'lava/cpu':>9} {'lava setup':>11}")
    for n in args.sizes:
        stats, r = measure(n, args.steps, args.repeats)
        rows += r
        print(
            f"{n:>6} {stats['cpu_step_s']['float32'] * 1e6:>10.1f}us "
            f"{stats['lava_step_s'] * 1e3:>10.2f}ms "
            f"{stats['ratio']:>8.0f}x {stats['lava_setup_s']:>10.2f}s"
            f"   ({stats['events_per_step']:.0f} events, {stats['synops_per_step']:.0f} synops "
            f"per step; {stats['info']['processes']} Lava processes, "
            f"{stats['info']['extra_steps']} extra Lava steps)"
        )
    write_rows(args.json, rows)


if __name__ == "__main__":
    main()
