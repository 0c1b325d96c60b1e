"""EvNN-size EGRU language model, event-driven over the PTB test set on the CPU backend.

Model: 3 EGRU layers 1350 / 1350 / 750, embedding 750, decoder tied to the embedding,
vocabulary 10,000 (the layout of EvNN's PTB benchmark, Mukherji et al. 2023), about
31.7M parameters.  Weights are random (Xavier-normal kernels, embedding uniform in
±0.1) and each layer's threshold is calibrated on a short prefix so that the layer
sends on about ``--activity`` of its units per token; or a trained checkpoint is used
(``--checkpoint``).

Prints, per batch size (parallel streams; the test set is split into that many
streams, as language-model evaluations do), event-driven tokens/s, per-token synops
per projection, and the speed ratio to a dense numpy evaluation of the same model at
the same batch size measured in the same run (the dense path runs on
``--dense-tokens`` tokens only; the ratio compares per-token times).  More streams
share each weight row read from memory among more tokens: at batch 10 about 80 % of
the rows are active in some stream every step, so the run streams most of the
weights from DRAM once per 10 tokens.

    python benchmarks/egru_ptb_cpu.py --data path/to/ptb
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from converters.egru import egru_lm_network, run_language_model
from neuro.data.ptb import batchify, load_ptb
from neuro.lm.report import lm_report
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


def dense_forward(model: dict, tokens: np.ndarray, dtype=np.float32):
    """Dense numpy evaluation: every weight times every input, every token.

    Returns
    -------
    logits_last : ndarray (B, V)
    activity : list of float
        Fraction of non-zero y per layer.
    """
    emb = model["embedding"].astype(dtype)
    layers = [{k: v.astype(dtype) for k, v in la.items()} for la in model["layers"]]
    dec = model["decoder_weight"].T.astype(dtype)
    bias = model["decoder_bias"]
    batch = tokens.shape[1]
    ys = [np.zeros((batch, la["thr"].size), dtype) for la in layers]
    cs = [np.zeros_like(y) for y in ys]
    active = np.zeros(len(layers))
    logits = None
    for t in range(tokens.shape[0]):
        x = emb[tokens[t]]
        for k, la in enumerate(layers):
            a = x @ la["kernel"] + la["bias"]
            q = ys[k] @ la["recurrent_kernel"] + la["recurrent_bias"]
            ys[k], cs[k] = egru_gates(a, q, cs[k], la["thr"])
            ys[k], cs[k] = ys[k].astype(dtype), cs[k].astype(dtype)
            active[k] += np.count_nonzero(ys[k]) / ys[k].size
            x = ys[k]
        logits = x @ dec + (0 if bias is None else bias)
    return logits, list(active / tokens.shape[0])


def calibrate(model: dict, tokens: np.ndarray, target: float, rounds: int = 9) -> list:
    """Per layer (in order), bisect one shared threshold to reach ``target`` activity."""
    for k, la in enumerate(model["layers"]):
        lo, hi = -5.0, 0.0  # log10 of the threshold
        for _ in range(rounds):
            mid = 0.5 * (lo + hi)
            la["thr"] = np.full(la["thr"].size, 10.0**mid)
            act = dense_forward(model, tokens)[1][k]
            lo, hi = (mid, hi) if act > target else (lo, mid)
        la["thr"] = np.full(la["thr"].size, 10.0 ** (0.5 * (lo + hi)))
    acts = dense_forward(model, tokens)[1]
    return acts


def from_checkpoint(path) -> dict:
    """Arrays of a trained checkpoint (``neuro train-lm``)."""
    from neuro.lm import load_checkpoint

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


def event_driven(net, ids, batch: int, threads: int, dtype: str):
    """Stream the token ids as ``batch`` parallel streams; returns (result, tokens, seconds).

    A two-step run first loads the compiled kernels (not timed).
    """
    tokens = batchify(ids, batch)
    opts = dict(backend="cpu", dtype=dtype, threads=threads, targets=True, keep_outputs=False)
    run_language_model(net, tokens[:2], **opts)
    start = time.perf_counter()
    res = run_language_model(net, tokens, **opts)
    return res, tokens, time.perf_counter() - start


def dense_numpy(model: dict, ids, batch: int, n_tokens: int, threads: int, dtype: str) -> float:
    """Tokens/s of :func:`dense_forward` on the first ``n_tokens`` (BLAS on ``threads``)."""
    from _bench import blas_threads

    tokens = batchify(ids, batch)[: max(1, n_tokens // batch)]
    with blas_threads(threads):
        start = time.perf_counter()
        dense_forward(model, tokens, np.dtype(dtype).type)
        return tokens.size / (time.perf_counter() - start)


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
    parser.add_argument("--dense-tokens", type=int, default=1000, help="tokens for dense numpy")
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
    from _bench import row, write_rows

    rows = []
    for batch in (int(b) for b in args.batch.split(",")):
        res, tokens, event_s = event_driven(net, ids, batch, args.threads, args.dtype)
        n_tok, rate = tokens.size, tokens.size / event_s
        print(
            f"\nevent-driven (cpu, {args.dtype}, {args.threads} threads, schedule "
            f"{res.info['backend']['schedule']}): {n_tok} tokens in {event_s:.1f} s = "
            f"{rate:.0f} tokens/s (batch {batch}); perplexity {res.info['perplexity']:.1f}"
        )
        tot = print_counts(res, net, n_tok)
        dense_rate = dense_numpy(model, ids, batch, args.dense_tokens, args.threads, args.dtype)
        print(
            f"dense numpy ({args.dtype}, batch {batch}, {args.threads} BLAS threads) on the "
            f"first {args.dense_tokens} tokens: {dense_rate:.0f} tokens/s; event-driven / "
            f"dense: {rate / dense_rate:.2f}x"
        )
        rows += [
            row(
                f"EvNN-size EGRU LM over {n_tok} PTB test tokens, event-driven with counting, "
                f"batch {batch}",
                ">= 2000 tokens/s",
                f"{rate:.0f} tokens/s ({tot['synops']:,.0f} synops/token, {args.threads} threads)",
                rate >= 2000,
            ),
            row(
                f"EvNN-size EGRU LM, event-driven vs dense numpy (batch {batch}, same run)",
                "(informative)",
                f"{rate / dense_rate:.2f}x dense numpy ({dense_rate:.0f} tokens/s on "
                f"{args.dense_tokens} tokens)",
                None,
            ),
        ]
    write_rows(args.json, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
