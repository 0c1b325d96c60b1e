"""Time per call, set-up included: compiled programs beside numpy and PyTorch.

A feed-forward inference is one step, so what a user waits for is the whole call:
``program.run(x)`` of a compiled program (``neuro.compile``), or ``neuro.run(net, x)``
(which reuses the network's cached program), against dense numpy and the PyTorch
forward of the same layer or model, in the same run, with the same threads.  Each
figure is the median (min-max) over ``--repeats`` rounds, a round being the mean of
as many calls as fill ``--round-s`` seconds (at least two); inputs cycle through a few
samples.  Many short rounds (31 of 20 ms by default) keep the median of a
microsecond-scale call clear of the bursts of a shared virtual machine, which last
tenths of a second and would decide the median of a few long rounds.

Cases (float32):

* 4096x4096 FATReLU, one sample per call, one thread, p = 10 % and 1 % input activity:
  target >= 0.8/p x numpy GEMV at 10 %, >= 40x at 1 %; the loop-only figure
  ((run of T steps - run of 1 step) / (T - 1)) is printed beside it;
* the same layer, batch 64 per call: faster per sample than a batch-64 GEMM below 15 %;
* the same layer, one sample, two threads vs one (column blocks);
* a 784-256-256-10 FATReLU MLP, one sample per call: the fixed overhead (a call on an
  input without events) within 2x of the torch forward and <= 30 us.

Where a target is missed, the row's breakdown says where the time goes: the call on an
input without events (Python set-up, input and threshold scans) and the rest (events).
The machine's load average is printed before and after: on a loaded machine every
figure is slower and ratios drift; re-measure on an idle machine.

Usage::

    python benchmarks/per_call.py [--repeats 31] [--round-s 0.02] [--profile] [--json rows.json]
"""

from __future__ import annotations

import os
import time

import numpy as np
from _bench import blas_threads, machine, parser, row, write_rows
from fatrelu_layer import activity_inputs, layer

import neuro

THETA = np.float32(0.05)


def timed(fn, inputs, repeats: int, round_s: float) -> tuple[float, float, float]:
    """(median, min, max) seconds per call of ``fn(x)``, cycling through ``inputs``."""
    fn(inputs[0])  # first call: compilation, page faults
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < round_s / 4 or n < 2:
        fn(inputs[n % len(inputs)])
        n += 1
    per_round = max(2, int(n * round_s / (time.perf_counter() - start)))
    rounds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(per_round):
            fn(inputs[i % len(inputs)])
        rounds.append((time.perf_counter() - t0) / per_round)
    return float(np.median(rounds)), float(min(rounds)), float(max(rounds))


def fmt(t, unit=1e-6, name="us") -> str:
    med, lo, hi = t
    return f"{med / unit:.1f} {name} ({lo / unit:.1f}-{hi / unit:.1f})"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


def torch_threads(n: int):
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is an extra
        return None
    torch.set_num_threads(n)
    return torch


def fatrelu_cases(repeats, round_s, n=4096) -> list[dict]:
    net = layer(n)
    w = net.projections["x->h"].weights.weight
    torch = torch_threads(1)
    wt = torch.from_numpy(np.array(w)) if torch else None
    rows = []
    program = neuro.compile(net, dtype="float32", threads=1)
    empty = [np.zeros((1, n), np.float32)]
    t_empty = timed(lambda x: program.run(x), empty, repeats, round_s)
    print(f"  call without events (fixed part): {fmt(t_empty)}")
    for p, target in ((0.1, 0.8 / 0.1), (0.01, 40.0)):
        xs = list(activity_inputs(p, 8, 1, n))
        t_prog = timed(lambda x: program.run(x), xs, repeats, round_s)
        t_run = timed(lambda x: neuro.run(net, x, threads=1), xs, repeats, round_s)

        def dense(x):
            y = x @ w
            return np.where(y >= THETA, y, 0)

        t_np = timed(dense, xs, repeats, round_s)
        ratio_np = t_np[0] / t_prog[0]
        extra = ""
        if torch:
            xts = [torch.from_numpy(x) for x in xs]
            with torch.no_grad():
                t_torch = timed(
                    lambda x: torch.where((y := x @ wt) >= THETA, y, 0.0), xts, repeats, round_s
                )
            extra = f", torch {fmt(t_torch)}: {t_torch[0] / t_prog[0]:.1f}x"
        # loop only: (run of T steps - run of 1 step) / (T - 1)
        seq = activity_inputs(p, 64, 1, n, seed=3)
        t_seq = timed(lambda x: program.run(x, record_steps="last"), [seq], 3, round_s)
        t_one = timed(lambda x: program.run(x, record_steps="last"), [seq[:1]], 3, round_s)
        loop = max(t_seq[0] - t_one[0], 1e-12) / 63
        line = (
            f"fatrelu {n}x{n}, one sample per call, 1 thread, p={p:.0%}: program.run "
            f"{fmt(t_prog)}, neuro.run {fmt(t_run)}, numpy GEMV {fmt(t_np)}: "
            f"{ratio_np:.1f}x numpy{extra}; loop only {loop * 1e6:.1f} us/step "
            f"({t_np[0] / loop:.1f}x numpy)"
        )
        print("  " + line)
        breakdown = (
            f"; of the call, {t_empty[0] * 1e6:.1f} us without events" if ratio_np < target else ""
        )
        rows.append(
            row(
                f"per call: fatrelu {n}x{n}, one sample, 1 thread, p={p:.0%}",
                f">= {target:.0f}x numpy GEMV",
                f"{ratio_np:.1f}x numpy ({fmt(t_prog)} vs {fmt(t_np)}{extra}; neuro.run "
                f"{fmt(t_run)}; loop only {loop * 1e6:.1f} us = {t_np[0] / loop:.1f}x{breakdown})",
                bool(ratio_np >= target),
            )
        )
    batch = 64
    for p in (0.01, 0.05, 0.1, 0.14):
        xs = list(activity_inputs(p, 3, batch, n, seed=4))
        t_prog = timed(lambda x: program.run(x), xs, repeats, round_s)
        t_gemm = timed(lambda x: np.maximum(x @ w, 0), xs, repeats, round_s)
        extra = ""
        if torch:
            xts = [torch.from_numpy(x) for x in xs]
            with torch.no_grad():
                t_torch = timed(lambda x: torch.relu(x @ wt), xts, repeats, round_s)
            extra = f", torch {t_torch[0] / batch * 1e6:.0f} us/sample"
        ratio = t_gemm[0] / t_prog[0]
        line = (
            f"{t_prog[0] / batch * 1e6:.0f} vs GEMM {t_gemm[0] / batch * 1e6:.0f} us/sample"
            f"{extra} (per call {fmt(t_prog, 1e-3, 'ms')} vs {fmt(t_gemm, 1e-3, 'ms')})"
        )
        print(f"  fatrelu {n}x{n}, batch 64 per call, p={p:.0%}: {ratio:.2f}x GEMM: {line}")
        rows.append(
            row(
                f"per call: fatrelu {n}x{n}, batch 64, 1 thread, p={p:.0%}",
                "faster per sample than batch-64 GEMM",
                f"{ratio:.2f}x GEMM ({line})",
                bool(ratio > 1),
            )
        )
    xs = list(activity_inputs(0.1, 8, 1, n))
    two = neuro.compile(net, dtype="float32", threads=2)
    t1 = timed(lambda x: program.run(x), xs, repeats, round_s)
    t2 = timed(lambda x: two.run(x), xs, repeats, round_s)
    print(f"  one sample, p=10%: 1 thread {fmt(t1)}, 2 threads {fmt(t2)}")
    rows.append(
        row(
            f"per call: fatrelu {n}x{n}, one sample, p=10%, 2 threads vs 1 (column blocks)",
            "(informative: both cores used)",
            f"{t1[0] / t2[0]:.2f}x ({fmt(t1)} -> {fmt(t2)})",
            None,
        )
    )
    return rows


def mlp(seed=0):
    """784-256-256-10 FATReLU MLP (float32 weights) and the same model in torch."""
    rng = np.random.default_rng(seed)
    sizes = (784, 256, 256, 10)
    ws = [
        (rng.standard_normal((a, b), dtype=np.float32) / np.float32(np.sqrt(a)))
        for a, b in zip(sizes, sizes[1:])
    ]
    bs = [np.zeros(b, np.float32) for b in sizes[1:]]
    net = neuro.Network(name="mlp")
    net.add_population("x", (784,), neuro.Input())
    net.add_population("h1", (256,), neuro.FATReLU(0.1))
    net.add_population("h2", (256,), neuro.FATReLU(0.1))
    net.add_population("y", (10,), neuro.Readout())
    for (pre, post), w, b in zip((("x", "h1"), ("h1", "h2"), ("h2", "y")), ws, bs):
        net.connect(pre, post, neuro.Dense(w.copy()), bias=b)
    return net, ws, bs


def mlp_case(repeats, round_s) -> list[dict]:
    net, ws, bs = mlp()
    program = neuro.compile(net, dtype="float32", threads=1)
    rng = np.random.default_rng(5)
    xs = [(rng.random((1, 784), dtype=np.float32) * (rng.random((1, 784)) < 0.2)) for _ in range(8)]
    xs = [x.astype(np.float32) for x in xs]
    zero = [np.zeros((1, 784), np.float32)]
    t_fixed = timed(lambda x: program.run(x), zero, repeats, round_s)
    t_prog = timed(lambda x: program.run(x), xs, repeats, round_s)
    t_run = timed(lambda x: neuro.run(net, x, threads=1), xs, repeats, round_s)

    def forward(x):
        for i, (w, b) in enumerate(zip(ws, bs)):
            x = x @ w + b
            if i < 2:
                x = np.where(x >= 0.1, x, 0)
        return x

    t_np = timed(forward, xs, repeats, round_s)
    torch = torch_threads(1)
    t_torch = None
    if torch:
        model = torch.nn.Sequential(
            torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
            torch.nn.ReLU(), torch.nn.Linear(256, 10),
        )  # fmt: skip
        with torch.no_grad():
            for lin, w, b in zip(model[::2], ws, bs):
                lin.weight.copy_(torch.from_numpy(w.T.copy()))
                lin.bias.copy_(torch.from_numpy(b))
            xts = [torch.from_numpy(x) for x in xs]
            t_torch = timed(model, xts, repeats, round_s)
    torch_s = f", torch forward {fmt(t_torch)}" if t_torch else ""
    print(
        f"  mlp 784-256-256-10, one sample per call: fixed overhead {fmt(t_fixed)}, "
        f"program.run {fmt(t_prog)}, neuro.run {fmt(t_run)}, numpy {fmt(t_np)}{torch_s}"
    )
    ratio = t_fixed[0] / t_torch[0] if t_torch else float("nan")
    return [
        row(
            "per call: mlp 784-256-256-10, one sample, 1 thread: fixed overhead",
            "<= 2x torch forward and <= 30 us",
            f"{fmt(t_fixed)} = {ratio:.2f}x torch forward ({fmt(t_torch) if t_torch else '-'}); "
            f"a call at 20 % input activity {fmt(t_prog)} (neuro.run {fmt(t_run)}), "
            f"numpy {fmt(t_np)}",
            bool(ratio <= 2 and t_fixed[0] <= 30e-6),
        )
    ]


def profile_call(calls: int = 2000) -> None:
    """Where the time of a one-sample call goes (cProfile of the MLP's program.run on an
    input without events: the fixed part of every call)."""
    import cProfile
    import pstats

    net, _, _ = mlp()
    program = neuro.compile(net, dtype="float32", threads=1)
    x = np.zeros((1, 784), np.float32)
    program.run(x)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        program.run(x)
    prof.disable()
    print(f"profile of {calls} calls (fixed part, profiler overhead included):")
    pstats.Stats(prof).sort_stats("tottime").print_stats(14)


def measure(repeats=31, round_s=0.02) -> list[dict]:
    """Run every case; returns the result rows."""
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores; load average before: {load()}")
    with blas_threads(1):
        rows = fatrelu_cases(repeats, round_s)
        rows += mlp_case(repeats, round_s)
    print(f"load average after: {load()}")
    return rows


def main(argv=None):
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=31, help="rounds per figure (default 31)")
    p.add_argument("--round-s", type=float, default=0.02, help="seconds per round (default 0.02)")
    p.add_argument("--profile", action="store_true", help="also profile a one-sample call")
    args = p.parse_args(argv)
    if args.profile:
        profile_call()
    start = time.perf_counter()
    rows = measure(args.repeats, args.round_s)
    print(f"({time.perf_counter() - start:.0f} s)")
    write_rows(args.json, rows)


if __name__ == "__main__":
    main()
