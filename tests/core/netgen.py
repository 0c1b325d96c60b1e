"""Seeded random event networks (MLPs and small CNNs) for backend equivalence tests."""

import numpy as np

from neuro import Conv2d, Dense, FATReLU, Input, Network, Readout, Sparse


def _weights(rng, n_pre, n_out, sparse_ok=True):
    w = rng.normal(size=(n_pre, n_out)) / np.sqrt(n_pre)
    w[rng.random(w.shape) < rng.uniform(0, 0.8)] = 0
    if sparse_ok and rng.random() < 0.4:
        return Sparse.from_matrix(w)
    return Dense(w)


def _threshold(rng, channels):
    if rng.random() < 0.5:
        return rng.uniform(0, 0.4)
    return rng.uniform(0, 0.4, size=channels)


def random_mlp(rng):
    net = Network(name="mlp")
    sizes = [int(rng.integers(3, 40)) for _ in range(int(rng.integers(2, 5)))]
    net.add_population("in", (sizes[0],), Input())
    names = ["in"]
    for i, n in enumerate(sizes[1:]):
        name = f"h{i}"
        net.add_population(name, (n,), FATReLU(_threshold(rng, n)))
        bias = rng.normal(size=n) * 0.1 if rng.random() < 0.5 else None
        net.connect(names[-1], name, _weights(rng, sizes[i], n), bias=bias)
        names.append(name)
    n_out = int(rng.integers(1, 6))
    net.add_population("out", (n_out,), Readout(accumulate=bool(rng.random() < 0.3)))
    net.connect(names[-1], "out", _weights(rng, sizes[-1], n_out), bias=rng.normal(size=n_out))
    if rng.random() < 0.4:  # skip connection
        net.connect("in", "out", _weights(rng, sizes[0], n_out), name="skip")
    if len(names) > 1 and rng.random() < 0.5:  # recurrent, delayed
        target = names[int(rng.integers(1, len(names)))]
        n_t = net.populations[target].size
        net.connect(
            "out", target, _weights(rng, n_out, n_t), delay=int(rng.integers(1, 3)), name="feedback"
        )
    return net


def random_cnn(rng):
    net = Network(name="cnn")
    c = int(rng.integers(1, 4))
    shape = (c, int(rng.integers(4, 10)), int(rng.integers(4, 10)))
    net.add_population("in", shape, Input())
    prev = "in"
    for i in range(int(rng.integers(1, 3))):
        c_in = shape[0]
        groups = int(rng.choice([g for g in (1, 2, 3) if c_in % g == 0]))
        c_out = groups * int(rng.integers(1, 4))
        k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        pad = (int(rng.integers(0, 3)), int(rng.integers(0, 2)))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        if shape[1] + 2 * pad[0] < k[0] or shape[2] + 2 * pad[1] < k[1]:
            k = (1, 1)
        w = rng.normal(size=(c_out, c_in // groups, *k)) / np.sqrt(k[0] * k[1] * c_in / groups)
        w[rng.random(w.shape) < rng.uniform(0, 0.6)] = 0
        op = Conv2d(w, shape, stride=stride, padding=pad, groups=groups)
        name = f"conv{i}"
        net.add_population(name, op.out_shape, FATReLU(_threshold(rng, c_out)))
        bias = rng.normal(size=c_out) * 0.1 if rng.random() < 0.5 else None
        net.connect(prev, name, op, bias=bias)
        prev, shape = name, op.out_shape
    n_out = int(rng.integers(2, 6))
    net.add_population("out", (n_out,), Readout())
    net.connect(prev, "out", _weights(rng, int(np.prod(shape)), n_out))
    return net


def random_case(seed):
    """A (network, inputs, steps) triple for ``seed``."""
    rng = np.random.default_rng(seed)
    net = random_mlp(rng) if seed % 2 == 0 else random_cnn(rng)
    batch = int(rng.integers(1, 5))
    shape = net.populations["in"].shape
    has_delay = any(p.delay for p in net.projections.values())
    steps = int(rng.integers(2, 5)) if has_delay or rng.random() < 0.3 else 1
    x = rng.normal(size=(steps, batch, *shape))
    x[rng.random(x.shape) < rng.uniform(0.2, 0.9)] = 0
    return net, x, steps


def conv_pairs(active, weight_nz, stride, padding, groups):
    """Independent count of (non-zero input, non-zero weight) pairs of a convolution.

    Sliding-window evaluation of conv(active, weight_nz) summed: every output
    position counts the taps where both the input and the kernel are non-zero.
    """
    b, c_in, h, w = active.shape
    c_out, cg, kh, kw = weight_nz.shape
    xp = np.pad(active.astype(np.int64), ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    win = win[:, :, :: stride[0], :: stride[1]]  # (B, C_in, H_out, W_out, kh, kw)
    og = c_out // groups
    total = 0
    for g in range(groups):
        xs = win[:, g * cg : (g + 1) * cg]
        ws = weight_nz[g * og : (g + 1) * og].astype(np.int64)
        total += int(np.einsum("bcyxkl,ockl->", xs, ws))
    return total


def independent_synops(net, activity, steps):
    """Σ over projections and steps of non-zero-input × non-zero-weight pairs.

    ``activity[name]`` is the (T, B, n) output of each population.
    """
    total = 0
    for p in net.projections.values():
        for t in range(p.delay, steps):
            x = activity[p.pre][t - p.delay]
            op = p.weights
            if isinstance(op, Conv2d):
                act = (x != 0).reshape(x.shape[0], *op.in_shape)
                total += conv_pairs(act, op.weight != 0, op.stride, op.padding, op.groups)
            else:
                dense = op.weight if isinstance(op, Dense) else op.to_scipy().toarray()
                total += int(((x != 0).astype(np.int64) @ (dense != 0).astype(np.int64)).sum())
    return total
