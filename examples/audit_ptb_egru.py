"""Hardware audit of a small EGRU language model on Penn Treebank, on Loihi and Loihi 2.

Trains a one-layer EGRU language model (Subramoney et al., ICLR 2023) for a short time
budget (or loads a checkpoint written by ``neuro train-lm``), converts it into an event
network and audits a stretch of the test split on the ``cores`` backend.

The converted network takes one token event per step into a fused embedding table of
V = 10 000 rows: every unit of the first EGRU layer then has 10 000 pre-synaptic token
units, more input axons than a Loihi or Loihi 2 core has (4096), and the mapper says so.
The audit therefore runs the network with the embedding looked up on the host: the
chip receives the E-wide embedding vector of each token as E graded events, as a
deployment would do.  For each profile it writes the audit (JSON, Markdown, CSV) and
figures into ``OUT/<profile>/`` and prints cores, latency per token, energy per token
and perplexity; the fixed-point run reports the perplexity change.

    python examples/audit_ptb_egru.py --out audit_ptb --train-seconds 150 --tokens 400
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import neuro
from neuro.apps.lm.hardware import host_embedding_network
from neuro.audit.export import write_all
from neuro.exceptions import CapacityError
from neuro.hardware.mapper import map_network


def get_model(args):
    if args.checkpoint:
        from neuro.apps.lm.checkpoint import load_checkpoint

        model, _ = load_checkpoint(args.checkpoint)
        return model
    from neuro.apps.lm.config import TrainConfig
    from neuro.apps.lm.train import train_lm
    from neuro.data.ptb import load_ptb

    config = TrainConfig(
        embedding_size=args.embedding,
        hidden_sizes=[args.hidden],
        tie_weights=False,
        time_budget_s=args.train_seconds,
        sparsities=[0.0, 0.5],
        activity_gamma=0.1,
        max_eval_tokens=5000,
    )
    models, results = train_lm(load_ptb(args.ptb), config, log=print)
    return models[max(models)].eval()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="audit_ptb", help="output directory")
    parser.add_argument("--ptb", default=None, help="PTB directory (default $NEURO_PTB_DIR)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint from neuro train-lm")
    parser.add_argument("--train-seconds", type=float, default=150.0)
    parser.add_argument("--embedding", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--tokens", type=int, default=400, help="test tokens to audit")
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args(argv)

    from converters import convert
    from neuro.data.ptb import load_ptb

    model = get_model(args)
    fused = convert(model)
    for profile in ("loihi", "loihi2"):
        try:
            map_network(fused, profile)
            print(f"{profile}: the fused token network fits")
        except CapacityError as exc:
            print(f"{profile}: {exc}")

    network = host_embedding_network(convert(model, fuse_embedding=False))
    print(network.summary())
    ids = load_ptb(args.ptb).test[: args.tokens + 1]
    tokens, targets = ids[:-1, None], ids[1:, None]  # (T, 1): one stream
    table = model.embedding.weight.detach().double().numpy()
    x = table[tokens]  # (T, 1, E): what the host sends per token

    reference = neuro.run(fused, tokens, backend="cpu", dtype="float64")
    check = neuro.run(network, x, backend="cpu", dtype="float64")
    diff = np.abs(check.outputs - reference.outputs).max()
    print(f"host-embedding vs fused network on cpu: max |logit difference| {diff:.2e}")

    summary = {}
    runs = [
        ("loihi", None),
        ("loihi2", None),
        ("loihi2", {"weight_bits": 8, "payload_bits": 8, "state_bits": 16}),
    ]
    for profile, quantize in runs:
        tag = profile + ("_fixed8" if quantize else "")
        start = time.perf_counter()
        result = neuro.run(network, x, backend="cores", hardware=profile, quantize=quantize)
        audit = result.audit(labels=targets, metric="perplexity")
        write_all(audit, Path(args.out) / tag, plots=not args.no_plots)
        hw = result.info["hardware"]
        summary[tag] = {
            "cores": hw["cores_used"],
            "chips": hw["chips_used"],
            "latency_ns_per_token": hw["latency_ns"]["mean_per_step"],
            "energy_uj_per_token": hw["energy_pj"]["per_step"] / 1e6,
            "synops_per_token": result.counts.per_step()["synops"],
            "perplexity": audit.extras["metric"]["value"],
            "seconds": time.perf_counter() - start,
        }
        if quantize:
            summary[tag]["perplexity_float"] = audit.extras["metric"]["float"]
        print(audit.table(), end="\n\n")
    print(f"{'run':<14}{'cores':>6}{'chips':>6}{'ns/token':>10}{'uJ/token':>10}{'ppl':>9}")
    for tag, s in summary.items():
        print(
            f"{tag:<14}{s['cores']:>6}{s['chips']:>6}{s['latency_ns_per_token']:>10.1f}"
            f"{s['energy_uj_per_token']:>10.4f}{s['perplexity']:>9.1f}"
        )
    return summary


if __name__ == "__main__":
    main()
