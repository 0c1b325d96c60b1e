"""Hardware audit of a FATReLU CNN on the scikit-learn digits, on Loihi and Loihi 2.

Trains a small convolutional network with FATReLU activations (Kurtz et al., ICML 2020)
on the 8x8 digits for a few seconds, converts it into an event network, and runs the
test set on the ``cores`` backend with the Loihi and Loihi 2 profiles, in floating
point and with 8-bit weights and payloads.  For each run it writes the audit (JSON,
Markdown, CSV) and its figures into ``OUT/<profile>/`` and prints cores, latency per
step, energy per sample and accuracy.

    python examples/audit_digits.py --out audit_digits
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import neuro
from neuro.audit.export import write_all


def train_cnn(x_train, y_train, epochs: int, threshold: float, seed: int = 0):
    """A FATReLU CNN: conv 1→8 (3x3) → conv 8→16 (3x3, stride 2) → linear 256→10."""
    import torch
    from torch import nn

    from neuro.torch import FATReLU

    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        FATReLU(threshold),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),
        FATReLU(threshold),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x = torch.tensor(x_train, dtype=torch.float32)
    y = torch.tensor(y_train)
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(64):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    return model.eval()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="audit_digits", help="output directory")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--threshold", type=float, default=0.2, help="FATReLU threshold")
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args(argv)

    from sklearn.datasets import load_digits

    from converters import convert

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8) in [0, 1]
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    test, train = order[:360], order[360:]
    model = train_cnn(x[train], y[train], args.epochs, args.threshold)
    network = convert(model, example_input=x[test[:1]])
    print(network.summary())

    summary = {}
    fixed8 = {"quantize": {"weight_bits": 8, "payload_bits": 8, "state_bits": 16}}
    runs = [
        ("loihi", "loihi", {}),
        ("loihi2", "loihi2", {}),
        ("loihi2_fixed8", "loihi2", fixed8),
        # more cores, shorter steps: at most 64 units per core
        ("loihi2_spread64", "loihi2", {"max_units_per_core": 64}),
    ]
    for tag, profile, options in runs:
        quantize = options.get("quantize")
        start = time.perf_counter()
        result = neuro.run(network, x[test], backend="cores", hardware=profile, **options)
        audit = result.audit(labels=y[test], metric="accuracy")
        write_all(audit, Path(args.out) / tag, plots=not args.no_plots)
        hw = result.info["hardware"]
        summary[tag] = {
            "cores": hw["cores_used"],
            "chips": hw["chips_used"],
            "latency_ns_per_step": hw["latency_ns"]["mean_per_step"],
            "energy_uj_per_sample": hw["energy_pj"]["per_sample"] / 1e6,
            "synops_per_sample": result.counts.per_sample()["synops"],
            "accuracy": audit.extras["metric"]["value"],
            "seconds": time.perf_counter() - start,
        }
        if quantize:
            summary[tag]["accuracy_float"] = audit.extras["metric"]["float"]
        print(audit.table(), end="\n\n")
    print(f"{'run':<16}{'cores':>6}{'chips':>6}{'ns/step':>10}{'uJ/sample':>11}{'accuracy':>10}")
    for tag, s in summary.items():
        print(
            f"{tag:<16}{s['cores']:>6}{s['chips']:>6}{s['latency_ns_per_step']:>10.1f}"
            f"{s['energy_uj_per_sample']:>11.4f}{s['accuracy']:>10.4f}"
        )
    return summary


if __name__ == "__main__":
    main()
