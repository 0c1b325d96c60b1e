"""EvNN-size EGRU language model, event-driven over the PTB test set on the CPU backend.

Model: 3 EGRU layers 1350 / 1350 / 750, embedding 750, decoder tied to the embedding,
vocabulary 10,000 (the layout of EvNN's PTB benchmark, Mukherji et al. 2023), about
31.7M parameters.  Weights are random (Xavier-normal kernels, embedding uniform in
±0.1) and each layer's threshold is calibrated on a short prefix so that the layer
sends on about ``--activity`` of its units per token; or a trained checkpoint is used
(``--checkpoint``).

With random weights the figures are those of a model tuned to the target activity,
not of a trained model: a trained model's activity, and so its speed, differs.

Prints, per batch size (parallel streams; the test set is split into that many
streams, as language-model evaluations do), event-driven tokens/s, per-token synops
per projection, and the speed ratio to a dense numpy evaluation of the same model at
the same batch size measured in the same run.  Both paths get the same treatment:
the same tokens (``--tokens``), precision (``--dtype``), threads (``--threads``:
numba for the engine, BLAS for numpy), one untimed two-token warm-up run, and
``--repeats`` timed runs (median with min-max; the ratio is of medians).  Both
compute the log-probability of every next token (the perplexity is printed for
each, and must agree).  Set-up is outside the timed region on both sides: the
network (with its token→gates table) is built once, and the dense path's arrays
are converted to ``--dtype`` and its embedding × first-layer kernel is fused into
the same token→gates table once, before timing.  More streams share each weight
row read from memory among more tokens: at batch 10 about 80 % of the rows are
active in some stream every step, so the run streams most of the weights from DRAM
once per 10 tokens.

    python benchmarks/egru_ptb_cpu.py --data path/to/ptb
"""

from __future__ import annotations

import argparse

import numpy as np

from converters.egru import egru_lm_network, run_language_model
from neuro.apps.lm.report import lm_report
from neuro.data.ptb import batchify, load_ptb
from neuro.models.egru import egru_gates

SIZES = (1350, 1350, 750)
EMBED = 750


def random_model(vocab: int, rng) -> dict:
    """Random arrays in the layout of :func:`egru_lm_network` (thresholds set later)."""
    emb = rng.uniform(-0.1, 0.1, size=(vocab, EMBED))
    layers, n_in = [], EMBED
    for h in SIZES:
        std_k = np.sqrt(2.0 / (n_in + 3 * h))
        std_r = np.sqrt(2.0 / (h + 3 * h))
        layers.append(
            {
                "kernel": rng.normal(0, std_k, size=(n_in, 3 * h)),
                "recurrent_kernel": rng.normal(0, std_r, size=(h, 3 * h)),
                "bias": np.zeros(3 * h),
                "recurrent_bias": np.zeros(3 * h),
                "thr": np.zeros(h),
            }
        )
        n_in = h
    return {"embedding": emb, "layers": layers, "decoder_weight": emb, "decoder_bias": None}


def prepare_dense(model: dict, dtype=np.float32) -> dict:
    """The dense path's arrays in ``dtype``, with the first layer's input drive fused.

    ``table[v] = embedding[v] @ kernel_0 + bias_0``: a token's first-layer input drive is
    one row lookup, as in the event network's token→gates table.  Built once, outside
    any timed region.
    """
    layers = [{k: np.ascontiguousarray(v, dtype) for k, v in la.items()} for la in model["layers"]]
    table = (model["embedding"] @ model["layers"][0]["kernel"] + model["layers"][0]["bias"]).astype(
        dtype
    )
    bias = model["decoder_bias"]
    return {
        "dtype": np.dtype(dtype),
        "table": table,
        "layers": layers,
        "decoder": np.ascontiguousarray(model["decoder_weight"].T, dtype),
        "decoder_bias": None if bias is None else bias.astype(dtype),
    }


def dense_run(dense: dict, tokens: np.ndarray, targets: bool = True):
    """Dense numpy evaluation: every weight times every input, every token.

    Parameters
    ----------
    dense : dict
        From :func:`prepare_dense`.
    tokens : ndarray of int, shape (T, B)
    targets : bool
        Accumulate the negative log-likelihood of each next token (as the event path
        does with ``targets=True``).

    Returns
    -------
    perplexity : float
        Over the (T - 1) * B next-token predictions (nan without targets or for T = 1).
    activity : list of float
        Fraction of non-zero y per layer.
    """
    dtype = dense["dtype"].type
    layers = dense["layers"]
    batch = tokens.shape[1]
    ys = [np.zeros((batch, la["thr"].size), dtype) for la in layers]
    cs = [np.zeros_like(y) for y in ys]
    active = np.zeros(len(layers))
    nll, n_pred, rows = 0.0, 0, np.arange(batch)
    for t in range(tokens.shape[0]):
        x = None
        for k, la in enumerate(layers):
            a = dense["table"][tokens[t]] if k == 0 else x @ la["kernel"] + la["bias"]
            q = ys[k] @ la["recurrent_kernel"] + la["recurrent_bias"]
            ys[k], cs[k] = egru_gates(a, q, cs[k], la["thr"])
            ys[k], cs[k] = ys[k].astype(dtype, copy=False), cs[k].astype(dtype, copy=False)
            active[k] += np.count_nonzero(ys[k]) / ys[k].size
            x = ys[k]
        logits = x @ dense["decoder"]
        if dense["decoder_bias"] is not None:
            logits += dense["decoder_bias"]
        if targets and t + 1 < tokens.shape[0]:
            m = logits.max(axis=1)
            lse = np.log(np.exp(logits - m[:, None]).sum(axis=1)) + m
            nll -= float(np.sum(logits[rows, tokens[t + 1]] - lse, dtype=np.float64))
            n_pred += batch
    ppl = float(np.exp(nll / n_pred)) if n_pred else float("nan")
    return ppl, list(active / tokens.shape[0])


def calibrate(model: dict, tokens: np.ndarray, target: float, rounds: int = 9) -> list:
    """Per layer (in order), bisect one shared threshold to reach ``target`` activity.

    Runs the dense path in float32 (prepared once; only the thresholds change).
    """
    dense = prepare_dense(model, np.float32)
    for k, la in enumerate(model["layers"]):
        lo, hi = -5.0, 0.0  # log10 of the threshold
        for i in range(rounds + 1):
            mid = 0.5 * (lo + hi)
            la["thr"] = np.full(la["thr"].size, 10.0**mid)
            dense["layers"][k]["thr"] = la["thr"].astype(np.float32)
            if i == rounds:
                break
            act = dense_run(dense, tokens, targets=False)[1][k]
            lo, hi = (mid, hi) if act > target else (lo, mid)
    return dense_run(dense, tokens, targets=False)[1]


def from_checkpoint(path) -> dict:
    """Arrays of a trained checkpoint (``neuro train-lm``)."""
    from neuro.apps.lm import load_checkpoint

    lm, _ = load_checkpoint(path)

    def arr(t):
        return t.detach().double().numpy()

    return {
        "embedding": arr(lm.embedding.weight),
        "layers": [
            {
                k: arr(getattr(la, k))
                for k in ("kernel", "recurrent_kernel", "bias", "recurrent_bias", "thr")
            }
            for la in lm.layers
        ],
        "decoder_weight": arr(lm.decoder.weight),
        "decoder_bias": arr(lm.decoder.bias),
    }


def event_driven(net, tokens, threads: int, dtype: str, repeats: int):
    """Run the (T, B) token streams ``repeats`` times; returns (last result, Timing of seconds).

    An untimed two-token run first loads the compiled kernels (the same warm-up as
    :func:`dense_numpy`).
    """
    from _bench import timings

    opts = dict(backend="cpu", dtype=dtype, threads=threads, targets=True, keep_outputs=False)
    run_language_model(net, tokens[:2], **opts)
    out = {}

    def run():
        out["res"] = run_language_model(net, tokens, **opts)

    t = timings(run, rounds=repeats, warmup=0)
    return out["res"], t


def dense_numpy(dense: dict, tokens, threads: int, repeats: int):
    """Dense path on the same (T, B) tokens; returns (perplexity, Timing of seconds).

    BLAS on ``threads``; an untimed two-token run first, as on the event path.
    """
    from _bench import blas_threads, timings

    out = {}
    with blas_threads(threads):
        dense_run(dense, tokens[:2])

        def run():
            out["ppl"] = dense_run(dense, tokens)[0]

        t = timings(run, rounds=repeats, warmup=0)
    return out["ppl"], t


def print_counts(res, net, n_tok: int) -> dict:
    """Per-projection events and synops per token; returns the LM report totals."""
    c = res.counts
    print(f"{'projection':<18} {'events/tok':>10} {'synops/tok':>12} {'dense MACs/tok':>15}")
    for name, p in c.projections.items():
        print(
            f"{name:<18} {p.events_in / n_tok:10.1f} {p.synops / n_tok:12.0f} "
            f"{p.dense_macs / n_tok:15.0f}"
        )
    for name in net.metadata["egru_layers"]:
        print(f"activity {name}: {c.per_layer()[name]['activity']:.4f}")
    rep = lm_report(res)  # token-input projections counted as lookups (see lm_report)
    tot, red = rep["totals"], rep["reductions"]
    print(
        f"per token: synops {tot['synops']:,.0f}, dense MACs {tot['dense_macs']:,.0f} "
        f"(embedding as a lookup); reductions: weight {red['weight']:.2f}x, "
        f"activity {red['activity']:.2f}x, both {red['both']:.2f}x"
    )
    return tot


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="PTB directory (default $NEURO_PTB_DIR)")
    parser.add_argument("--checkpoint", default=None, help="trained checkpoint instead")
    parser.add_argument("--tokens", type=int, default=None, help="test tokens (default all)")
    parser.add_argument(
        "--batch", default="128,64,10", help="parallel streams, comma-separated (one run each)"
    )
    parser.add_argument("--activity", type=float, default=0.15, help="target activity")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each path")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--threads", type=int, default=2, help="threads (engine and BLAS)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="write the result rows to this file")
    args = parser.parse_args(argv)

    corpus = load_ptb(args.data)
    ids = corpus.test[: args.tokens]
    rng = np.random.default_rng(args.seed)
    if args.checkpoint:
        model = from_checkpoint(args.checkpoint)
        print(f"trained checkpoint {args.checkpoint}")
    else:
        model = random_model(len(corpus.vocab), rng)
        acts = calibrate(model, batchify(corpus.valid[:400], 4), args.activity)
        print(
            "random weights; calibrated activity per layer (valid prefix): "
            + ", ".join(f"{a:.3f}" for a in acts)
        )
    n_params = model["embedding"].size + sum(
        sum(v.size for v in la.values()) for la in model["layers"]
    )
    print(f"parameters: {n_params / 1e6:.2f}M (decoder tied to the embedding)")
    net = egru_lm_network(
        model["embedding"],
        model["layers"],
        model["decoder_weight"],
        model["decoder_bias"],
        fuse_embedding=True,
        tied=args.checkpoint is None,
        dtype=args.dtype,
    )
    from _bench import loadavg, row, write_rows

    load = loadavg()
    dense = prepare_dense(model, np.dtype(args.dtype).type)  # converted and fused, untimed
    weights = (
        "trained weights"
        if args.checkpoint
        else (f"random weights tuned to {args.activity:.0%} activity, not a trained model")
    )
    rows = []
    for batch in (int(b) for b in args.batch.split(",")):
        tokens = batchify(ids, batch)
        n_tok = tokens.size
        res, event_t = event_driven(net, tokens, args.threads, args.dtype, args.repeats)
        rate = event_t.rate(n_tok)
        print(
            f"\nevent-driven (cpu, {args.dtype}, {args.threads} threads, schedule "
            f"{res.info['backend']['schedule']}): {n_tok} tokens in {event_t.fmt('s', 2)} = "
            f"{rate.fmt('tokens/s', 0)} (batch {batch}, {args.repeats} runs); perplexity "
            f"{res.info['perplexity']:.2f}"
        )
        tot = print_counts(res, net, n_tok)
        ppl, dense_t = dense_numpy(dense, tokens, args.threads, args.repeats)
        dense_rate = dense_t.rate(n_tok)
        ratio = rate.median / dense_rate.median
        print(
            f"dense numpy ({args.dtype}, batch {batch}, {args.threads} BLAS threads, same "
            f"{n_tok} tokens): {dense_t.fmt('s', 2)} = {dense_rate.fmt('tokens/s', 0)}; "
            f"perplexity {ppl:.2f}; event-driven / dense: {ratio:.2f}x (medians)"
        )
        rows += [
            row(
                f"EvNN-size EGRU LM ({weights}) over {n_tok} PTB test tokens, event-driven "
                f"with counting, batch {batch}",
                ">= 2000 tokens/s",
                f"{rate.fmt('tokens/s', 0)} (median, min-max of {args.repeats} runs; "
                f"{tot['synops']:,.0f} synops/token, {args.dtype}, {args.threads} threads)",
                bool(rate.median >= 2000),
            ),
            row(
                f"EvNN-size EGRU LM ({weights}), event-driven vs dense numpy (batch {batch}, "
                f"same run, same tokens)",
                "(informative)",
                f"{ratio:.2f}x dense numpy ({dense_rate.fmt('tokens/s', 0)}; perplexity "
                f"{res.info['perplexity']:.2f} event-driven, {ppl:.2f} dense)",
                None,
            ),
        ]
    write_rows(args.json, rows, load)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
