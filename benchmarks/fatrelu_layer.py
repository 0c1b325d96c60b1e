"""One 4096 x 4096 FATReLU layer: event-driven ``cpu`` backend vs dense numpy.

Prints, for input activity p = 50 %, 10 % and 1 % (float32, one core: numba and
BLAS both limited to one thread):

* events/s and synaptic ops/s of the compiled ``cpu`` engine, single sample;
* its speedup over dense numpy ``x @ W`` + threshold (target >= 0.8 / p at p <= 10 %);
* per-sample time of a batch of 64 against a batch-64 GEMM (target: faster below 15 %).

Engine times are per step, measured as (run of T steps - run of 1 step) / (T - 1),
so the per-run setup (validation, counting tables) is left out; it is printed too.
Engine, numpy GEMV and numpy GEMM get the same treatment: one thread, float32, an
untimed warm-up call, then 5 timed rounds; each figure is the median with the
min-max of the rounds, ratios are of medians, and a target is met only if the
median meets it.

Usage::

    python benchmarks/fatrelu_layer.py [--n 4096] [--json rows.json]
"""

from __future__ import annotations

import time

import numpy as np
from _bench import Timing, blas_threads, loadavg, parser, row, time_rounds, write_rows
from _bench import step_time as _step_time

import neuro

ACTIVITIES = (0.5, 0.1, 0.01)


def layer(n: int, seed: int = 0) -> neuro.Network:
    """Input (n) → FATReLU (n), dense float32 weights, θ = 0.05."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((n, n), dtype=np.float32) / np.float32(np.sqrt(n))
    net = neuro.Network(name=f"fatrelu{n}")
    net.add_population("x", (n,), neuro.Input())
    net.add_population("h", (n,), neuro.FATReLU(0.05))
    net.connect("x", "h", neuro.Dense(w))
    return net


def activity_inputs(p: float, steps: int, batch: int, n: int, seed: int = 1) -> np.ndarray:
    """(steps, batch, n) float32 inputs with a fraction ``p`` of positive entries."""
    rng = np.random.default_rng(seed)
    x = rng.random((steps, batch, n), dtype=np.float32)
    x[x >= p] = 0
    x[x > 0] += np.float32(0.5)
    return x


def step_time(net, x, **options) -> tuple[Timing, float]:
    """(seconds per step, median seconds of a one-step run) of the ``cpu`` engine on x (T, B, n).

    The per-step figure is a :class:`_bench.Timing` (median, min, max of the rounds).
    """

    def run(xs):
        return neuro.run(net, xs, record_steps="last", threads=1, **options)

    per_step = _step_time(run, x)
    one = time_rounds(lambda: run(x[:1]), min_time=0.1)
    return per_step, one.median


def measure(n: int = 4096, budget_synops: float = 4e8) -> list[dict]:
    """Run the comparison; returns the result rows."""
    net = layer(n)
    w = net.projections["x->h"].weights.weight
    theta = np.float32(0.05)
    rows = []
    with blas_threads(1):
        empty = step_time(net, np.zeros((2000, 1, n), dtype=np.float32))[0].median
        print(
            f"step without events: {empty * 1e6:.1f} us (input scan, bias, threshold scan of "
            f"{n} units: the fixed part of every step)"
        )
        for p in ACTIVITIES:
            steps = int(min(4000, max(20, budget_synops / (p * n * n))))
            x = activity_inputs(p, steps, 1, n)
            per_step_t, setup = step_time(net, x)
            per_step = per_step_t.median
            v = x[1, 0]

            def dense(v=v):
                y = v @ w
                return np.where(y >= theta, y, 0)

            t_dense_t = time_rounds(dense)
            t_dense = t_dense_t.median
            events = p * n
            speedup = t_dense / per_step
            print(
                f"p = {p:5.0%}  single sample: {per_step * 1e6:9.1f} us/step "
                f"({events / per_step / 1e6:7.1f} M events/s, "
                f"{events * n / per_step / 1e9:5.2f} Gsynop/s; {per_step_t.fmt()}), "
                f"dense numpy {t_dense_t.fmt()}: speedup {speedup:6.1f}x (0.8/p = {0.8 / p:.1f}); "
                f"per-run setup {setup * 1e3:.1f} ms"
            )
            target = 0.8 / p
            rows.append(
                row(
                    f"fatrelu {n}x{n}, single sample, p={p:.0%}",
                    f"speedup over dense numpy >= 0.8/p = {target:.1f}x"
                    if p <= 0.1
                    else "(informative)",
                    f"{speedup:.1f}x of medians (engine {per_step_t.fmt()}/step, numpy "
                    f"{t_dense_t.fmt()}; {events / per_step / 1e6:.1f} M events/s, "
                    f"{events * n / per_step / 1e9:.2f} Gsynop/s; step without events "
                    f"{empty * 1e6:.1f} us)",
                    bool(speedup >= target) if p <= 0.1 else None,
                )
            )
            batch = 64
            steps_b = int(min(200, max(8, budget_synops / (p * n * n * batch))))
            xb = activity_inputs(p, steps_b, batch, n, seed=2)
            per_step_bt, _ = step_time(net, xb)
            per_step_b = per_step_bt.median
            xb0 = xb[1]
            t_gemm_t = time_rounds(lambda xb0=xb0: np.maximum(xb0 @ w, 0))
            t_gemm = t_gemm_t.median
            ratio = t_gemm / per_step_b
            print(
                f"           batch 64: {per_step_b / batch * 1e6:9.1f} us/sample, GEMM "
                f"{t_gemm / batch * 1e6:8.1f} us/sample: {ratio:5.2f}x"
            )
            rows.append(
                row(
                    f"fatrelu {n}x{n}, batch 64, p={p:.0%}",
                    "faster per sample than batch-64 GEMM" if p < 0.15 else "(informative)",
                    f"{ratio:.2f}x GEMM (medians {per_step_b / batch * 1e6:.0f} vs "
                    f"{t_gemm / batch * 1e6:.0f} us/sample; per batch step "
                    f"{per_step_bt.fmt('ms', 2)} vs {t_gemm_t.fmt('ms', 2)})",
                    bool(ratio > 1) if p < 0.15 else None,
                )
            )
    return rows


def main(argv=None):
    args_p = parser(__doc__.splitlines()[0])
    args_p.add_argument("--n", type=int, default=4096, help="layer width (default 4096)")
    args = args_p.parse_args(argv)
    start, load = time.perf_counter(), loadavg()
    rows = measure(args.n)
    print(f"({time.perf_counter() - start:.0f} s)")
    write_rows(args.json, rows, load)


if __name__ == "__main__":
    main()
