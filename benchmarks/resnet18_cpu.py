"""ResNet-18 at 224x224 on the ``cpu`` event backend: conversion, run time, memory, counts.

The model is built here from ``torch.nn`` modules in the shape of ResNet-18 (He et
al., 2016: a 7x7/2 stem, four stages of two basic blocks with 64-128-256-512
channels, global average pooling, a 1000-way classifier), layer for layer the
torchvision architecture, with the 3x3/2 max pooling after the stem.  Weights are
random (Kaiming-normal convolutions, BatchNorm statistics from a few random
batches); every ReLU is a FATReLU whose threshold is set, layer
by layer, so that about ``--activity`` of its units fire on a random input —
realistic activity instead of the ~50 % of a ReLU on noise.

Prints the conversion time, the event-driven run time, the torch forward and
optionally a dense numpy forward of the same network, peak resident memory, and
the counts: events, synops and dense MACs.  Every side gets the same treatment: the
same thread count (``--threads``: numba, BLAS and torch), one untimed warm-up run
(the engine's first run, which may compile kernels, is printed apart), then
``--repeats`` (at least 5) timed runs; each time is the median with the min-max.
Timings are of this machine, in this run; the CPU seconds of the process per call
(median) are printed too: on a machine shared with other work they are what a call
costs an idle core.

Usage::

    python benchmarks/resnet18_cpu.py [--activity 0.3] [--size 224] [--dense]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch
from torch import nn

import neuro
from converters import convert
from neuro.apps.dense_forward import DenseForward
from neuro.torch import FATReLU


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm, and a shortcut (1x1/stride conv if needed)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.act1 = FATReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.act2 = FATReLU()
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        return self.act2(out + identity)


class ResNet18(nn.Module):
    """ResNet-18 (torchvision's layout: 7x7/2 stem, 3x3/2 max pooling, 4 x 2 basic blocks)."""

    def __init__(self, classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.act1 = FATReLU()
        self.pool = nn.MaxPool2d(3, 2, 1)
        stages, c_in = [], 64
        for i, c in enumerate((64, 128, 256, 512)):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(c_in, c, stride), BasicBlock(c, c, 1)))
            c_in = c
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.pool(self.act1(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def set_batchnorm_statistics(model, size: int, batches: int = 2) -> None:
    """Running statistics from random batches (cumulative average), then eval mode."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(2, 3, size, size))
    model.eval()


def set_thresholds(model, x, activity: float) -> None:
    """Layer by layer, θ = the (1 - activity) quantile of the layer's pre-activations."""
    for m in model.modules():
        if not isinstance(m, FATReLU):
            continue
        seen = []
        handle = m.register_forward_hook(lambda mod, inp, out, seen=seen: seen.append(inp[0]))
        with torch.no_grad():
            model(x)
        handle.remove()
        pre = torch.cat([t.flatten() for t in seen])
        theta = max(
            0.0, float(torch.quantile(pre[:: max(1, pre.numel() // 1_000_000)], 1 - activity))
        )
        m.threshold.fill_(theta)


def stored_weights(network) -> int:
    """Numbers stored in the weight operators (a conv kernel counts once, not per position)."""
    total = 0
    for proj in network.projections.values():
        arrays = [v for v in proj.weights.to_dict().values() if isinstance(v, np.ndarray)]
        total += sum(a.size for a in arrays if a.dtype.kind == "f")
    return int(total)


def profile_projections(network, xs) -> None:
    """Time each projection's event delivery alone, on the events of this input."""
    from neuro.backends.cpu.events import EventBuffer
    from neuro.backends.cpu.synapses import build_delivery

    rec = neuro.run(network, xs, backend="cpu", record=list(network.populations))
    b = xs.shape[0]
    rows = []
    for proj in network.projections.values():
        pre = rec.recordings[proj.pre].reshape(b, -1).astype(np.float32)
        events = EventBuffer(b, pre.shape[1], np.float32)
        events.from_dense(pre)
        out = np.zeros((b, proj.weights.n_out), np.float32)
        deliver = build_delivery(proj, np.float32)
        start = time.perf_counter()
        synops, _ = deliver(events.ptr, events.idx, events.val, out)
        elapsed = time.perf_counter() - start
        rows.append((elapsed, proj.name, proj.weights.type, events.count, synops))
    total = sum(r[0] for r in rows)
    print("profile: event delivery per projection (slowest first)")
    for elapsed, name, kind, n_events, synops in sorted(rows, reverse=True)[:10]:
        print(
            f"  {name:<40} {kind:<7} {elapsed:7.3f} s ({elapsed / total:5.1%})  events "
            f"{n_events:>8}  synops {synops:>11}  {synops / max(elapsed, 1e-9) / 1e9:5.2f} Gsynop/s"
        )


def cpu_seconds(fn, rounds: int) -> float:
    """Median CPU seconds of this process per call of ``fn()`` (all its threads): on a
    machine shared with other work, what the call costs an idle core."""
    times = []
    for _ in range(rounds):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return float(np.median(times))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224, help="input height and width")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--activity", type=float, default=0.3, help="target fraction firing")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each (>= 5)")
    parser.add_argument("--threads", type=int, default=1, help="threads (engine, BLAS, torch)")
    parser.add_argument("--dense", action="store_true", help="also time a dense numpy forward")
    parser.add_argument("--profile", action="store_true", help="time each projection alone")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.repeats < 5:
        parser.error("--repeats must be at least 5 (median with min-max)")
    from _bench import blas_threads, loadavg, timings

    load = loadavg()
    torch.set_num_threads(args.threads)
    limit = blas_threads(args.threads)
    limit.__enter__()

    torch.manual_seed(args.seed)
    model = ResNet18()
    set_batchnorm_statistics(model, args.size)
    x = torch.randn(args.batch, 3, args.size, args.size)
    set_thresholds(model, x, args.activity)
    with torch.no_grad():
        want = model(x).numpy()  # also torch's warm-up

    def torch_forward():
        with torch.no_grad():
            model(x)

    t_torch = timings(torch_forward, rounds=args.repeats, warmup=1)
    print(
        f"model: ResNet-18 layout, {sum(p.numel() for p in model.parameters())} parameters, "
        f"input {tuple(x.shape)}; peak RSS after building {peak_rss_mb():.0f} MiB"
    )

    start = time.perf_counter()
    network = convert(model, example_input=x)
    t_convert = time.perf_counter() - start
    print(
        f"conversion: {t_convert:.2f} s, {len(network.populations)} populations, "
        f"{len(network.projections)} projections, {stored_weights(network)} stored weights; "
        f"peak RSS {peak_rss_mb():.0f} MiB"
    )

    xs = x.numpy()
    out = {}

    def event_run():
        out["result"] = neuro.run(network, xs, backend="cpu", dtype="float32", threads=args.threads)

    start = time.perf_counter()
    event_run()  # warm-up (kernel compilation), timed apart
    t_first = time.perf_counter() - start
    t_event = timings(event_run, rounds=args.repeats, warmup=0)
    cpu_event = cpu_seconds(event_run, args.repeats)
    torch.set_num_threads(args.threads)  # numba's OpenMP layer shares torch's runtime
    cpu_torch = cpu_seconds(torch_forward, args.repeats)
    result = out["result"]
    diff = float(np.abs(result.outputs - want).max())
    same = bool(np.array_equal(result.outputs.argmax(1), want.argmax(1)))
    print(
        f"event-driven run (cpu, float32, {args.threads} thread(s)): first {t_first:.2f} s, "
        f"then {t_event.fmt('ms', 1)} (median, min-max of {args.repeats}; backend wall "
        f"{result.wall_time_s:.2f} s); torch forward (float32, same threads, warm) "
        f"{t_torch.fmt('ms', 1)}; wall torch / event {t_torch.median / t_event.median:.2f}x "
        f"(> 1: the event run is faster); "
        f"max |logit - torch| {diff:.2e}, same top-1: {same}; peak RSS {peak_rss_mb():.0f} MiB"
    )
    print(
        f"CPU seconds per call (process, all threads; median of {args.repeats}): event "
        f"{cpu_event * 1e3:.1f} ms, torch {cpu_torch * 1e3:.1f} ms; CPU torch / event "
        f"{cpu_torch / cpu_event:.2f}x (> 1: the event run is faster)"
    )
    # exactness check in float64: in float32, summation order alone moves some of the
    # ~1e6 pre-activations that lie within rounding error of a threshold across it
    with torch.no_grad():
        want64 = model.double()(x.double()).numpy()
    model.float()
    res64 = neuro.run(network, x.double().numpy(), backend="cpu", dtype="float64")
    diff64 = float(np.abs(res64.outputs - want64).max())
    rel = abs(res64.counts.synops - result.counts.synops) / max(res64.counts.synops, 1)
    print(
        f"float64 check: max |logit - torch| {diff64:.2e}; synops differ from the float32 "
        f"run by {rel:.1e} (relative; threshold crossings moved by rounding)"
    )
    if args.profile:
        profile_projections(network, xs)
    if args.dense:
        dense = DenseForward(network, np.float32)
        t_dense = timings(lambda: dense(xs), rounds=args.repeats, warmup=1)
        print(
            f"dense numpy forward (float32, same threads, warm): {t_dense.fmt('ms', 1)}; "
            f"peak RSS {peak_rss_mb():.0f} MiB"
        )

    c = result.counts
    red = c.reductions()
    hidden = [r for r in c.per_layer().values() if r["model"] == "fatrelu"]
    print(
        f"per sample: events {c.events / args.batch:.0f}, synops {c.synops / args.batch:.0f}, "
        f"activity-sparse MACs {c.activity_sparse_macs / args.batch:.0f}, "
        f"dense MACs {c.dense_macs / args.batch:.0f}"
    )
    print(
        f"mean FATReLU activity {np.mean([r['activity'] for r in hidden]):.3f}; reductions vs "
        f"dense: activity {red['activity']:.2f}x, both {red['both']:.2f}x; "
        f"synop rate {c.synops / t_event.median / 1e9:.2f} Gsynop/s (median run)"
    )
    limit.__exit__(None, None, None)
    print(f"load average before {load}, after {loadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
