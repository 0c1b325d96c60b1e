"""Networks for the distributed tests: a FATReLU CNN, and an EGRU language model from arrays."""

import numpy as np

from converters.egru import egru_lm_network
from neuro import Conv2d, Dense, FATReLU, Input, Network, Readout


def small_cnn(seed=0, channels=(4, 6), size=10):
    """conv(3x3) → conv(3x3, stride 2) → dense readout, FATReLU thresholds > 0."""
    rng = np.random.default_rng(seed)
    net = Network(name="cnn")
    shape = (1, size, size)
    net.add_population("x", shape, Input())
    prev = "x"
    for i, (c_out, stride) in enumerate(zip(channels, (1, 2))):
        w = rng.normal(size=(c_out, shape[0], 3, 3)) / np.sqrt(9 * shape[0])
        op = Conv2d(w, shape, stride=stride, padding=1)
        net.add_population(f"conv{i}", op.out_shape, FATReLU(threshold=0.2))
        net.connect(prev, f"conv{i}", op, bias=rng.normal(size=c_out) * 0.1)
        prev, shape = f"conv{i}", op.out_shape
    n = int(np.prod(shape))
    net.add_population("y", (5,), Readout())
    net.connect(prev, "y", Dense(rng.normal(size=(n, 5)) / np.sqrt(n)), bias=np.zeros(5))
    return net.validate()


def small_mlp(seed=0, sizes=(30, 40, 20), recurrent=True):
    """An MLP with a delayed feedback projection (state carried between steps)."""
    rng = np.random.default_rng(seed)
    net = Network(name="mlp")
    net.add_population("x", (sizes[0],), Input())
    prev = "x"
    for i, n in enumerate(sizes[1:]):
        net.add_population(f"h{i}", (n,), FATReLU(threshold=0.1))
        w = rng.normal(size=(net.populations[prev].size, n)) / np.sqrt(n)
        w[rng.random(w.shape) < 0.5] = 0.0
        net.connect(prev, f"h{i}", Dense(w), bias=rng.normal(size=n) * 0.1)
        prev = f"h{i}"
    net.add_population("y", (4,), Readout(accumulate=True))
    net.connect(prev, "y", Dense(rng.normal(size=(sizes[-1], 4))), bias=rng.normal(size=4))
    if recurrent:
        net.connect("y", "h0", Dense(rng.normal(size=(4, sizes[1])) * 0.1), delay=2, name="fb")
    return net.validate()


def egru_lm(seed=0, vocab=50, emb=8, hidden=(16, 12), fuse=True):
    """A random EGRU language model whose layers send events, but not always."""
    rng = np.random.default_rng(seed)
    layers, n_in = [], emb
    for h in hidden:
        layers.append(
            {
                "kernel": rng.normal(size=(n_in, 3 * h)) * 1.5,
                "recurrent_kernel": rng.normal(size=(h, 3 * h)) * 0.5,
                "bias": rng.normal(0.3, 0.5, 3 * h),
                "recurrent_bias": rng.normal(0.0, 0.5, 3 * h),
                "thr": rng.uniform(0.0, 0.2, h),
            }
        )
        n_in = h
    return egru_lm_network(
        rng.normal(size=(vocab, emb)),
        layers,
        rng.normal(size=(vocab, n_in)),
        rng.normal(size=vocab),
        fuse_embedding=fuse,
    )


def assert_same_run(local, dist):
    """Outputs, recordings, final state and counts of two runs are bit for bit equal."""
    outs = local.outputs if isinstance(local.outputs, dict) else {"": local.outputs}
    douts = dist.outputs if isinstance(dist.outputs, dict) else {"": dist.outputs}
    assert outs.keys() == douts.keys()
    for name in outs:
        np.testing.assert_array_equal(outs[name], douts[name], err_msg=name)
    assert local.recordings.keys() == dist.recordings.keys()
    for name in local.recordings:
        np.testing.assert_array_equal(local.recordings[name], dist.recordings[name], err_msg=name)
    assert local.final_state.keys() == dist.final_state.keys()
    for name, entry in local.final_state.items():
        other = dist.final_state[name]
        assert entry["state"].keys() == other["state"].keys()
        for key in entry["state"]:
            np.testing.assert_array_equal(entry["state"][key], other["state"][key])
        assert len(entry["history"]) == len(other["history"])
        for a, b in zip(entry["history"], other["history"]):
            np.testing.assert_array_equal(a, b)
    assert local.counts == dist.counts
    assert local.counts.to_dict() == dist.counts.to_dict()
