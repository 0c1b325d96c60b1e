"""Generate ``examples/ptb_egru.ipynb``: an EGRU language model on Penn Treebank, end to end.

    python examples/make_ptb_notebook.py          # writes the notebook (without outputs)

The notebook reads the PTB directory from ``NEURO_PTB_DIR``.  ``NEURO_NOTEBOOK_TINY=1``
selects a tiny run (seconds, used by the test suite): a slice of the test set, and a tiny
model trained in the notebook unless checkpoints are found; ``NEURO_EGRU_CHECKPOINTS``
names a directory of ``neuro train-lm`` checkpoints (``.pt`` or compact ``.npz``) to load
instead of training; without it, compact checkpoints in ``examples/checkpoints/ptb_egru`` are
loaded when present.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    (
        "md",
        """# EGRU on Penn Treebank, event-driven

An event-based GRU (EGRU; Subramoney et al., ICLR 2023) language model is trained on Penn
Treebank (or loaded), pruned to several weight sparsities, converted into an event network
and run on neuro's CPU event scheduler over the test set.  Only units whose internal state
crosses their threshold send a message, so the input, recurrent and decoder products follow
the activity; weight pruning multiplies the saving (Mukherji et al., 2023).

Set `NEURO_PTB_DIR` to the directory holding `ptb.train.txt`, `ptb.valid.txt` and
`ptb.test.txt`.  `NEURO_NOTEBOOK_TINY=1` runs a tiny configuration in seconds.""",
    ),
    (
        "code",
        """import io
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Image, Markdown, display

from neuro.apps.lm import (
    TrainConfig,
    event_perplexity,
    hardware_audit,
    lm_report,
    load_checkpoint,
    prunable_weights,
    sparsity_table,
    torch_perplexity,
    train_lm,
    weight_sparsity,
)
from neuro.data.ptb import batchify, load_ptb

TINY = os.environ.get("NEURO_NOTEBOOK_TINY", "0") == "1"
torch.set_num_threads(1)
corpus = load_ptb()  # directory from NEURO_PTB_DIR
print(
    f"vocabulary {len(corpus.vocab)}, tokens: train {corpus.train.size}, "
    f"valid {corpus.valid.size}, test {corpus.test.size}; tiny={TINY}"
)""",
    ),
    (
        "md",
        """## Load (or train) an EGRU, pruned to several weight sparsities

The checkpoints committed in `examples/checkpoints/ptb_egru` hold a tied EGRU language
model (embedding 256, EGRU layers of 512 and 256 units, 4.3 M parameters) trained on
the CPU with the README's recipe (`neuro train-lm ... --epochs 11 --finetune-epochs 1.5`:
AdamW, dropouts and DropConnect, cosine schedule), then magnitude-pruned to 50 % weight
sparsity (every matrix, the embedding included) and fine-tuned.  From that model, gradual
magnitude pruning (Zhu & Gupta 2017, `--init-from ... --no-prune-embedding --prune-ramp
0.5 --finetune-epochs 2.5`) took the EGRU kernels to 80 and then 90 % sparsity while the
embedding and its tied decoder kept the 50 % level's zeros: pruning the tied embedding
along cost far more perplexity (at 80 %, validation perplexity 192 after 1.5 fine-tuning
epochs with it, 135 without).  The checkpoints are stored compact
(`neuro export-lm`: float16 values, pruned tensors as a bit mask and their non-zeros).
Without checkpoints the notebook trains a small model itself.""",
    ),
    (
        "code",
        """# trained checkpoints: $NEURO_EGRU_CHECKPOINTS, else the compact ones beside the notebook
ckpt_dir = os.environ.get("NEURO_EGRU_CHECKPOINTS")
for committed in (Path("checkpoints/ptb_egru"), Path("examples/checkpoints/ptb_egru")):
    if not ckpt_dir and any(committed.glob("egru_lm_s*.npz")):
        ckpt_dir = committed
if ckpt_dir:
    models = {}
    for path in sorted(Path(ckpt_dir).glob("egru_lm_s*.*[tz]")):
        model, info = load_checkpoint(path)
        models[info["sparsity"]] = model
    config = info["config"]
else:
    if TINY:
        config = TrainConfig(
            embedding_size=16,
            hidden_sizes=[24, 16],
            batch_size=8,
            bptt=10,
            lr=1e-2,
            dropout=0.0,
            dropout_emb=0.0,
            dropout_between=0.0,
            dropconnect=0.0,
            sparsities=[0.0, 0.5, 0.8],
            time_budget_s=30,
            max_train_tokens=3000,
            max_eval_tokens=300,
            eval_batch_size=4,
        )
    else:
        config = TrainConfig(
            embedding_size=200,
            hidden_sizes=[200, 200],
            batch_size=32,
            time_budget_s=900,
            sparsities=[0.0, 0.5, 0.8, 0.9],
        )
    models, results = train_lm(corpus, config, max_steps=20 if TINY else None, log=print)
print("levels:", sorted(models))""",
    ),
    (
        "md",
        """## Convert and run event-driven over the test set

The torch forward and the event network see the same token streams (the test set cut into
parallel streams, state carried over the whole stream); their perplexities agree to float
precision.""",
    ),
    (
        "code",
        """test_ids = corpus.test[:300] if TINY else corpus.test
batch = 4 if TINY else 10
rows, runs = [], {}
for level, model in sorted(models.items()):
    ppl_torch = torch_perplexity(model, test_ids, batch)
    res = event_perplexity(model, test_ids, batch, backend="cpu", dtype="float64")
    rep = lm_report(res)
    runs[level] = (res, rep)
    rows.append(
        {
            "sparsity": weight_sparsity(prunable_weights(model, include_embedding=False)),
            "embedding_sparsity": float((model.embedding.weight == 0).double().mean()),
            "ppl_torch": ppl_torch,
            "ppl_event": res.info["perplexity"],
            "activity": float(np.mean(list(rep["activity"].values()))),
            **{
                k: rep["totals"][k]
                for k in ("dense_macs", "weight_sparse_macs", "activity_sparse_macs", "synops")
            },
        }
    )
    print(
        f"EGRU weight sparsity {rows[-1]['sparsity']:.2f} (embedding "
        f"{rows[-1]['embedding_sparsity']:.2f}): perplexity torch {ppl_torch:.4f}, "
        f"event-driven {res.info['perplexity']:.4f}"
    )""",
    ),
    ("md", "## MAC reduction vs weight sparsity and perplexity (per token)"),
    ("code", "display(Markdown(sparsity_table(rows)))"),
    (
        "md",
        """## Per-layer activity

Fraction of tokens on which each unit sends an event, per layer (compare the activity
histograms of Fig. 4 in Mukherji et al., 2023).""",
    ),
    (
        "code",
        """dense_model = models[min(models)]
tokens = torch.from_numpy(batchify(test_ids, batch))
with torch.no_grad():
    _, _, acts = dense_model(tokens, return_activity=True)
fig, axes = plt.subplots(1, len(acts), figsize=(4 * len(acts), 3), squeeze=False)
unit_rates = []
for k, (ax, act) in enumerate(zip(axes[0], acts)):
    rate = (act.events > 0).double().mean(dim=(0, 1)).numpy()
    unit_rates.append(rate)
    ax.hist(rate, bins=30)
    ax.set_title(f"layer {k}: mean activity {rate.mean():.3f}")
    ax.set_xlabel("fraction of tokens with an event")
axes[0][0].set_ylabel("units")
fig.tight_layout()
buffer = io.BytesIO()
fig.savefig(buffer, format="png")
plt.close(fig)
display(Image(data=buffer.getvalue()))""",
    ),
    ("md", "## Per-token counts per projection and the audit (dense model)"),
    (
        "code",
        """res, rep = runs[min(runs)]
for name, p in rep["projections"].items():
    print(
        f"{name:<18} {p['role']:<16} events/token {p['events_in']:8.1f}  "
        f"synops/token {p['synops']:10.0f}  dense MACs/token {p['dense_macs']:10.0f}"
    )
print()
print(res.audit().table())
print("input encoding:", res.network.metadata["input_encoding"])""",
    ),
    (
        "md",
        """## Loihi 2 audit per token

The dense and the sparsest model on simulated Loihi 2 cores (the `cores` backend with
the `loihi2` profile), one stream of test tokens.  The embedding is looked up on the
host: each token enters the chip as the E-wide embedding vector (E graded events),
since a fused token table of 10 000 rows would need more input axons than a core has.""",
    ),
    (
        "code",
        """hw_ids = corpus.test[: 21 if TINY else 201]
loihi2 = {}
for level in sorted({min(models), max(models)}):
    audit_row = hardware_audit(models[level], hw_ids, hardware="loihi2")
    loihi2[level] = {k: v for k, v in audit_row.items() if k != "audit"}
    print(
        f"sparsity {level:.2f}: {audit_row['cores']} cores on {audit_row['chips']} chip(s), "
        f"{audit_row['latency_ns_per_token']:.0f} ns/token, "
        f"{audit_row['energy_uj_per_token']:.3f} uJ/token, "
        f"{audit_row['synops_per_token']:,.0f} synops/token "
        f"(perplexity of these {audit_row['tokens']} tokens {audit_row['perplexity']:.1f})"
    )
print()
print(audit_row["audit"].table())""",
    ),
    (
        "code",
        """summary = {
    "tiny": TINY,
    "levels": rows,
    "loihi2": loihi2,
    "activity_per_layer": {k: float(v.mean()) for k, v in enumerate(unit_rates)},
    "max_ppl_gap": max(abs(r["ppl_torch"] - r["ppl_event"]) / r["ppl_torch"] for r in rows),
}
print("SUMMARY " + json.dumps(summary))""",
    ),
]


def build() -> nbformat.NotebookNode:
    """The notebook, without outputs."""
    cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in CELLS]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def main() -> Path:
    path = Path(__file__).with_name("ptb_egru.ipynb")
    nbformat.write(build(), path)
    return path


if __name__ == "__main__":
    print(main())
