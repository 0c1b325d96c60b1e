"""ResNet-18 at batch 1: two threads against one, neuro and torch, rounds interleaved.

The same model as ``resnet18_cpu.py`` (torchvision layout, 224², FATReLU at
``--activity``).  Each round times, on one thread and then on two, ``--calls`` calls of
``neuro.run`` (per call, on the cached program) and of the torch forward (warm, same
threads); the figure of a round is the median call.  Interleaving the thread counts
round by round gives both the same machine: on a shared virtual machine a core's speed
drifts by a fifth within minutes, so two separate runs can disagree on the ratio by
more than the effect measured.  Prints per thread count the median (min-max) over the
rounds, the two-vs-one-thread ratio of neuro and of torch (same rounds), torch / neuro
at each thread count, and checks that the outputs of both thread counts are identical.

Usage::

    PYTHONPATH=.:benchmarks python benchmarks/resnet18_threads.py [--rounds 8] [--calls 3]
"""

from __future__ import annotations

import numpy as np
import torch
from _bench import blas_threads, loadavg, parser, row, timings, write_rows
from resnet18_cpu import ResNet18, set_batchnorm_statistics, set_thresholds

import neuro
from converters import convert


def median_call(fn, calls: int) -> float:
    """Median wall seconds of ``calls`` calls of ``fn()``."""
    return timings(fn, rounds=calls, warmup=0).median


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--activity", type=float, default=0.25, help="target fraction firing")
    p.add_argument("--rounds", type=int, default=8, help="interleaved rounds (>= 5)")
    p.add_argument("--calls", type=int, default=3, help="calls per round and side")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.rounds < 5:
        p.error("--rounds must be at least 5 (median with min-max)")
    load = loadavg()
    torch.set_grad_enabled(False)
    torch.manual_seed(args.seed)
    model = ResNet18()
    set_batchnorm_statistics(model, 224)
    x = torch.randn(1, 3, 224, 224)
    set_thresholds(model, x, args.activity)
    net = convert(model, example_input=x)
    xs = x.numpy()
    outputs, neuro_t, torch_t = {}, {1: [], 2: []}, {1: [], 2: []}
    for threads in (1, 2):  # warm-up: compilation, the cached programs, torch's pools
        torch.set_num_threads(threads)
        with blas_threads(threads):
            outputs[threads] = neuro.run(net, xs, dtype="float32", threads=threads).outputs
            model(x)
    for _ in range(args.rounds):
        for threads in (1, 2):
            torch.set_num_threads(threads)
            with blas_threads(threads):
                neuro_t[threads].append(
                    median_call(
                        lambda n=threads: neuro.run(net, xs, dtype="float32", threads=n),
                        args.calls,
                    )
                )
                torch_t[threads].append(median_call(lambda: model(x), args.calls))
    med = {
        k: {t: float(np.median(v[t])) for t in (1, 2)}
        for k, v in (("neuro", neuro_t), ("torch", torch_t))
    }
    for threads in (1, 2):
        n, t = neuro_t[threads], torch_t[threads]
        print(
            f"{threads} thread(s): neuro {med['neuro'][threads] * 1e3:.1f} ms "
            f"({min(n) * 1e3:.1f}-{max(n) * 1e3:.1f}), torch {med['torch'][threads] * 1e3:.1f} ms "
            f"({min(t) * 1e3:.1f}-{max(t) * 1e3:.1f}); torch / neuro "
            f"{med['torch'][threads] / med['neuro'][threads]:.2f}x"
        )
    same = bool(np.array_equal(outputs[1], outputs[2]))
    scale = {k: med[k][1] / med[k][2] for k in med}
    print(f"outputs of 1 and 2 threads identical: {same}")
    rows = [
        row(
            "ResNet-18 224², batch 1: two threads vs one (neuro)",
            ">= 1.6x",
            f"{scale['neuro']:.2f}x ({med['neuro'][1] * 1e3:.1f} → {med['neuro'][2] * 1e3:.1f} ms; "
            f"torch {scale['torch']:.2f}x in the same rounds)",
            scale["neuro"] >= 1.6,
        ),
        row(
            "ResNet-18 224², batch 1: torch / neuro at 1 and 2 threads",
            ">= 1.0x",
            " / ".join(f"{med['torch'][t] / med['neuro'][t]:.2f}x" for t in (1, 2)),
            min(med["torch"][t] / med["neuro"][t] for t in (1, 2)) >= 1.0,
        ),
    ]
    write_rows(args.json, rows, load_before=load)


if __name__ == "__main__":
    main()
