"""The same FATReLU layer on the ``cpu`` backend and on the ``lava`` backend (lava-nc).

Network: input (N) → FATReLU (N, θ = 0.05) through dense float64 weights, input
activity 10 % (one sample).  For N = 1024 and 4096 it prints the time per step of
each backend and the ratio lava / cpu (how many times slower the Lava simulation
is), both measured in this run on this machine.  The headline ratio compares the
same precision: the cpu backend in float64, as Lava's floating-point models
compute; the ratio to the cpu backend in float32 (its default) is an extra figure.
Both sides get an untimed warm-up and the same number of timed rounds (``--repeats``,
default 5, one thread on the cpu side); each figure is the median with the min-max of
the rounds, the ratio is of medians, and the target is met only if it holds for
the medians.  The cpu time per step is
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
from _bench import Timing, loadavg, parser, row, write_rows

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
    """(Timing of the wall seconds of ``repeats`` runs: median, min, max; the last result)."""
    times, result = [], None
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        result = neuro.run(net, x, backend=backend, record_steps="last", **options)
        times.append(time.perf_counter() - start)
    return Timing(float(np.median(times)), min(times), max(times)), result


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
    for dtype in ("float64", "float32"):
        opts = {"dtype": dtype, "threads": 1}
        timed_run(net, x, "cpu", 1, **opts)  # warm-up: compile the kernels
        one, _ = timed_run(net, x[:1], "cpu", repeats, **opts)
        every, cpu[dtype] = timed_run(net, x, "cpu", repeats, **opts)
        cpu_step[dtype] = Timing(*(max(v - one.median, 1e-9) / (steps - 1) for v in every))
    lava_one, _ = timed_run(net, x[:1], "lava", repeats)
    _, lava = timed_run(net, x, "lava", 1)
    if not np.allclose(lava.outputs, cpu["float64"].outputs, rtol=1e-9, atol=1e-12):
        raise SystemExit(f"N={n}: lava and cpu outputs differ")
    if lava.counts != cpu["float64"].counts:
        raise SystemExit(f"N={n}: lava and cpu counts differ")
    lava_step_time(net, x)  # warm-up, as on the cpu side
    lava_times = [lava_step_time(net, x) for _ in range(max(repeats, 1))]
    lava_t = Timing(float(np.median(lava_times)), min(lava_times), max(lava_times))
    lava_step = lava_t.median
    ratio = lava_step / cpu_step["float64"].median
    stats = {
        "n": n,
        "cpu_step_s": {k: v.median for k, v in cpu_step.items()},
        "lava_step_s": lava_step,
        "ratio": ratio,
        "ratio_float32": lava_step / cpu_step["float32"].median,
        "lava_setup_s": lava_one.median,
        "events_per_step": lava.counts.populations["x"].events / steps,
        "synops_per_step": lava.counts.synops / steps,
        "info": lava.info,
    }
    rows = [
        row(
            f"cpu vs lava-nc (Loihi2SimCfg), time per step, N={n}, {ACTIVITY:.0%} activity, "
            f"both float64",
            ">= 100x faster",
            f"{ratio:.0f}x of medians (lava {lava_t.fmt('ms', 2)}, cpu "
            f"{cpu_step['float64'].fmt()} per step; cpu in float32 "
            f"{cpu_step['float32'].fmt()}: {stats['ratio_float32']:.0f}x)",
            bool(ratio >= 100),
        )
    ]
    return stats, rows


def main(argv=None):
    args_p = parser(__doc__.splitlines()[0])
    args_p.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    args_p.add_argument("--steps", type=int, default=200, help="steps per timed run (default 200)")
    args_p.add_argument("--repeats", type=int, default=5, help="runs per timing (default 5)")
    args = args_p.parse_args(argv)
    rows, load = [], loadavg()
    print(f"{'N':>6} {'cpu/step f64':>12} {'lava/step':>12} {'lava/cpu':>9} {'lava setup':>11}")
    for n in args.sizes:
        stats, r = measure(n, args.steps, args.repeats)
        rows += r
        print(
            f"{n:>6} {stats['cpu_step_s']['float64'] * 1e6:>10.1f}us "
            f"{stats['lava_step_s'] * 1e3:>10.2f}ms "
            f"{stats['ratio']:>8.0f}x {stats['lava_setup_s']:>10.2f}s"
            f"   ({stats['events_per_step']:.0f} events, {stats['synops_per_step']:.0f} synops "
            f"per step; {stats['info']['processes']} Lava processes, "
            f"{stats['info']['extra_steps']} extra Lava steps)"
        )
    write_rows(args.json, rows, load)


if __name__ == "__main__":
    main()
