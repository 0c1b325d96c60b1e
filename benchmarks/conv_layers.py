"""ResNet-18's convolution shapes on the ``cpu`` event backend at 50-95 % input sparsity,
beside ``torch.nn.functional.conv2d`` at the same thread count.

For each layer shape and input sparsity, a one-projection network (input → conv →
readout, float32) runs through ``neuro.run`` (the call a user makes, on the network's
cached compiled program: set-up, event extraction, the convolution, the readout's
events) and ``F.conv2d`` runs on the same dense input (warm).  Rounds of the two
alternate, so both see the same machine load; each figure is the median (min-max).
The kernel alone (:func:`neuro.backends.cpu.conv.conv2d_into` on prepared events,
weights in cache after the first round; fastest round) gives the synop rate.  The
break-even sparsity is where the neuro / torch time ratio crosses 1 (linear
interpolation between the measured sparsities), from the CPU-second ratio at one
thread (what an idle core gives on a machine shared with other work), from the
wall-time ratio at more.

Usage::

    python benchmarks/conv_layers.py [--threads 1] [--repeats 5] [--json PATH]
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch
import torch.nn.functional as F

import neuro
from neuro.backends.cpu.conv import conv2d_into, conv_geometry, work_sizes
from neuro.backends.cpu.kernels import dense_to_events
from neuro.backends.cpu.synapses import conv2d_layout

# name, C_in, C_out, H (input), kernel, stride, padding
SHAPES = [
    ("layer1 3x3", 64, 64, 56, 3, 1, 1),
    ("layer2.0 3x3/2", 64, 128, 56, 3, 2, 1),
    ("layer2 3x3", 128, 128, 28, 3, 1, 1),
    ("layer2 1x1/2", 64, 128, 56, 1, 2, 0),
    ("layer3.0 3x3/2", 128, 256, 28, 3, 2, 1),
    ("layer3 3x3", 256, 256, 14, 3, 1, 1),
    ("layer3 1x1/2", 128, 256, 28, 1, 2, 0),
    ("layer4.0 3x3/2", 256, 512, 14, 3, 2, 1),
    ("layer4 3x3", 512, 512, 7, 3, 1, 1),
    ("layer4 1x1/2", 256, 512, 14, 1, 2, 0),
]
SPARSITIES = (0.5, 0.75, 0.9, 0.95)


def _alternate(fns, rounds, threads):
    """Median, min, max wall seconds and median CPU seconds (of the process, all
    threads) of each function, rounds interleaved.

    torch's thread count is set again before every call: numba's OpenMP layer and
    torch share the OpenMP runtime, and a numba call leaves it at numba's count.
    """
    times = [[] for _ in fns]
    cpu = [[] for _ in fns]
    for f in fns:  # warm-up
        torch.set_num_threads(threads)
        f()
    for _ in range(rounds):
        for t, c, f in zip(times, cpu, fns):
            torch.set_num_threads(threads)
            start, start_cpu = time.perf_counter(), time.process_time()
            f()
            t.append(time.perf_counter() - start)
            c.append(time.process_time() - start_cpu)
    return [(float(np.median(t)), min(t), max(t), float(np.median(c))) for t, c in zip(times, cpu)]


def _network(op):
    pre = neuro.Population("x", op.in_shape, neuro.Input())
    post = neuro.Population("y", op.out_shape, neuro.Readout())
    return neuro.Network([pre, post], [neuro.Projection("conv", "x", "y", op)], name="conv")


def _kernel_rate(op, x, rounds):
    """(fastest round's seconds, synops) of the conv kernel alone on this input's events
    (the fastest round: the machine's other work interferes least)."""
    wt = conv2d_layout(op, np.float32)
    geom = conv_geometry(op, wt.shape)
    flat = np.ascontiguousarray(x.reshape(1, -1), dtype=np.float32)
    ptr = np.zeros(2, np.int64)
    idx = np.zeros(flat.size, np.int64)
    val = np.zeros(flat.size, np.float32)
    n = dense_to_events(flat, ptr, idx, val)
    work = [
        np.empty(k, d)
        for k, d in zip(work_sizes(geom), (np.float32, np.int64, np.int64, np.float32))
    ]
    o = np.zeros(op.n_out, np.float32)
    synops = int(op.fanout_nnz()[idx[:n]].sum())
    conv2d_into(o, wt, geom, idx, val, 0, n, *work)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        conv2d_into(o, wt, geom, idx, val, 0, n, *work)
        times.append(time.perf_counter() - start)
    return min(times), synops


def break_even(sparsities, ratios) -> str:
    """Sparsity where neuro/torch crosses 1 (linear interpolation), as text."""
    if ratios[0] <= 1:
        return f"<= {sparsities[0]:.0%}"
    for (s0, r0), (s1, r1) in zip(zip(sparsities, ratios), zip(sparsities[1:], ratios[1:])):
        if r1 <= 1 < r0:
            return f"{s0 + (r0 - 1) / (r0 - r1) * (s1 - s0):.0%}"
    return f"> {sparsities[-1]:.0%}"


def main(argv=None) -> int:
    from _bench import blas_threads, loadavg, parser, row, write_rows

    p = parser(__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    load = loadavg()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    rows, table = [], []
    print(
        f"threads {args.threads}; float32, batch 1; neuro = neuro.run per call (cached program); "
        "times median (min-max) of interleaved rounds"
    )
    header = (
        f"{'layer':<16} {'sparsity':>8} {'neuro ms':>20} {'F.conv2d ms':>20} "
        f"{'torch/neuro':>11} {'CPU s torch/neuro':>17} {'kernel Gsynop/s':>15}"
    )
    print(header)
    with blas_threads(args.threads):
        for name, c_in, c_out, h, k, s, pad in SHAPES:
            weight = (
                rng.standard_normal((c_out, c_in, k, k)) * np.sqrt(2 / (c_in * k * k))
            ).astype(np.float32)
            op = neuro.Conv2d(weight, (c_in, h, h), (s, s), (pad, pad))
            net = _network(op)
            wt_t = torch.from_numpy(weight)
            ratios = []
            for sparsity in SPARSITIES:
                x = np.abs(rng.standard_normal((1, c_in, h, h))).astype(np.float32)
                x[rng.random(x.shape) < sparsity] = 0
                x_t = torch.from_numpy(x)

                def event_call(net=net, x=x):
                    neuro.run(net, x, backend="cpu", dtype="float32", threads=args.threads)

                def torch_call(x_t=x_t, wt_t=wt_t, s=s, pad=pad):
                    with torch.no_grad():
                        F.conv2d(x_t, wt_t, stride=s, padding=pad)

                (tn, tn_lo, tn_hi, cn), (tt, tt_lo, tt_hi, ct) = _alternate(
                    [event_call, torch_call], args.repeats, args.threads
                )
                tk, synops = _kernel_rate(op, x, args.repeats)
                ratios.append(cn / ct if args.threads == 1 else tn / tt)
                rate = synops / tk / 1e9
                print(
                    f"{name:<16} {sparsity:>8.0%} "
                    f"{f'{tn * 1e3:.2f} ({tn_lo * 1e3:.2f}-{tn_hi * 1e3:.2f})':>20} "
                    f"{f'{tt * 1e3:.2f} ({tt_lo * 1e3:.2f}-{tt_hi * 1e3:.2f})':>20} "
                    f"{tt / tn:>10.2f}x {ct / cn:>16.2f}x {rate:>15.2f}"
                )
                table.append((name, sparsity, tn, tt, rate))
                if k == 3:
                    rows.append(
                        row(
                            f"conv {name} kernel rate at {sparsity:.0%} sparsity",
                            ">= 8 Gsynop/s per core",
                            f"{rate:.2f} Gsynop/s",
                            rate >= 8 * args.threads,
                        )
                    )
            be = break_even(SPARSITIES, ratios)
            print(f"{name:<16} break-even sparsity {be}")
            rows.append(row(f"conv {name} break-even", "measured", be, True))
    print(f"load average before {load}, after {loadavg()}; pid {os.getpid()}")
    if args.json:
        write_rows(args.json, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
