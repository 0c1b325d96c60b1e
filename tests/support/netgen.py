"""Seeded random event networks of every kind for backend equivalence tests.

The kind of network is chosen by the caller, never by the seed:

* ``"mlp"``: FATReLU MLPs with skip connections, feed-forward delays and delayed feedback;
* ``"cnn"``: FATReLU CNNs (stride, padding, groups, borders) and a delayed readout path;
* ``"rnn"``: recurrent nets of EGRU and FATReLU layers: self-recurrence with delays 1-4,
  feedback from the readout with delays over 2;
* ``"rcnn"``: recurrent CNNs: a convolution of a layer onto itself (delay 1-4) and delayed
  feedback from the readout into a convolutional layer;
* ``"mixed"``: SAS, k-WTA (global and local), EGRU and FATReLU layers in one network.

Further kinds (:data:`MORE_KINDS`, for the backend conformance suite):

* ``"depthwise"``: depthwise convolutions (groups = channels, stride, padding) and average
  pooling (a depthwise Conv2d of weights 1 / (kh kw));
* ``"maxpool"``: max pooling (stride, padding, dilation, ceil_mode, global) of FATReLU or
  signed (readout) layers;
* ``"egru"``: EGRU stacks with feed-forward delays and delayed feedback from the readout;
* ``"tokens"``: token inputs through an embedding (a lookup) into EGRU or FATReLU layers;
* ``"kwta"``: global k-WTA (ties, boost, relu) and local k-WTA over channels;
* ``"sas"``: SAS 1:M (M = 2, 4) on flat and convolutional layers;
* ``"complementary"``: packed complementary-sparse dense and conv operators.

Weights are scaled so that each layer's drive has unit-order spread and thresholds sit
inside it: :func:`assert_layers_fire` checks that every layer fires on a reasonable share
of its units, so no run is vacuous.
"""

import numpy as np

from neuro import (
    EGRU,
    KWTA,
    SAS,
    Conv2d,
    Dense,
    FATReLU,
    Input,
    Network,
    Readout,
    Sparse,
    TokenInput,
)

KINDS = ("mlp", "cnn", "rnn", "rcnn", "mixed")
POOL = "pool"  # the pooling population of the "depthwise" and "maxpool" kinds
MORE_KINDS = ("depthwise", "maxpool", "egru", "tokens", "kwta", "sas", "complementary")
ALL_KINDS = KINDS + MORE_KINDS
COMPILED_KINDS = ("mlp", "cnn", "rnn", "rcnn")  # built-in kernels of the compiled cpu engine


def _weights(rng, n_pre, n_out, sparse_ok=True, gain=1.5):
    """A random weight operator; columns scaled to a drive of spread ~gain."""
    density = rng.uniform(0.3, 1.0)
    w = rng.normal(size=(n_pre, n_out)) * gain / np.sqrt(max(1.0, density * n_pre))
    w[rng.random(w.shape) > density] = 0
    if sparse_ok and rng.random() < 0.4:
        return Sparse.from_matrix(w)
    return Dense(w)


def _threshold(rng, channels):
    if rng.random() < 0.5:
        return rng.uniform(0, 0.3)
    return rng.uniform(0, 0.3, size=channels)


def _fatrelu(net, rng, name, shape):
    net.add_population(name, shape, FATReLU(_threshold(rng, shape[0])))


def _bias(rng, n):
    return rng.normal(size=n) * 0.1 if rng.random() < 0.5 else None


def _conv(rng, shape, same=False):
    """A random Conv2d on ``shape``; ``same`` keeps the shape (for recurrence)."""
    c_in = shape[0]
    groups = int(rng.choice([g for g in (1, 2, 3) if c_in % g == 0]))
    if same:
        c_out = c_in
        k = (int(rng.choice([1, 3])), int(rng.choice([1, 3])))
        pad = (k[0] // 2, k[1] // 2)
        stride = (1, 1)
    else:
        c_out = groups * int(rng.integers(1, 4))
        k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        pad = (int(rng.integers(0, 3)), int(rng.integers(0, 2)))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        if shape[1] + 2 * pad[0] < k[0] or shape[2] + 2 * pad[1] < k[1]:
            k = (1, 1)
    fan_in = k[0] * k[1] * c_in / groups
    density = rng.uniform(0.6, 1.0)
    w = rng.normal(size=(c_out, c_in // groups, *k)) * 2.0 / np.sqrt(density * fan_in)
    w[rng.random(w.shape) > density] = 0
    return Conv2d(w, shape, stride=stride, padding=pad, groups=groups)


def _readout(net, rng, prev, n_pre, delay=0):
    n_out = int(rng.integers(1, 6))
    net.add_population("out", (n_out,), Readout(accumulate=bool(rng.random() < 0.3)))
    net.connect(prev, "out", _weights(rng, n_pre, n_out), bias=rng.normal(size=n_out), delay=delay)
    return n_out


def random_mlp(rng):
    net = Network(name="mlp")
    sizes = [int(rng.integers(3, 40)) for _ in range(int(rng.integers(2, 5)))]
    net.add_population("in", (sizes[0],), Input())
    names = ["in"]
    for i, n in enumerate(sizes[1:]):
        name = f"h{i}"
        _fatrelu(net, rng, name, (n,))
        delay = int(rng.integers(1, 5)) if rng.random() < 0.25 else 0  # feed-forward delay
        net.connect(names[-1], name, _weights(rng, sizes[i], n), bias=_bias(rng, n), delay=delay)
        names.append(name)
    n_out = _readout(net, rng, names[-1], sizes[-1])
    if rng.random() < 0.4:  # skip connection, possibly delayed
        delay = int(rng.integers(0, 5))
        net.connect("in", "out", _weights(rng, sizes[0], n_out), name="skip", delay=delay)
    if len(names) > 1 and rng.random() < 0.5:  # recurrent, delayed
        target = names[int(rng.integers(1, len(names)))]
        n_t = net.populations[target].size
        net.connect(
            "out",
            target,
            _weights(rng, n_out, n_t, gain=0.5),
            delay=int(rng.integers(1, 5)),
            name="feedback",
        )
    return net


def random_cnn(rng, recurrent=False):
    net = Network(name="rcnn" if recurrent else "cnn")
    c = int(rng.integers(1, 4))
    shape = (c, int(rng.integers(4, 10)), int(rng.integers(4, 10)))
    net.add_population("in", shape, Input())
    prev = "in"
    convs = []
    for i in range(int(rng.integers(1, 3))):
        op = _conv(rng, shape)
        name = f"conv{i}"
        net.add_population(name, op.out_shape, FATReLU(_threshold(rng, op.out_shape[0])))
        net.connect(prev, name, op, bias=_bias(rng, op.out_shape[0]))
        prev, shape = name, op.out_shape
        convs.append(name)
    if recurrent:  # a convolution of a layer onto itself
        target = convs[int(rng.integers(len(convs)))]
        t_shape = net.populations[target].shape
        op = _conv(rng, t_shape, same=True)
        scaled = Conv2d(op.weight * 0.5, t_shape, padding=op.padding, groups=op.groups)
        net.connect(target, target, scaled, delay=int(rng.integers(1, 5)), name="self")
    delay = int(rng.integers(1, 4)) if rng.random() < 0.3 else 0  # delayed readout path
    n_out = _readout(net, rng, prev, int(np.prod(shape)), delay=delay)
    if recurrent and rng.random() < 0.7:  # feedback from the readout into a conv layer
        target = convs[int(rng.integers(len(convs)))]
        n_t = net.populations[target].size
        net.connect(
            "out",
            target,
            _weights(rng, n_out, n_t, gain=0.5),
            delay=int(rng.integers(1, 5)),
            name="feedback",
        )
    return net


def _egru(net, rng, name, pre, n_pre, n, delay=0):
    net.add_population(name, (n,), EGRU(rng.uniform(0, 0.15, size=n)))
    w, b = _weights(rng, n_pre, 3 * n, gain=2.5), rng.normal(size=3 * n) * 0.3
    net.connect(pre, name, w, bias=b, delay=delay)
    net.connect(
        name,
        name,
        _weights(rng, n, 3 * n, gain=1.0),
        port="recurrent",
        delay=1,
        bias=rng.normal(size=3 * n) * 0.1,
        name=f"{name}.rec",
    )


def random_rnn(rng):
    """EGRU and FATReLU layers with self-recurrence and long delays."""
    net = Network(name="rnn")
    n_in = int(rng.integers(3, 20))
    net.add_population("in", (n_in,), Input())
    prev, n_prev = "in", n_in
    hidden = []
    for i in range(int(rng.integers(1, 4))):
        n = int(rng.integers(3, 25))
        name = f"r{i}"
        if rng.random() < 0.5:
            _egru(net, rng, name, prev, n_prev, n)
        else:
            _fatrelu(net, rng, name, (n,))
            net.connect(prev, name, _weights(rng, n_prev, n), bias=_bias(rng, n))
            net.connect(  # self-recurrence, delay 1-4
                name,
                name,
                _weights(rng, n, n, gain=0.6),
                delay=int(rng.integers(1, 5)),
                name=f"{name}.self",
            )
        hidden.append(name)
        prev, n_prev = name, n
    n_out = _readout(net, rng, prev, n_prev)
    target = hidden[int(rng.integers(len(hidden)))]
    if net.populations[target].model.type == "fatrelu":
        n_t = net.populations[target].size
        net.connect(
            "out",
            target,
            _weights(rng, n_out, n_t, gain=0.5),
            delay=int(rng.integers(3, 6)),
            name="feedback",
        )
    return net


def random_mixed(rng):
    """SAS, k-WTA (global or local), EGRU and FATReLU layers in one network."""
    net = Network(name="mixed")
    if rng.random() < 0.5:  # convolutional front: local k-WTA over channels
        c = int(rng.integers(2, 4))
        shape = (c, int(rng.integers(3, 7)), int(rng.integers(3, 7)))
        net.add_population("in", shape, Input())
        op = _conv(rng, shape)
        c_out = op.out_shape[0]
        if c_out < 2:
            op = Conv2d(np.repeat(op.weight, 2, axis=0), shape, op.stride, op.padding, op.groups)
            c_out = op.out_shape[0]
        k = int(rng.integers(max(1, c_out // 2), c_out))
        net.add_population("kw", op.out_shape, KWTA(k, local=True, channels=c_out))
        net.connect("in", "kw", op, bias=_bias(rng, c_out))
        m = int(rng.choice([2, 4]))
        if c_out % max(1, m.bit_length() - 1):
            m = 2
        sas_shape = (c_out * m, *op.out_shape[1:])
        net.add_population("sas", sas_shape, SAS(m, channels=c_out))
        net.connect("kw", "sas", Dense(np.eye(op.n_out)))
        prev, n_prev = "sas", int(np.prod(sas_shape))
    else:  # flat front: SAS then global k-WTA
        n_in = 2 * int(rng.integers(2, 12))
        net.add_population("in", (n_in,), Input())
        m = int(rng.choice([2, 4]))
        net.add_population("sas", (n_in * m,), SAS(m))
        net.connect("in", "sas", _weights(rng, n_in, n_in), bias=_bias(rng, n_in))
        n = int(rng.integers(4, 30))
        k = int(rng.integers(max(1, n // 5), n))
        ties = str(rng.choice(["index", "keep"]))
        net.add_population("kw", (n,), KWTA(k, ties=ties, relu=bool(rng.random() < 0.5)))
        net.connect("sas", "kw", _weights(rng, n_in * m, n), bias=_bias(rng, n))
        prev, n_prev = "kw", n
    n = int(rng.integers(3, 20))
    _egru(net, rng, "egru", prev, n_prev, n)
    n_h = int(rng.integers(3, 20))
    _fatrelu(net, rng, "h", (n_h,))
    net.connect("egru", "h", _weights(rng, n, n_h), bias=_bias(rng, n_h))
    n_out = _readout(net, rng, "h", n_h)
    if rng.random() < 0.5:
        net.connect("out", "h", _weights(rng, n_out, n_h, gain=0.5), delay=3, name="feedback")
    return net


def _pick(rng, variant, p):
    """The variant of a builder: ``variant == 1`` when given, else a draw of probability p."""
    return bool(variant) if variant is not None else bool(rng.random() < p)


def random_depthwise(rng, variant=None):
    """Depthwise convolutions (channel multiplier 1 or 2 = ``variant`` + 1, stride,
    padding) and average pooling."""
    net = Network(name="depthwise")
    c = int(rng.integers(2, 4))
    shape = (c, int(rng.integers(5, 10)), int(rng.integers(5, 10)))
    net.add_population("in", shape, Input())
    mult = 1 + int(_pick(rng, variant, 0.5))
    k = (int(rng.integers(1, 4)), int(rng.integers(2, 4)))
    pad = (int(rng.integers(0, k[0] // 2 + 1)), int(rng.integers(0, k[1] // 2 + 1)))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    w = rng.normal(size=(c * mult, 1, *k)) * 2.0 / np.sqrt(k[0] * k[1])
    w[rng.random(w.shape) > rng.uniform(0.6, 1.0)] = 0
    dw = Conv2d(w, shape, stride=stride, padding=pad, groups=c)
    net.add_population("dw", dw.out_shape, FATReLU(_threshold(rng, dw.out_shape[0])))
    net.connect("in", "dw", dw, bias=_bias(rng, dw.out_shape[0]))
    shape = dw.out_shape
    kp = int(rng.integers(2, 4)) if min(shape[1:]) >= 3 else int(min(shape[1:]))
    kp = max(1, min(kp, *shape[1:]))
    sp = int(rng.choice([1, kp]))
    pp = int(rng.integers(0, kp // 2 + 1))
    pool = Conv2d(np.full((shape[0], 1, kp, kp), 1.0 / kp**2), shape, sp, pp, groups=shape[0])
    net.add_population(POOL, pool.out_shape, FATReLU(rng.uniform(0, 0.1)))
    net.connect("dw", POOL, pool)
    _readout(net, rng, POOL, pool.n_out)
    return net


def random_maxpool(rng, variant=None):
    """Max pooling of a FATReLU or (``variant`` 1) a signed readout layer: stride, padding,
    dilation, ceil_mode, or a global pool; then a readout."""
    from neuro.models.maxpool import MaxPool, routing

    net = Network(name="maxpool")
    c = int(rng.integers(1, 4))
    shape = (c, int(rng.integers(5, 10)), int(rng.integers(5, 10)))
    net.add_population("in", shape, Input())
    op = _conv(rng, shape)
    signed = _pick(rng, variant, 0.4)  # negative values: padding must act as -inf
    model = Readout() if signed else FATReLU(_threshold(rng, op.out_shape[0]))
    net.add_population("conv0", op.out_shape, model)
    net.connect("in", "conv0", op, bias=_bias(rng, op.out_shape[0]))
    shape = op.out_shape
    if min(shape[1:]) < 3 or (not signed and rng.random() < 0.3):  # global max pool
        pool = MaxPool(shape, shape[1:], shape[1:])
        pop_shape = (shape[0],)
    else:
        k = int(rng.integers(2, 4))
        dil = int(rng.choice([1, 2])) if min(shape[1:]) > 2 * k else 1
        pool = MaxPool(
            shape,
            (k, k),
            (int(rng.integers(1, 4)),) * 2,
            (int(rng.integers(0, k // 2 + 1)),) * 2,
            (dil, dil),
            bool(rng.random() < 0.5),
        )
        pop_shape = pool.out_shape()
    net.add_population(POOL, pop_shape, pool)
    net.connect("conv0", POOL, routing(pool))
    _readout(net, rng, POOL, int(np.prod(pop_shape)))
    return net


def random_egru(rng, variant=None):
    """EGRU stacks of 1 or (``variant`` 1) 2 layers: feed-forward delays between layers,
    delayed feedback into the first."""
    net = Network(name="egru")
    n_in = int(rng.integers(3, 12))
    net.add_population("in", (n_in,), Input())
    prev, n_prev = "in", n_in
    for i in range(1 + int(_pick(rng, variant, 0.5))):
        n = int(rng.integers(3, 15))
        delay = int(rng.integers(1, 4)) if i and rng.random() < 0.5 else 0  # feed-forward
        _egru(net, rng, f"e{i}", prev, n_prev, n, delay=delay)
        prev, n_prev = f"e{i}", n
    n_out = _readout(net, rng, prev, n_prev)
    if rng.random() < 0.6:
        n_t = net.populations["e0"].size
        net.connect(
            "out", "e0", _weights(rng, n_out, 3 * n_t, gain=0.5), delay=int(rng.integers(3, 6)),
            name="feedback",
        )  # fmt: skip
    return net


def random_tokens(rng, variant=None):
    """Token ids through an embedding (dense or sparse) into a FATReLU or (``variant`` 1)
    an EGRU layer."""
    net = Network(name="tokens")
    vocab = int(rng.integers(5, 30))
    net.add_population("in", (vocab,), TokenInput())
    n = int(rng.integers(3, 15))
    if _pick(rng, variant, 0.5):
        _egru(net, rng, "h", "in", vocab, n)
    else:
        _fatrelu(net, rng, "h", (n,))
        net.connect("in", "h", _weights(rng, vocab, n, gain=2.5), bias=_bias(rng, n))
    _readout(net, rng, "h", n)
    return net


def random_kwta(rng, variant=None):
    """Global k-WTA (ties, boost, relu) on a flat layer, or (``variant`` 1) local or global
    k-WTA on a conv layer; then a second global k-WTA."""
    net = Network(name="kwta")
    if _pick(rng, variant, 0.5):
        c = int(rng.integers(2, 4))
        shape = (c, int(rng.integers(3, 7)), int(rng.integers(3, 7)))
        net.add_population("in", shape, Input())
        op = _conv(rng, shape)
        if op.out_shape[0] < 2:
            op = Conv2d(np.repeat(op.weight, 2, axis=0), shape, op.stride, op.padding, op.groups)
        c_out = op.out_shape[0]
        boost = rng.uniform(0.5, 2.0, size=c_out) if rng.random() < 0.5 else None
        ties = str(rng.choice(["index", "keep"]))
        if rng.random() < 0.7:  # local: winners among the channels at each position
            model = KWTA(int(rng.integers(1, c_out)), True, ties, False, boost, channels=c_out)
        else:  # global over the whole (C, H, W) layer
            k = int(rng.integers(max(1, op.n_out // 5), op.n_out))
            model = KWTA(k, False, ties, bool(rng.random() < 0.5), boost, channels=c_out)
        net.add_population("kw", op.out_shape, model)
        net.connect("in", "kw", op, bias=_bias(rng, c_out))
        n_prev = op.n_out
    else:
        n_in = int(rng.integers(3, 20))
        net.add_population("in", (n_in,), Input())
        n_prev = int(rng.integers(4, 30))
        k = int(rng.integers(max(1, n_prev // 5), n_prev))
        boost = rng.uniform(0.5, 2.0, size=n_prev) if rng.random() < 0.5 else None
        ties = str(rng.choice(["index", "keep"]))
        net.add_population("kw", (n_prev,), KWTA(k, False, ties, bool(rng.random() < 0.5), boost))
        net.connect("in", "kw", _weights(rng, n_in, n_prev), bias=_bias(rng, n_prev))
    n = int(rng.integers(4, 20))
    net.add_population("kw2", (n,), KWTA(int(rng.integers(1, n)), relu=bool(rng.random() < 0.5)))
    net.connect("kw", "kw2", _weights(rng, n_prev, n), bias=_bias(rng, n))
    n_out = _readout(net, rng, "kw2", n)
    if rng.random() < 0.5:
        net.connect("out", "kw2", _weights(rng, n_out, n, gain=0.5), delay=3, name="feedback")
    return net


def random_sas(rng, variant=None):
    """SAS 1:M on a flat layer (M = 2 or 4), or (``variant`` 1) on the channels of a conv
    layer (M = 4 or 2), possibly followed by a convolution."""
    net = Network(name="sas")
    prev = "sas"
    conv = _pick(rng, variant, 0.5)
    m = int(rng.choice([2, 4], p=[0.25, 0.75] if conv else [0.75, 0.25]))
    g = max(1, m.bit_length() - 1)  # channels per sign group
    if conv:
        c = int(rng.integers(1, 3))
        shape = (c, int(rng.integers(3, 7)), int(rng.integers(3, 7)))
        net.add_population("in", shape, Input())
        op = _conv(rng, shape)
        if op.out_shape[0] % g:
            op = Conv2d(np.repeat(op.weight, g, axis=0), shape, op.stride, op.padding, op.groups)
        c_out = op.out_shape[0]
        sas_shape = (c_out * m, *op.out_shape[1:])
        net.add_population("sas", sas_shape, SAS(m, channels=c_out))
        net.connect("in", "sas", op, bias=_bias(rng, c_out))
        if rng.random() < 0.5:  # a convolution of the SAS layer (padding, stride)
            op = _conv(rng, sas_shape)
            net.add_population("c", op.out_shape, FATReLU(_threshold(rng, op.out_shape[0])))
            net.connect("sas", "c", op, bias=_bias(rng, op.out_shape[0]))
            sas_shape = op.out_shape
            prev = "c"
    else:
        n_in = int(rng.integers(3, 15))
        net.add_population("in", (n_in,), Input())
        n = g * int(rng.integers(2, 10))
        sas_shape = (n * m,)
        net.add_population("sas", sas_shape, SAS(m))
        net.connect("in", "sas", _weights(rng, n_in, n), bias=_bias(rng, n))
    n_sas = int(np.prod(sas_shape))
    n_h = int(rng.integers(3, 20))
    _fatrelu(net, rng, "h", (n_h,))
    net.connect(prev, "h", _weights(rng, n_sas, n_h), bias=_bias(rng, n_h))
    _readout(net, rng, "h", n_h)
    return net


def _complementary_dense(rng, n_pre, n_out, g, gain=1.5):
    from neuro.ir.complementary import complementary_masks

    w = np.zeros((n_pre, n_out))
    for start in range(0, n_out, g):
        stop = min(n_out, start + g)
        masks = complementary_masks(g, (n_pre,), seed=rng)[: stop - start]
        w[:, start:stop] = (rng.normal(size=masks.shape) * masks).T
    return w * gain * np.sqrt(g / n_pre)


def random_complementary(rng, variant=None):
    """Packed complementary-sparse operators: a conv (stride, padding) and a dense layer,
    into FATReLU or (``variant`` 1) local k-WTA layers."""
    from neuro.ir.complementary import complementary_masks, pack

    net = Network(name="complementary")
    c = int(rng.integers(2, 5))
    shape = (c, int(rng.integers(4, 8)), int(rng.integers(4, 8)))
    net.add_population("in", shape, Input())
    g = int(rng.integers(2, 4))
    c_out = g * int(rng.integers(1, 3))
    k = int(rng.choice([1, 3]))
    w = np.zeros((c_out, c, k, k))
    for start in range(0, c_out, g):
        masks = complementary_masks(g, (c, k, k), seed=rng)
        w[start : start + g] = rng.normal(size=masks.shape) * masks * 2.0 * np.sqrt(g / (c * k * k))
    conv = pack(
        Conv2d(w, shape, stride=int(rng.integers(1, 3)), padding=int(rng.integers(0, k // 2 + 1))),
        g,
    )
    if _pick(rng, variant, 0.5) and c_out > 1:
        model = KWTA(int(rng.integers(1, c_out)), local=True, channels=c_out)
    else:
        model = FATReLU(_threshold(rng, c_out))
    net.add_population("h", conv.out_shape, model)
    net.connect("in", "h", conv, bias=_bias(rng, c_out))
    n_h = int(np.prod(conv.out_shape))
    n = int(rng.integers(4, 16))
    g2 = int(rng.integers(2, 5))
    _fatrelu(net, rng, "h2", (n,))
    net.connect("h", "h2", pack(_complementary_dense(rng, n_h, n, g2), g2), bias=_bias(rng, n))
    _readout(net, rng, "h2", n)
    return net


_BUILDERS = {
    "mlp": random_mlp,
    "cnn": random_cnn,
    "rnn": random_rnn,
    "rcnn": lambda rng: random_cnn(rng, recurrent=True),
    "mixed": random_mixed,
    "depthwise": random_depthwise,
    "maxpool": random_maxpool,
    "egru": random_egru,
    "tokens": random_tokens,
    "kwta": random_kwta,
    "sas": random_sas,
    "complementary": random_complementary,
}


def _draw(seed, kind, attempt):
    rng = np.random.default_rng([seed, ALL_KINDS.index(kind), attempt])
    if kind in MORE_KINDS:  # the seed's parity chooses the variant: two seeds cover both
        net = _BUILDERS[kind](rng, variant=seed % 2)
    else:
        net = _BUILDERS[kind](rng)
    batch = int(rng.integers(1, 5))
    pop = net.populations["in"]
    shape = pop.model.sample_shape(pop.shape)
    max_delay = max((p.delay for p in net.projections.values()), default=0)
    if max_delay:
        steps = max_delay + int(rng.integers(2, 5))
    else:
        steps = int(rng.integers(2, 5)) if rng.random() < 0.3 else 1
    if pop.model.type == "token":  # a token stream: at least two steps
        steps = max(steps, 2)
        return net, rng.integers(0, pop.size, size=(steps, batch)), steps
    x = rng.normal(size=(steps, batch, *shape))
    x[rng.random(x.shape) < rng.uniform(0.2, 0.7)] = 0
    return net, x, steps


def random_case(seed, kind="mlp"):
    """A (network, inputs, steps) triple of ``kind`` (one of :data:`ALL_KINDS`) for ``seed``.

    Draws are repeated (deterministically) until every layer fires on a reasonable share
    of its units in the reference run (:func:`assert_layers_fire`), so no case is vacuous.
    """
    import neuro

    for attempt in range(100):
        net, x, steps = _draw(seed, kind, attempt)
        ref = neuro.run(net, x, backend="reference", record=list(net.populations))
        if layers_fire(net, ref.recordings):
            return net, x, steps
    raise AssertionError(f"no non-vacuous {kind} network for seed {seed}")  # pragma: no cover


def cases(kinds=KINDS, per_kind=8, start=0):
    """``pytest.param``-ready (seed, kind) pairs: ``per_kind`` seeds of every kind."""
    return [(seed, kind) for kind in kinds for seed in range(start, start + per_kind)]


def _firing(net, recordings):
    for name, pop in net.populations.items():
        if pop.model.is_input:
            continue
        r = np.asarray(recordings[name]).reshape(-1, pop.size) != 0
        yield name, pop.model.type, r.any(axis=0).mean(), r.mean()


MIN_UNITS = 0.2  # share of a layer's units that must fire at least once in a run
MIN_RATE = 0.03  # share of (step, sample, unit) entries that must be non-zero


def layers_fire(net, recordings):
    """True when every non-input population fires on a reasonable share of its units."""
    return all(u >= MIN_UNITS and r >= MIN_RATE for _, _, u, r in _firing(net, recordings))


def assert_layers_fire(net, recordings):
    """Every non-input population fires on >= 20 % of its units and >= 3 % of entries.

    ``recordings[name]`` has shape (T, B, *shape).
    """
    for name, kind, units, rate in _firing(net, recordings):
        assert units >= MIN_UNITS and rate >= MIN_RATE, (
            f"{net.name}: layer {name!r} ({kind}) fires on {units:.0%} of units, "
            f"rate {rate:.1%}: a vacuous run"
        )


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


def _masks(op, stored):
    """0/1 pattern of a non-conv operator: non-zero weights, or all connections of the
    dense layer (whatever the storage: a Sparse store of a matrix counts its zeros too)."""
    if stored:
        return np.ones((op.n_pre, op.n_out), np.int64)
    if isinstance(op, Dense):
        return np.ones(op.weight.shape, np.int64) if stored else (op.weight != 0).astype(np.int64)
    m = np.zeros((op.n_pre, op.n_out), np.int64)
    for i in range(op.n_pre):
        for k in range(op.indptr[i], op.indptr[i + 1]):
            if stored or op.data[k] != 0:
                m[i, op.indices[k]] = 1
    return m


def _pairs(op, active, stored):
    """(active input, weight) pairs of one delivery; ``active`` is a (B, n_pre) 0/1 array."""
    if isinstance(op, Conv2d):
        kernel = np.ones(op.weight.shape, bool) if stored else op.weight != 0
        act = active.reshape(active.shape[0], *op.in_shape)
        return conv_pairs(act, kernel, op.stride, op.padding, op.groups)
    return int((active.astype(np.int64) @ _masks(op, stored)).sum())


def independent_synops(net, activity, steps, stored=False):
    """Σ over projections and delivered events of non-zero-input × non-zero-weight pairs.

    ``activity[name]`` is the (T, B, n) output of each population.  With ``stored`` every
    connection of the dense layer counts, zero weights included: the activity-sparse MACs.
    """
    total = 0
    for p in net.projections.values():
        for t in range(p.delay, steps):
            total += _pairs(p.weights, activity[p.pre][t - p.delay] != 0, stored)
    return total


def independent_static_macs(net, batch, steps):
    """(dense MACs, weight-sparse MACs): every input of every step, all connections or
    non-zero weights only, whatever the activity and the delays."""
    dense = sparse = 0
    for p in net.projections.values():
        ones = np.ones((1, net.populations[p.pre].size), bool)
        dense += _pairs(p.weights, ones, True)
        sparse += _pairs(p.weights, ones, False)
    return dense * batch * steps, sparse * batch * steps


def independent_projection_synops(net, activity, steps):
    """Per projection: Σ over delivered events of non-zero-input × non-zero-weight pairs.

    ``activity[name]`` is the (T, B, n) output of each population.  Complementary
    operators are counted on their unpacked Dense / Conv2d form.

    Returns
    -------
    dict of str → int
    """
    out = {}
    for name, p in net.projections.items():
        op = p.weights.unpack() if hasattr(p.weights, "unpack") else p.weights
        out[name] = sum(
            _pairs(op, activity[p.pre][t - p.delay] != 0, False) for t in range(p.delay, steps)
        )
    return out
