"""A batch of CNN inferences on a Dask cluster: 2 workers vs 1, and the cost of a task.

The network is a FATReLU CNN converted from torch (28x28 input; convolutions with 16, 32
and 32 channels, the last two with stride 2; a 10-way linear readout; random weights,
thresholds that leave about a third of the units active).  Measured in one run, on one
``LocalCluster`` of two single-threaded worker processes (timed runs alternate, so both
sides see the same machine load):

* the wall time of the call a user makes, ``neuro.run(net, x, client=client, tasks=k)``
  (the network's copy on the workers, the tasks, gathering and merging), median
  (min-max) of ``--repeats``, with the batch as one task (one worker computes, the
  other idles) and as two tasks (both compute); the ratio is the speedup (target
  >= 1.7x on 2 cores).  Both sides run on the same workers, warm (each holds the
  network with its compiled program before timing; checked), through the same
  scheduler: a second, idle cluster would take CPU from the two-worker runs only;
* where the median call's time goes, from the scheduler's task stream: to the first
  task's start (validating and cutting the batch, sending the inputs), each task's
  seconds inside ``neuro.run`` and its CPU seconds, and from the last task's end
  (results back, merging);
* the CPU seconds of the worker processes during their tasks: the 1-worker task's over
  the slower 2-worker task's is the speedup two idle cores would give (it does not
  depend on what else runs on the machine);
* the same batch in this process (``neuro.run``, one thread) and the torch forward
  (one thread), for scale;
* the overhead per task, on a cluster of one worker: a tiny network's batch of
  ``--tasks`` samples cut into one task per sample, minus the same batch as one task,
  per extra task; and an empty Dask task's round trip.

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


def compiled_programs() -> int:
    """On a worker: compiled programs held by the networks shipped to it."""
    from neuro.distributed.cluster import _RESIDENT

    return sum(len(net.__dict__.get("_neuro_programs") or ()) for net in _RESIDENT.values())


def timed_call(client, fn) -> dict:
    """Wall time of ``fn()`` and where it went, from the scheduler's task stream.

    Returns the call's wall seconds; the seconds from its start to the first task's
    start and from the last task's end to its return (the worker clocks are this
    machine's); each task's seconds inside ``neuro.run`` and its CPU seconds.
    """
    from distributed import get_task_stream

    with get_task_stream(client) as stream:
        start, t0 = time.time(), time.perf_counter()
        res = fn()
        wall, end = time.perf_counter() - t0, time.time()
    spans = [
        (s["start"], s["stop"])
        for task in stream.data
        for s in task["startstops"]
        if s["action"] == "compute"
    ]
    info = res.info["distributed"]
    return {
        "wall": wall,
        "before": min(a for a, _ in spans) - start,
        "after": end - max(b for _, b in spans),
        "task_wall": info["task_wall_time_s"],
        "cpu": info["task_cpu_time_s"],
    }


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
    p.add_argument(
        "--parts", type=int, default=2, help="tasks the batch is cut into on 2 workers (default 2)"
    )
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
    with LocalCluster(n_workers=2, **kw) as cluster, Client(cluster) as client:
        client.wait_for_workers(2)
        tasks = {"one": 1, "two": args.parts}
        for n_tasks in tasks.values():  # outputs and counts equal the local run's
            res = neuro.run(net, x, client=client, tasks=n_tasks)
            np.testing.assert_array_equal(res.outputs, local.outputs)
            assert res.counts == local.counts
            assert res.info["threads"] == 1  # one numba thread per single-threaded worker
        # warm: both workers hold the network with its compiled program
        compiled = client.run(compiled_programs)
        assert len(compiled) == 2 and all(n >= 1 for n in compiled.values()), compiled
        calls = {"one": [], "two": []}

        def on(key):
            def call():
                calls[key].append(
                    timed_call(client, lambda: neuro.run(net, x, client=client, tasks=tasks[key]))
                )

            return call

        rounds = alternate(
            {
                "local": lambda: neuro.run(net, x, threads=1),
                "one": on("one"),
                "two": on("two"),
                "torch": torch_forward,
            },
            args.repeats,
        )
        for key in ("one", "two"):  # the call's own clock, not alternate's (task stream set-up)
            calls[key] = calls[key][1:]  # the untimed first call
            rounds[key] = [c["wall"] for c in calls[key]]
    t = {k: float(np.median(v)) for k, v in rounds.items()}
    with LocalCluster(n_workers=1, **kw) as cluster, Client(cluster) as one:
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
    mid = {k: calls[k][median_round(rounds[k])] for k in ("one", "two")}
    cpu_one = float(np.median([sum(c["cpu"]) for c in calls["one"]]))
    cpu_two = mid["two"]["cpu"]
    task_s = mid["two"]["task_wall"]
    spread = {k: f"{min(v):.3f}-{max(v):.3f}" for k, v in rounds.items()}
    load = f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"

    def anatomy(c):
        tasks_text = ", ".join(
            f"{w:.3f} s ({cpu:.3f} CPU-s)" for w, cpu in zip(c["task_wall"], c["cpu"])
        )
        return (
            f"{c['wall']:.3f} s = {c['before'] * 1e3:.0f} ms to the first task's start, "
            f"task{'s' if len(c['cpu']) > 1 else ''} {tasks_text}, "
            f"{c['after'] * 1e3:.0f} ms from the last task's end"
        )

    rows = [
        row(
            f"CNN batch of {n} (28x28, activity {activity:.2f}), 2 Dask workers vs 1",
            ">= 1.7x",
            f"{speedup:.2f}x (1 worker {t['one']:.3f} s ({spread['one']}), 2 workers "
            f"{t['two']:.3f} s ({spread['two']}), their {len(task_s)} "
            f"tasks {', '.join(f'{w:.3f}' for w in task_s)} s; {load} on {os.cpu_count()} cores)",
            speedup >= 1.7,
        ),
        row(
            f"CNN batch of {n}: CPU seconds of the 1-worker task / of the slower 2-worker task",
            "(informative: the speedup of idle cores)",
            f"{cpu_one / max(cpu_two):.2f}x ({cpu_one:.3f} s vs "
            f"{', '.join(f'{c:.3f}' for c in cpu_two)} s; the parts split the work evenly "
            "whatever the load)",
            None,
        ),
        row(
            f"CNN batch of {n}: where the median call's wall time goes",
            "(informative)",
            f"1 worker: {anatomy(mid['one'])}; 2 workers: {anatomy(mid['two'])}",
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
            "Wall times are of the whole call (inputs in the tasks, outputs gathered and "
            "merged; the network's copy on the workers reused), median (min-max) of the "
            "repeats, the 1- and 2-worker calls interleaved on one cluster of two workers "
            "(the batch as one task, or as two), both warm. With other processes on the "
            "machine the two workers share the cores with them; on idle cores the CPU-time "
            "ratio is the speedup to expect.",
        ]
        write_section(Path(args.results), rows, extra)


if __name__ == "__main__":
    main()
