"""Fixed overhead of one call, in blocks of 1,000 calls: the MLP of ``per_call.py``.

The 784-256-256-10 FATReLU MLP (float32, one thread) is called on one sample without
events (an all-zero input: no synaptic work, so the time is the call's fixed part) as a
user calls it: ``program.run(x)`` of a compiled program and ``neuro.run(net, x)``
(which finds the network's cached program first), beside the PyTorch forward of the
same model on the same thread.  Each figure is the median, with the 10th-90th
percentiles, of ``--blocks`` blocks of 1,000 calls (per-call microseconds), the blocks
of the three cases interleaved so that the bursts of a shared machine fall on all of
them alike.  ``--pieces`` adds where a call's time goes (the guard's check, the
compiled entry on its own, the rest), ``--profile`` a cProfile of 100,000 calls.

Usage::

    PYTHONPATH=$PWD:$PWD/benchmarks python benchmarks/call_overhead.py [--blocks 60]
        [--pieces] [--profile] [--json rows.json]
"""

from __future__ import annotations

import os
import time

import numpy as np
from _bench import blas_threads, parser, row, write_rows
from per_call import mlp, profile_call

import neuro

CALLS = 1000


def _block(fn, x) -> float:
    """Per-call microseconds of ``CALLS`` calls of ``fn(x)``."""
    start = time.perf_counter_ns()
    for _ in range(CALLS):
        fn(x)
    return (time.perf_counter_ns() - start) / CALLS / 1e3


def _fmt(values) -> str:
    v = np.asarray(values)
    return f"{np.median(v):.1f} us (p10 {np.percentile(v, 10):.1f}, p90 {np.percentile(v, 90):.1f})"


def _torch_forward(ws, bs):
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is an extra
        return None
    torch.set_num_threads(1)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
        torch.nn.ReLU(), torch.nn.Linear(256, 10),
    )  # fmt: skip
    with torch.no_grad():
        for lin, w, b in zip(model[::2], ws, bs):
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))

    def forward(x):
        with torch.no_grad():
            return model(x)

    return forward, torch.zeros((1, 784))


def measure(blocks: int = 60) -> list[dict]:
    """Interleaved 1,000-call blocks of each case; returns the result rows."""
    net, ws, bs = mlp()
    program = neuro.compile(net, dtype="float32", threads=1)
    x = np.zeros((1, 784), np.float32)
    cases = {
        "program.run": (lambda v: program.run(v), x),
        "neuro.run": (lambda v: neuro.run(net, v, dtype="float32", threads=1), x),
    }
    forward = _torch_forward(ws, bs)
    if forward is not None:
        cases["torch forward"] = forward
    times = {name: [] for name in cases}
    for fn, arg in cases.values():  # warm: compilation, buffers, caches
        for _ in range(2 * CALLS):
            fn(arg)
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for _ in range(blocks):
        for name, (fn, arg) in cases.items():
            times[name].append(_block(fn, arg))
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for name, values in times.items():
        print(f"  {name}: {_fmt(values)} per call, {blocks} blocks of {CALLS} calls")
    fixed = float(np.median(times["program.run"]))
    torch_s = ""
    if "torch forward" in times:
        t = float(np.median(times["torch forward"]))
        torch_s = f", torch forward {_fmt(times['torch forward'])} ({fixed / t:.2f}x)"
    return [
        row(
            "per call: mlp 784-256-256-10, one sample, 1 thread: fixed overhead, "
            f"1,000-call blocks (median of {blocks})",
            "<= 30 us (<= 15 us in blocks)",
            f"program.run {_fmt(times['program.run'])}, neuro.run "
            f"{_fmt(times['neuro.run'])}{torch_s}",
            bool(fixed <= 15.0),
        )
    ]


def pieces(calls: int = 100_000) -> None:
    """Per-call microseconds of the pieces of a plain call (minimum of 5 rounds)."""
    import timeit

    from neuro.backends.cpu import fastpath

    net, _, _ = mlp()
    program = neuro.compile(net, dtype="float32", threads=1)
    x = np.zeros((1, 784), np.float32)
    program.run(x)
    call = program._engine._plain._plains[1]
    rec = np.empty(call.rec_shape, np.float32)
    args = (x.reshape(call.x_shape), call.i_in, rec, call.i_rec, 1, call.frame, True, 1)
    args += (fastpath.MIN_PARALLEL_CONNECTIONS, True)
    entry = call.entry

    def best(fn):
        return min(timeit.repeat(fn, number=calls, repeat=5)) / calls * 1e6

    parts = {
        "guard check": best(program._check),
        "compiled entry alone": best(lambda: entry(*args)),
        "plain call (entry + result)": best(lambda: call(x)),
        "program.run": best(lambda: program.run(x)),
        "neuro.run": best(lambda: neuro.run(net, x, dtype="float32", threads=1)),
    }
    for name, us in parts.items():
        print(f"  {name}: {us:.2f} us")


def main(argv=None):
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--blocks", type=int, default=60, help="blocks of 1,000 calls (default 60)")
    p.add_argument("--pieces", action="store_true", help="also time the pieces of a call")
    p.add_argument("--profile", action="store_true", help="also profile 100,000 calls")
    args = p.parse_args(argv)
    with blas_threads(1):
        rows = measure(args.blocks)
        if args.pieces:
            pieces()
        if args.profile:
            profile_call(100_000)
    write_rows(args.json, rows)


if __name__ == "__main__":
    main()
