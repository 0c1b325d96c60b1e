"""A batch of CNN inferences on a Dask cluster: 2 workers vs 1, and the cost of a task.

The network is a FATReLU CNN converted from torch (28x28 input; convolutions with 16, 32
and 32 channels, the last two with stride 2; a 10-way linear readout; random weights,
thresholds that leave about a third of the units active).  Measured in one run, on
``LocalCluster`` s of one and of two single-threaded worker processes started side by
side (timed runs alternate between them, so both see the same machine load):

* the wall time of the call a user makes, ``neuro.run(net, x, client=client)``
  (sending the network, the tasks, gathering and merging), median (min-max) of ``--repeats``;
  the ratio 1 worker / 2 workers is the speedup (target >= 1.7x on 2 cores);
* the CPU seconds of the worker processes during their tasks: the 1-worker task's over
  the slower 2-worker task's is the speedup two idle cores would give (it does not
  depend on what else runs on the machine);
* the same batch in this process (``neuro.run``, one thread) and the torch forward
  (one thread), for scale;
* the overhead per task: a tiny network's batch of ``--tasks`` samples cut into one
  task per sample, minus the same batch as one task, per extra task; and an empty Dask
  task's round trip.

Outputs and counts of the distributed runs are checked against the local run.  The load
average before and after is printed: on a shared machine other processes take cores, and
the speedup then measures contention as much as the cluster.

Usage::

    python benchmarks/distributed_batches.py [--batch 2048] [--repeats 5] [--json rows.json]
        [--results benchmarks/RESULTS.md]

``--results`` writes the rows as the section "Distributed batches (Dask)" of that file
(replacing an earlier one), so the script can be re-run.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
from _bench import machine, parser, row, write_rows

SECTION = "## Distributed batches (Dask)"


def torch_cnn(seed: int = 0):
    """The benchmark CNN in torch (float32) with FATReLU thresholds."""
    import torch
    from torch import nn

    from neuro.torch import FATReLU

    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        FATReLU(0.25),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        FATReLU(0.1),
        nn.Conv2d(32, 32, 3, stride=2, padding=1),
        FATReLU(0.05),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10),
    ).eval()


def tiny_mlp():
    """A 16-32-4 network: a task's compute is negligible next to its overhead."""
    import neuro

    rng = np.random.default_rng(0)
    net = neuro.Network(name="tiny")
    net.add_population("x", (16,), neuro.Input())
    net.add_population("h", (32,), neuro.FATReLU(threshold=0.1))
    net.add_population("y", (4,), neuro.Readout())
    net.connect("x", "h", neuro.Dense(rng.normal(size=(16, 32))))
    net.connect("h", "y", neuro.Dense(rng.normal(size=(32, 4))))
    return net


def median_time(fn, repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``fn`` (after one untimed call)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def alternate(fns: dict, repeats: int) -> dict:
    """Wall times of each function's calls, interleaved so all see the same load."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - start)
    return times


def median_round(times: list) -> int:
    """Index of the median of ``times`` (the lower one for an even count)."""
    order = np.argsort(times)
    return int(order[(len(times) - 1) // 2])


def write_section(path: Path, rows: list[dict], extra: list[str]) -> None:
    """Replace (or add) this benchmark's section at the end of ``path``."""
    text = path.read_text() if path.exists() else ""
    head, _, tail = text.partition(SECTION)
    rest = ""
    if tail:
        nxt = tail.find("\n## ")
        rest = tail[nxt + 1 :] if nxt >= 0 else ""
    lines = [SECTION, "", "| benchmark | target | measured | met |", "|---|---|---|---|"]
    for r in rows:
        met = {True: "yes", False: "**no**", None: "–"}[r["met"]]
        lines.append(f"| {r['benchmark']} | {r['target']} | {r['measured']} | {met} |")
    lines += ["", *extra, ""]
    body = head.rstrip("\n") + "\n\n" + "\n".join(lines)
    path.write_text(body + ("\n" + rest if rest else ""))


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=2048, help="CNN samples per run")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--tasks", type=int, default=200, help="tasks of the overhead run")
    p.add_argument("--results", default=None, help="RESULTS.md to update")
    args = p.parse_args()

    import torch
    from distributed import Client, LocalCluster

    import neuro
    from converters import convert

    torch.set_num_threads(1)
    load_before = os.getloadavg()
    model = torch_cnn()
    x = np.random.default_rng(1).random((args.batch, 1, 28, 28)).astype(np.float32)
    net = convert(model, example_input=x[:2])
    local = neuro.run(net, x, threads=1)
    layers = local.counts.per_layer().values()
    activity = np.mean([r["activity"] for r in layers if r["model"] == "fatrelu"])
    xt = torch.from_numpy(x)

    def torch_forward():
        with torch.no_grad():
            model(xt)

    kw = {"processes": True, "threads_per_worker": 1, "dashboard_address": ":0"}
    kw["silence_logs"] = logging.ERROR
    with (
        LocalCluster(n_workers=1, **kw) as c1,
        LocalCluster(n_workers=2, **kw) as c2,
        Client(c1) as one,
        Client(c2) as two,
    ):
        two.wait_for_workers(2)
        for client in (one, two):  # outputs and counts equal the local run's
            res = neuro.run(net, x, client=client)
            np.testing.assert_array_equal(res.outputs, local.outputs)
            assert res.counts == local.counts
        parts, cpu = [], {"one": [], "two": []}

        def on_one():
            cpu["one"].append(neuro.run(net, x, client=one).info["distributed"]["task_cpu_time_s"])

        def on_two():
            info = neuro.run(net, x, client=two).info["distributed"]
            parts.append(info["task_wall_time_s"])
            cpu["two"].append(info["task_cpu_time_s"])

        rounds = alternate(
            {
                "local": lambda: neuro.run(net, x, threads=1),
                "one": on_one,
                "two": on_two,
                "torch": torch_forward,
            },
            args.repeats,
        )
        t = {k: float(np.median(v)) for k, v in rounds.items()}
        tiny = tiny_mlp()
        xs = np.random.default_rng(2).random((args.tasks, 16))
        over_rounds = alternate(
            {
                "many": lambda: neuro.run(tiny, xs, client=one, tasks=args.tasks),
                "single": lambda: neuro.run(tiny, xs, client=one, tasks=1),
            },
            max(2, args.repeats // 2),
        )
        over = {k: float(np.median(v)) for k, v in over_rounds.items()}

        def empty_tasks():
            one.gather([one.submit(int, i, pure=False) for i in range(args.tasks)])

        t_empty = median_time(empty_tasks, max(2, args.repeats // 2)) / args.tasks
    load_after = os.getloadavg()

    per_task = (over["many"] - over["single"]) / (args.tasks - 1)
    speedup = t["one"] / t["two"]
    n = args.batch
    # the parts of the median two-worker call (the untimed first call is not recorded)
    mid = median_round(rounds["two"])
    task_s = parts[1:][mid]
    cpu_one = float(np.median([sum(c) for c in cpu["one"][1:]]))
    cpu_two = cpu["two"][1:][mid]
    spread = {k: f"{min(v):.3f}-{max(v):.3f}" for k, v in rounds.items()}
    load = f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
    rows = [
        row(
            f"CNN batch of {n} (28x28, activity {activity:.2f}), 2 Dask workers vs 1",
            ">= 1.7x",
            f"{speedup:.2f}x (1 worker {t['one']:.3f} s ({spread['one']}), 2 workers "
            f"{t['two']:.3f} s ({spread['two']}), their "
            f"tasks {task_s[0]:.3f} s and {task_s[1]:.3f} s; {load} on {os.cpu_count()} cores)",
            speedup >= 1.7,
        ),
        row(
            f"CNN batch of {n}: CPU seconds of the 1-worker task / of the slower 2-worker task",
            "(informative: the speedup of idle cores)",
            f"{cpu_one / max(cpu_two):.2f}x ({cpu_one:.3f} s vs {cpu_two[0]:.3f} s and "
            f"{cpu_two[1]:.3f} s; the parts split the work evenly whatever the load)",
            None,
        ),
        row(
            f"CNN batch of {n}: in-process neuro.run (1 thread) and torch (1 thread)",
            "(informative)",
            f"neuro.run {t['local']:.3f} s, torch {t['torch']:.3f} s; 2 workers "
            f"{t['local'] / t['two']:.2f}x the in-process run",
            None,
        ),
        row(
            "overhead per task (tiny network, 1 worker)",
            "(informative)",
            f"{per_task * 1e3:.2f} ms per extra neuro-run task ({args.tasks} tasks "
            f"{over['many']:.3f} s vs 1 task {over['single']:.3f} s); empty Dask task "
            f"{t_empty * 1e3:.2f} ms",
            None,
        ),
    ]
    print("machine:", machine())
    write_rows(args.json, rows)
    if args.results:
        m = machine()
        extra = [
            f"Measured with `python benchmarks/distributed_batches.py --batch {n} --repeats "
            f"{args.repeats} --tasks {args.tasks} --results benchmarks/RESULTS.md` on "
            f"{m['cpu']} ({m['cores']} cores), "
            f"{load}; Python {m['python']}, numpy {m['numpy']}, numba {m['numba']}.",
            "Wall times are of the whole call (the network sent to the workers, inputs in "
            "the tasks, outputs gathered and merged), median (min-max) of the repeats, the 1- and "
            "2-worker calls interleaved. With other processes on the machine the two workers "
            "share the cores with them; on idle cores the CPU-time ratio is the speedup to expect.",
        ]
        write_section(Path(args.results), rows, extra)


if __name__ == "__main__":
    main()
