"""The ``cpu`` backend against Brian2 (cython code generation) on the same networks.

Network: N input units, 10 % of them active at every step, all-to-all synapses onto
N threshold units (N = 1024 and 4096).  Brian2: a ``PoissonGroup`` firing with
probability 0.1 per step, ``Synapses`` with ``on_pre='v_post += w'`` onto a
``NeuronGroup`` with a threshold and reset.  neuro: Input → FATReLU through a dense
projection, the same activity.  Both single-threaded, both with an untimed warm-up
run (code generation, kernel compilation) and 5 timed rounds; per-step times
exclude per-run set-up (Brian2: runs of T and 2T steps, neuro: runs of T and 1
steps).  Each figure is the median with the min-max of the rounds, and the ratio
(of medians) is the headline with neuro in float64, Brian2's precision; the float32
ratio is printed beside it.  Not the same work: Brian2's ``PoissonGroup`` draws N
random numbers every step to make its input spikes, while neuro reads inputs drawn
before the run, so Brian2's time includes its input generation.
Target: the ``cpu`` backend >= 10x faster than Brian2 (float64, medians).

Brian2 needs numpy < 2.3, so it runs in its own environment, as a worker process of
this script.  Create that environment once (from the repository root)::

    python3.11 -m venv .venv-brian2
    .venv-brian2/bin/pip install brian2 "numpy<2.3" cython

and point ``--brian2-python`` (or the ``BRIAN2_PYTHON`` environment variable) at
its interpreter if it lives elsewhere.  Brian2 is a benchmark reference, not a
dependency of neuro.

Usage::

    python benchmarks/vs_brian2.py [--sizes 1024 4096] [--steps 200] [--json rows.json]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ACTIVITY = 0.1
DEFAULT_PYTHON = Path(__file__).resolve().parent.parent / ".venv-brian2" / "bin" / "python"


def brian2_worker(n: int, steps: int, rounds: int = 5) -> list:
    """Seconds per step of Brian2 (cython) on the N-unit network (runs inside Brian2's env).

    Returns [median, min, max] over ``rounds`` rounds.
    """
    import brian2 as b2

    b2.prefs.codegen.target = "cython"
    b2.set_device("runtime")
    b2.defaultclock.dt = 1 * b2.ms
    b2.seed(0)
    rate = ACTIVITY / b2.defaultclock.dt
    src = b2.PoissonGroup(n, rates=rate)
    tgt = b2.NeuronGroup(n, "v : 1", threshold="v > 0.5", reset="v = 0", method="exact")
    syn = b2.Synapses(src, tgt, "w : 1", on_pre="v_post += w")
    syn.connect()
    syn.w = "0.02 * rand()"
    net = b2.Network(src, tgt, syn)
    net.run(5 * b2.defaultclock.dt)  # code generation and compilation
    for k in (1, 2):  # warm-up at the timed lengths, as on the neuro side
        net.run(k * steps * b2.defaultclock.dt)
    times = {1: [], 2: []}
    for _ in range(rounds):
        for k in times:  # the difference of two lengths leaves out Brian2's per-run set-up
            start = time.perf_counter()
            net.run(k * steps * b2.defaultclock.dt)
            times[k].append(time.perf_counter() - start)
    one = sorted(times[1])[len(times[1]) // 2]
    per_step = sorted(max(t - one, 1e-12) / steps for t in times[2])
    return [per_step[len(per_step) // 2], per_step[0], per_step[-1]]


def neuro_step_time(n: int, steps: int, dtype: str = "float64"):
    """Seconds per step of the compiled ``cpu`` engine on the same network (one thread).

    Returns a :class:`_bench.Timing` (median, min-max of 5 rounds).
    """
    from _bench import blas_threads, step_time
    from fatrelu_layer import activity_inputs, layer

    import neuro

    net = layer(n)
    x = activity_inputs(ACTIVITY, steps, 1, n).astype(dtype)
    with blas_threads(1):

        def run(xs):
            return neuro.run(net, xs, record_steps="last", threads=1, dtype=dtype)

        return step_time(run, x)


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--worker":
        print(json.dumps(brian2_worker(int(argv[1]), int(argv[2]))))
        return
    from _bench import Timing, loadavg, parser, row, write_rows

    p = parser(__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument(
        "--brian2-python",
        default=os.environ.get("BRIAN2_PYTHON", str(DEFAULT_PYTHON)),
        help="interpreter of the Brian2 environment",
    )
    args = p.parse_args(argv)
    rows, load = [], loadavg()
    for n in args.sizes:
        ours = neuro_step_time(n, args.steps, "float64")
        ours32 = neuro_step_time(n, args.steps, "float32")
        try:
            out = subprocess.run(
                [args.brian2_python, __file__, "--worker", str(n), str(args.steps)],
                capture_output=True,
                text=True,
                timeout=900,
                check=True,
            )
            theirs = Timing(*map(float, json.loads(out.stdout.strip().splitlines()[-1])))
        except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
            print(f"N = {n}: Brian2 not measured ({type(exc).__name__}); see the docstring")
            rows.append(
                row(
                    f"vs Brian2 (cython), N={n}, p=10%",
                    ">= 10x faster",
                    f"neuro {ours.fmt('ms', 3)}/step (float64); Brian2 not available",
                    None,
                )
            )
            continue
        ratio, ratio32 = theirs.median / ours.median, theirs.median / ours32.median
        print(
            f"N = {n}: neuro {ours.fmt('ms', 3)}/step (float64; float32 "
            f"{ours32.fmt('ms', 3)}), Brian2 {theirs.fmt('ms', 3)}/step: {ratio:.1f}x "
            f"(float32: {ratio32:.1f}x)"
        )
        rows.append(
            row(
                f"vs Brian2 (cython), N={n}, p=10%, both float64, 1 thread",
                ">= 10x faster",
                f"{ratio:.1f}x of medians (neuro {ours.fmt('ms', 3)} vs Brian2 "
                f"{theirs.fmt('ms', 3)} per step; neuro float32 {ratio32:.1f}x; Brian2's "
                f"time includes drawing its Poisson input each step, neuro's inputs are "
                f"drawn before the run)",
                bool(ratio >= 10),
            )
        )
    write_rows(args.json, rows, load)


if __name__ == "__main__":
    main()
