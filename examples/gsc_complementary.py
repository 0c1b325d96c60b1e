"""Sparse-sparse op counts and CPU speed on the Google Speech Commands network shape.

The network of Hunter et al. (2021, "Two Sparsities Are Better Than One"): Conv 64@5x5 →
Conv 64@5x5 → Linear 1500 → Linear 12 on a 1x32x32 input, with ~95% weight sparsity
(complementary masks, packed G = 20 kernels per dense kernel) and ~90% activation
sparsity from k-WTA (10% of each layer's units win).  Weights are random: the op counts
and speed do not depend on training.  The IR has no max-pooling, so each convolution
uses stride 2 instead of stride 1 + 2x2 pooling; the flattened size is 64·5·5 = 1600
as in the paper's network.

Printed: dense MACs, synops, the reduction dense / synops (≈ 1 / (d_w · d_a) on the
layers where both are sparse), packed vs unpacked weight memory, and the wall time of
the ``cpu`` event backend against dense numpy inference of the same network, measured
in the same run (machine-dependent; repeat for stable numbers).

Run: ``python examples/gsc_complementary.py [--batch 64] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import neuro
from neuro.ir.complementary import complementary_masks, pack
from neuro.models.kwta import KWTA

WEIGHT_DENSITY = 0.05  # 95% weight sparsity
PERCENT_ON = 0.10  # k-WTA: 90% activation sparsity
GROUP = 20  # kernels per packed kernel: G · density = 1, the packed kernel is full


def complementary_weights(rng, n_kernels_out, kernel_shape, group, density):
    """(n_out, *kernel_shape) random kernels, disjoint within each group of ``group``."""
    w = np.zeros((n_kernels_out, *kernel_shape), dtype=np.float32)
    fan_in = int(np.prod(kernel_shape))
    scale = np.sqrt(2.0 / (density * fan_in))
    for start in range(0, n_kernels_out, group):
        stop = min(n_kernels_out, start + group)
        masks = complementary_masks(group, kernel_shape, density=density, seed=rng)
        w[start:stop] = (
            rng.normal(scale=scale, size=masks[: stop - start].shape) * masks[: stop - start]
        )
    return w


def build(rng, packed: bool) -> tuple[neuro.Network, dict]:
    """The GSC-shape network; ``packed`` selects Complementary or plain operators."""
    c1 = neuro.Conv2d(
        complementary_weights(rng, 64, (1, 5, 5), GROUP, WEIGHT_DENSITY), (1, 32, 32), 2
    )
    c2 = neuro.Conv2d(
        complementary_weights(rng, 64, (64, 5, 5), GROUP, WEIGHT_DENSITY), c1.out_shape, 2
    )
    l1 = neuro.Dense(complementary_weights(rng, 1500, (1600,), GROUP, WEIGHT_DENSITY).T)
    l2 = neuro.Dense(complementary_weights(rng, 12, (1500,), 12, WEIGHT_DENSITY).T)
    ops = {"conv1": c1, "conv2": c2, "linear1": l1, "output": l2}
    net = neuro.Network(name="gsc_complementary" + ("_packed" if packed else ""))
    net.add_population("input", (1, 32, 32), neuro.Input())
    shapes = {"conv1": c1.out_shape, "conv2": c2.out_shape, "linear1": (1500,)}
    for name, shape in shapes.items():
        k = int(round(PERCENT_ON * np.prod(shape)))
        net.add_population(name, shape, KWTA(k))
    net.add_population("output", (12,), neuro.Readout())
    pre = "input"
    for name, op in ops.items():
        group = 12 if name == "output" else GROUP
        net.connect(pre, name, pack(op, group) if packed else op)
        pre = name
    return net, ops


def dense_forward(ops: dict, x: np.ndarray) -> np.ndarray:
    """Dense numpy inference (every weight, every unit), float32, with k-WTA."""

    def conv(op, a):
        w = op.weight.astype(np.float32)
        s = op.stride[0]
        kh, kw = w.shape[2:]
        win = np.lib.stride_tricks.sliding_window_view(a, (kh, kw), axis=(2, 3))[:, :, ::s, ::s]
        return np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)

    def kwta(a, frac):
        flat = a.reshape(a.shape[0], -1)
        k = int(round(frac * flat.shape[1]))
        kth = np.partition(flat, flat.shape[1] - k, axis=1)[:, flat.shape[1] - k][:, None]
        return np.where(flat >= kth, flat, 0).reshape(a.shape)

    a = kwta(conv(ops["conv1"], x), PERCENT_ON)
    a = kwta(conv(ops["conv2"], a), PERCENT_ON).reshape(x.shape[0], -1)
    a = kwta(a @ ops["linear1"].weight.astype(np.float32), PERCENT_ON)
    return a @ ops["output"].weight.astype(np.float32)


def timed(fn, repeats: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="samples per run (default 64)")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats, best kept")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    packed, ops = build(np.random.default_rng(args.seed), packed=True)
    unpacked, _ = build(np.random.default_rng(args.seed), packed=False)
    x = np.random.default_rng(args.seed + 1).normal(size=(args.batch, 1, 32, 32))
    x = x.astype(np.float32)

    neuro.run(packed, x[:2], backend="cpu")  # compile the kernels before timing
    neuro.run(unpacked, x[:2], backend="cpu")
    t_packed, res = timed(lambda: neuro.run(packed, x, backend="cpu"), args.repeats)
    t_unpacked, res_u = timed(lambda: neuro.run(unpacked, x, backend="cpu"), args.repeats)
    t_dense, dense_out = timed(lambda: dense_forward(ops, x), args.repeats)

    c = res.counts
    print(c.table())
    print()
    print(f"batch {args.batch}; per sample:")
    print(f"  dense MACs        {c.dense_macs / args.batch:14,.0f}")
    print(f"  synops            {c.synops / args.batch:14,.0f}")
    print(
        f"  reduction         {c.dense_macs / c.synops:14.1f}x  (dense MACs / synops, all layers)"
    )
    rows = [r for n, r in c.per_layer().items() if n in ("conv2", "linear1", "output")]
    both_dense = sum(r["dense_macs"] for r in rows)
    both_syn = sum(r["synops"] for r in rows)
    print(
        f"  reduction where input and weights are both sparse (conv2, linear1, output): "
        f"{both_dense / both_syn:.1f}x; 1/(d_w*d_a) = {1 / (WEIGHT_DENSITY * PERCENT_ON):.0f}x"
    )
    same = np.allclose(res.outputs, res_u.outputs, rtol=1e-4, atol=1e-4)
    print(f"  packed == unpacked: outputs {same}, synops {c.synops == res_u.counts.synops}")
    words = {
        name: (p.weights.packed_words(), p.weights.stored_nnz(), p.weights.unpack().weight.size)
        for name, p in packed.projections.items()
    }
    print("weight memory (words): packed / unpacked non-zeros / dense")
    for name, (pw, nz, dense) in words.items():
        print(f"  {name:<18} {pw:>9,} / {nz:>9,} / {dense:>10,}")
    err = float(np.max(np.abs(dense_out - res.outputs)) / max(1e-9, np.max(np.abs(dense_out))))
    print(f"dense numpy vs cpu outputs: max relative difference {err:.1e}")
    print(
        f"wall time per batch (best of {args.repeats}): dense numpy {t_dense * 1e3:.1f} ms, "
        f"cpu unpacked {t_unpacked * 1e3:.1f} ms, cpu packed {t_packed * 1e3:.1f} ms"
    )
    print(
        f"measured speedup of sparse-sparse (cpu, packed) over dense numpy: "
        f"{t_dense / t_packed:.1f}x (unpacked: {t_dense / t_unpacked:.1f}x)"
    )


if __name__ == "__main__":
    main()
