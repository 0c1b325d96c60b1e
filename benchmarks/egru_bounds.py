"""What bounds the EvNN-size EGRU language model on the ``cpu`` backend: a profile.

For each batch size (parallel streams) it runs the model of ``egru_ptb_cpu.py``
(random weights, thresholds calibrated to ``--activity``) on ``--steps`` steps of
PTB test tokens and prints, per token:

* the time of the run, and of the same run with every threshold raised 10^6-fold
  (no EGRU events: gate math, decoder readout of the token's lookup row, set-up),
  so their difference is the time of the synaptic work;
* synops and the synaptic rate (Gsynop/s);
* the weight bytes fetched: every weight row active in at least one stream at a
  step is read once per step (rows shared by several streams are read once), so
  ``bytes/token = Σ_projections rows active in any stream × row bytes / streams``;
  with the time of the synaptic work this gives the memory rate the run sustains.

Compare that rate with the one-thread streaming read of ``throughput.py`` (a
reference rate, not a bound): at 10 streams most weights are fetched every step.
Each time is the median, with the min-max, of ``--repeats`` runs after an untimed
two-step warm-up run; figures come from random weights, not a trained model.

    python benchmarks/egru_bounds.py --data path/to/ptb [--batch 10,64] [--threads 2]
"""

from __future__ import annotations

import copy

import numpy as np
from _bench import ROUNDS, Timing, loadavg, parser
from egru_ptb_cpu import SIZES, calibrate, random_model

import neuro
from converters.egru import egru_lm_network
from neuro.data.ptb import batchify, load_ptb


def network(model: dict, threshold_scale: float = 1.0) -> neuro.Network:
    """The event network of ``model`` with its thresholds multiplied by ``threshold_scale``."""
    layers = copy.deepcopy(model["layers"])
    for la in layers:
        la["thr"] = la["thr"] * threshold_scale
    return egru_lm_network(
        model["embedding"], layers, model["decoder_weight"], None, tied=True, dtype="float32"
    )


def run_time(net, tokens, threads: int, record, repeats: int = ROUNDS):
    """(Timing of wall seconds over ``repeats`` runs, the last result).

    An untimed two-step run first loads the kernels.
    """
    neuro.run(net, tokens[:2], threads=threads, record=record)
    results = [neuro.run(net, tokens, threads=threads, record=record) for _ in range(repeats)]
    times = [r.wall_time_s for r in results]
    return Timing(float(np.median(times)), min(times), max(times)), results[-1]


def fetched_bytes(net, res, batch: int) -> float:
    """Weight bytes read per step: rows active in any stream × row bytes, summed."""
    total = 0.0
    for proj in net.projections.values():
        row_bytes = proj.weights.n_out * 4
        if proj.pre == "tokens":  # one lookup row per token
            total += batch * row_bytes
            continue
        active = res.recordings[proj.pre] != 0  # (T, B, n_pre)
        if proj.delay:
            active = active[: active.shape[0] - proj.delay]
        rows = active.any(axis=1).sum() / res.recordings[proj.pre].shape[0]
        total += rows * row_bytes
    return total


def main(argv=None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="PTB directory (default $NEURO_PTB_DIR)")
    p.add_argument("--batch", default="10,64", help="parallel streams, comma-separated")
    p.add_argument("--steps", type=int, default=200, help="steps per run")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--activity", type=float, default=0.15)
    p.add_argument("--repeats", type=int, default=ROUNDS, help="timed runs of each kind")
    args = p.parse_args(argv)
    load = loadavg()

    corpus = load_ptb(args.data)
    model = random_model(len(corpus.vocab), np.random.default_rng(0))
    acts = calibrate(model, batchify(corpus.valid[:400], 4), args.activity)
    print("calibrated activity per layer: " + ", ".join(f"{a:.3f}" for a in acts))
    active_net, silent_net = network(model), network(model, 1e6)
    record = [f"egru{k}" for k in range(len(SIZES))]
    for batch in (int(b) for b in args.batch.split(",")):
        tokens = batchify(corpus.test[: batch * args.steps], batch)
        n_tok = tokens.size
        t_all_t, res = run_time(active_net, tokens, args.threads, record, args.repeats)
        t_silent_t, _ = run_time(silent_net, tokens, args.threads, record, args.repeats)
        t_all, t_silent = t_all_t.median, t_silent_t.median
        t_syn = max(t_all - t_silent, 1e-9)
        synops = res.counts.synops / n_tok
        per_token = fetched_bytes(active_net, res, batch) / batch
        print(
            f"batch {batch:4d}: {t_all_t.scale(1 / n_tok).fmt('us', 0)}/token "
            f"({n_tok / t_all:5.0f} tokens/s); without events {t_silent / n_tok * 1e6:5.0f} "
            f"us/token; synaptic work {t_syn / n_tok * 1e6:5.0f} us/token, "
            f"{synops / 1e6:.2f} M synops/token = {res.counts.synops / t_syn / 1e9:5.2f} "
            f"Gsynop/s; weights fetched {per_token / 1e6:5.2f} MB/token = "
            f"{per_token * n_tok / t_syn / 1e9:5.1f} GB/s (medians)"
        )
    print(f"load average before {load}, after {loadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
