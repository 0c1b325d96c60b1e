"""Run every benchmark of the CPU engine and write ``benchmarks/RESULTS.md``.

Each script runs in its own process (so thread settings and memory peaks do not
leak between them) with ``--json``, and its rows (benchmark, target, measured,
met) land side by side in one table, with the machine described above it.
Scripts of other parts of the project (``lava_vs_cpu.py``, ``egru_ptb_cpu.py``) are
included when present and when they follow the same contract: a ``--json PATH``
option that writes a list of such rows (``_bench.row`` and ``_bench.write_rows``
make them); ``--skip-others`` leaves them out.  lava-nc needs Python 3.10: set
``NEURO_LAVA_PYTHON`` to the interpreter of an environment with ``neuro[lava]``
installed to include the Lava comparison.
The defaults take a few minutes on an idle 2-core machine; ``--full-scale`` adds
the 1M-unit / 500M-synapse run (about 3 GB of memory).

Usage::

    python benchmarks/run_all.py [--full-scale] [--only throughput fixed_cost ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from _bench import machine

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    ("throughput", []),
    ("fatrelu_layer", []),
    ("per_call", []),
    ("fixed_cost", []),
    ("vs_brian2", []),
    ("scale", []),
    ("memory_flat", []),
    ("lava_vs_cpu", []),
    ("egru_ptb_cpu", ["--tokens", "20000"]),  # 5 runs of each path within the timeout
]
OPTIONAL = {"lava_vs_cpu", "egru_ptb_cpu"}
INTERPRETER_ENV = {"lava_vs_cpu": "NEURO_LAVA_PYTHON"}
TIMEOUT_S = 900

NOTES = """\
## Notes

* Every ratio is measured in the same run (engine and baseline side by side).  Rows
  marked "per call" time the call a user makes (``program.run(x)`` of a compiled
  program, or ``neuro.run``, set-up included) beside numpy and PyTorch, median
  (min-max) over repeated rounds; the other engine times are per step, (run of T steps
  - run of 1 step) / (T - 1), which leaves the per-call overhead out.  Single-core rows limit
  numba and BLAS to one thread each (threadpoolctl); two-thread rows use numba's
  pool only.
* Bounds: a single-sample dense layer streams one fan-out row (4 bytes per synaptic
  op) per event from DRAM, so its throughput is limited by the memory bandwidth one
  core can draw (estimated at about 18-20 GB/s, i.e. about 5 Gsynop/s; not measured
  here); dense ``W @ x`` is bound by the
  same bandwidth reading all of W, which caps the speedup near 1/p.  Every step also
  does O(units) work whatever the activity (input scan, bias copy, threshold scan:
  the "step without events" time printed next to the speedups); at p = 1 % it is a
  sizeable part of the step and bounds the speedup at t_dense / (t_fixed + p t_rows),
  where t_rows is the time to stream all of W once.  Cache-resident
  layers are bound by the load/add/store rate of the port vector, which the kernel
  amortises over four events per pass.  On a shared machine (load average above the
  core count) other processes take both CPU time and memory bandwidth: rows then
  undercount the engine, and two-thread rows in particular measure contention.
* Batches run in lockstep when their weights exceed the cache: each projection's
  events of every sample are delivered before the next projection, and matrices
  larger than 8 MB column block by column block, so a row segment fetched from DRAM
  serves every sample active on that unit.  The EGRU language model (31.7M weights,
  127 MB) is bound by how often a row is fetched: with 128 (64) streams a fetched
  row serves about 19 (10) tokens; with 10 streams about 80 % of the rows are active
  in some stream at every step, so the run fetches most of the weights once per 10
  tokens (about 9 MB per token).  Its timings leave out a first two-step run (kernel
  loading).  ``python benchmarks/egru_bounds.py`` profiles it: time without events,
  synaptic rate, and the weight bytes fetched per token and per second.
* Method: every figure is the median, with the min-max in
  parentheses, of 5 timed rounds after an untimed warm-up; every baseline (numpy,
  torch, Brian2, lava-nc, dense numpy) gets the same warm-up, precision, thread count
  and number of rounds as the engine; ratios are of medians, and a row is met only
  if its median meets the target.  Each script records the load average before and
  after its measurements.  The one-thread streaming read of the weights printed by
  `throughput.py` is a reference rate, not a bound (the engine can exceed it).  The
  lava-nc and Brian2 headline ratios compare float64 with float64; Brian2's time
  includes drawing its Poisson input every step, neuro's inputs are drawn before the
  run.  The EGRU language-model rows come from random weights tuned to ~15 %
  activity, not a trained model (no trained model's run is recorded yet); its dense
  baseline now gets the same tokens, warm-up and a pre-fused token table.
* Memory bandwidth on this shared machine varies from run to run by about 10-20 %
  (the streaming-read reference in the throughput row shows it); rows near their target
  can land on either side of it in different runs.
"""


def run_script(name: str, extra: list[str]) -> tuple[list[dict], float, str]:
    """Run one benchmark script; returns (rows, seconds, error text)."""
    path = HERE / f"{name}.py"
    python = os.environ.get(INTERPRETER_ENV.get(name, ""), sys.executable)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        try:
            proc = subprocess.run(
                [python, str(path), "--json", str(out), *extra],
                cwd=HERE,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
                env={**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE)])},
            )
        except subprocess.TimeoutExpired:
            return [], time.perf_counter() - start, f"timed out after {TIMEOUT_S} s"
        print(proc.stdout, end="")
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            why = " / ".join(ln.strip() for ln in tail) or f"exit {proc.returncode}"
            return [], time.perf_counter() - start, why.replace(f"{HERE.parent}{os.sep}", "")
        return json.loads(out.read_text()), time.perf_counter() - start, ""


def render(rows, failures, info, load_after, elapsed) -> str:
    """The RESULTS.md text."""
    lines = [
        "# Benchmark results: the `cpu` event engine",
        "",
        f"Written by `python benchmarks/run_all.py` on "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC in {elapsed:.0f} s.",
        "",
        "## Machine",
        "",
    ]
    info = dict(info)
    info["load average after the run"] = load_after
    lines += [f"- {k}: {v}" for k, v in info.items()]
    lines += ["", "## Targets and measured values", ""]
    lines += ["| benchmark | target | measured | met |", "|---|---|---|---|"]
    for r in rows:
        met = {True: "yes", False: "**no**", None: "–"}[r.get("met")]
        lines.append(f"| {r['benchmark']} | {r['target']} | {r['measured']} | {met} |")
    if failures:
        lines += ["", "## Scripts that did not finish", ""]
        lines += [f"- `{name}.py`: {why}" for name, why in failures]
    return "\n".join(lines) + "\n\n" + NOTES


OWN_SECTIONS = (
    "## Machine",
    "## Targets and measured values",
    "## Scripts that did not finish",
    "## Notes",
)


def other_sections(text: str) -> str:
    """The sections of an earlier RESULTS.md that this script does not write (those of
    other benchmarks, with their own commands), kept in their order."""
    kept, keep = [], False
    for line in text.splitlines():
        if line.startswith("## "):
            keep = not line.startswith(OWN_SECTIONS)
        if keep:
            kept.append(line)
    return "\n".join(kept).strip("\n") + "\n" if kept else ""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--full-scale", action="store_true", help="run scale.py --full")
    p.add_argument("--only", nargs="+", help="run only these scripts (names without .py)")
    p.add_argument("--skip-others", action="store_true", help="only this engine's scripts")
    p.add_argument("--output", default=str(HERE / "RESULTS.md"))
    args = p.parse_args(argv)
    info = machine()
    start = time.perf_counter()
    rows, failures = [], []
    for name, extra in SCRIPTS:
        if args.only and name not in args.only:
            continue
        if name in OPTIONAL:
            path = HERE / f"{name}.py"
            if args.skip_others or not path.exists():
                continue
            if "--json" not in path.read_text():
                failures.append((name, "not collected: the script has no --json PATH option"))
                continue
        if name == "scale" and args.full_scale:
            extra = [*extra, "--full"]
        print(f"== {name}", flush=True)
        got, seconds, error = run_script(name, extra)
        print(f"   ({seconds:.0f} s)", flush=True)
        rows += got
        if error:
            failures.append((name, error))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    text = render(rows, failures, info, load, time.perf_counter() - start)
    out = Path(args.output)
    kept = other_sections(out.read_text()) if out.exists() else ""
    out.write_text(text + ("\n" + kept if kept else ""))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
