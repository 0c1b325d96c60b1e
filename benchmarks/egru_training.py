"""Training throughput of the EGRU language model on the CPU: fused vs reference layer.

One training step is what ``neuro train-lm`` does per truncated-BPTT chunk: forward
over ``bptt`` tokens of ``batch`` streams (dropouts and DropConnect on), cross-entropy,
backward, gradient clipping, AdamW step, threshold clamp.  The same model, data and
step are timed with the fused whole-sequence EGRU function (``EGRU.fused = True``,
the default) and with the step-by-step reference cell (``EGRU.fused = False``), for
each thread count, in the same run.  Besides wall-clock tokens/s it prints tokens per
CPU-second of this process, which is what an otherwise idle core would give at one
thread when the machine is shared.  Tokens come from a random id stream (the data
pipeline is the same for both paths and not what is measured).

    python benchmarks/egru_training.py --threads 1 2
"""

from __future__ import annotations

import os
import time

import numpy as np
from _bench import machine, parser, row, write_rows


def _step_fn(model, tokens, config, torch):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=config["wd"])
    loss_fn = torch.nn.CrossEntropyLoss()
    bptt = config["bptt"]
    state = {"i": 0, "h": None}

    def step():
        i = state["i"]
        x, y = tokens[i : i + bptt], tokens[i + 1 : i + 1 + bptt]
        state["i"] = (i + bptt) % (tokens.shape[0] - bptt - 1)
        logits, h = model(x, state["h"])
        state["h"] = [(a.detach(), b.detach()) for a, b in h]
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        opt.step()
        for layer in model.layers:
            layer.clamp_thresholds_()

    return step


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--embedding-size", type=int, default=256)
    p.add_argument("--hidden-sizes", type=int, nargs="+", default=[512, 256])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--bptt", type=int, default=35)
    p.add_argument("--steps", type=int, default=8, help="timed steps per measurement")
    args = p.parse_args()

    import torch

    from neuro.torch import EGRULanguageModel

    vocab = 10000
    rng = np.random.default_rng(0)
    tokens = torch.from_numpy(rng.integers(0, vocab, size=(args.bptt * 40, args.batch)))
    config = {"bptt": args.bptt, "wd": 1.2e-6}
    print(machine())
    print(f"load average before: {os.getloadavg()}")
    print(
        f"model: embedding {args.embedding_size}, EGRU {args.hidden_sizes}, tied, vocab {vocab}; "
        f"batch {args.batch} x bptt {args.bptt} tokens per step"
    )
    rows, results = [], {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        for fused in (False, True):
            torch.manual_seed(0)
            model = EGRULanguageModel(
                vocab,
                args.embedding_size,
                args.hidden_sizes,
                dropout=0.4,
                dropout_emb=0.1,
                dropout_between=0.25,
                dropconnect=0.2,
                tie_weights=True,
                dropout_words=0.0,
            ).train()
            for layer in model.layers:
                layer.fused = fused
            step = _step_fn(model, tokens, config, torch)
            step()  # warm-up
            best, best_cpu = float("inf"), float("inf")
            for _ in range(2):
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(args.steps):
                    step()
                best = min(best, (time.perf_counter() - t0) / args.steps)
                best_cpu = min(best_cpu, (time.process_time() - c0) / args.steps)
            tps = args.batch * args.bptt / best
            results[(threads, fused)] = tps
            name = "fused" if fused else "reference"
            print(
                f"threads {threads}  {name:9s}  {best * 1e3:8.1f} ms/step  {tps:8.0f} tokens/s  "
                f"({args.batch * args.bptt / best_cpu:6.0f} tokens per CPU-second)"
            )
        ratio = results[(threads, True)] / results[(threads, False)]
        print(f"threads {threads}  fused / reference: {ratio:.2f}x")
        rows.append(
            row(
                f"egru_training_threads{threads}",
                "fused >= 1.5x reference tokens/s",
                f"{ratio:.2f}x ({results[(threads, True)]:.0f} vs {results[(threads, False)]:.0f})",
                ratio >= 1.5,
            )
        )
    print(f"load average after: {os.getloadavg()}")
    write_rows(args.json, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
