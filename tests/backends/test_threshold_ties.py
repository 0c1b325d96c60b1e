"""Exact ties at thresholds: x == θ (FATReLU fires) and ĉ == ϑ (EGRU stays silent).

Every drive below is a sum of dyadic numbers, so it equals the threshold exactly in
float32 and float64 whatever the order of additions: the reference and both cpu
engines must agree with the rule written out by hand.
"""

import numpy as np
import pytest

import neuro

RUNS = [
    ("reference", {}),
    ("cpu", {"engine": "python", "dtype": "float64"}),
    ("cpu", {"engine": "python", "dtype": "float32"}),
    ("cpu", {"engine": "compiled", "dtype": "float64"}),
    ("cpu", {"engine": "compiled", "dtype": "float32"}),
]
IDS = ["reference", "python-f64", "python-f32", "compiled-f64", "compiled-f32"]
try:  # the lava environment (Python 3.10) checks the ties in Lava processes too
    import lava.magma.core.run_configs  # noqa: F401

    RUNS.append(("lava", {}))
    IDS.append("lava")
except ImportError:
    pass


def _run(net, x, backend, opts):
    pops = [n for n, p in net.populations.items() if not p.model.is_input]
    return neuro.run(net, x, backend=backend, record=pops, **opts)


def _fatrelu_net(theta, w):
    net = neuro.Network(name="ties")
    net.add_population("x", (w.shape[0],), neuro.Input())
    net.add_population("h", (w.shape[1],), neuro.FATReLU(theta))
    net.add_population("y", (1,), neuro.Readout())
    net.connect("x", "h", neuro.Dense(w))
    net.connect("h", "y", neuro.Dense(np.ones((w.shape[1], 1))))
    return net


@pytest.mark.parametrize("backend, opts", RUNS, ids=IDS)
def test_fatrelu_fires_at_exactly_theta(backend, opts):
    """Unit j's drive is 0.25 · (j - 2) + 0.5: units at θ = 0.5 fire, just below do not."""
    theta = 0.5
    w = np.zeros((3, 6))
    w[0] = [0.0, 0.25, 0.5, 0.75, 1.0, 0.5]  # one event of value 1 (or 0.5) ...
    w[1] = [0.0, 0.25, 0.0, -0.25, 0.0, 0.0]  # ... plus a second event that may cancel
    w[2, 5] = 0.5  # two halves of the threshold
    x = np.array([[[1.0, 1.0, 1.0]], [[1.0, 0.0, 0.0]], [[0.5, 1.0, 0.0]]])
    drive = x @ w
    expected = np.where(drive >= theta, drive, 0.0)
    r = _run(_fatrelu_net(theta, w), x, backend, opts)
    got = r.recordings["h"].reshape(expected.shape)
    np.testing.assert_array_equal(got, expected)
    # the ties themselves: drive == θ exactly, and they fired
    ties = drive == theta
    assert ties.sum() >= 5
    assert (got[ties] == theta).all()
    assert r.counts.populations["h"].events == int(np.count_nonzero(expected))


@pytest.mark.parametrize("backend, opts", RUNS, ids=IDS)
def test_fatrelu_just_below_theta_is_silent(backend, opts):
    """The largest float below θ (in the run's precision) sends nothing."""
    dtype = np.float32 if opts.get("dtype") == "float32" else np.float64
    theta = 0.375
    below = float(np.nextafter(dtype(theta), dtype(0)))
    w = np.eye(2)
    x = np.array([[[theta, below]]])
    r = _run(_fatrelu_net(theta, w), x, backend, opts)
    np.testing.assert_array_equal(r.recordings["h"].reshape(2), [theta, 0.0])


@pytest.mark.parametrize("backend, opts", RUNS, ids=IDS)
def test_per_channel_conv_thresholds_tie(backend, opts):
    """A 2x2 all-0.25 kernel over 0/1 inputs: drives are multiples of 0.25, θ per channel."""
    theta = np.array([0.5, 0.75])
    conv = neuro.Conv2d(np.full((2, 1, 2, 2), 0.25), (1, 3, 3), padding=1)
    net = neuro.Network(name="conv ties")
    net.add_population("x", (1, 3, 3), neuro.Input())
    net.add_population("c", conv.out_shape, neuro.FATReLU(theta))
    net.connect("x", "c", conv)
    x = np.array([[[[1, 1, 0], [0, 1, 1], [1, 0, 1]]]], float)[None]  # (T=1, B=1, 1, 3, 3)
    xp = np.pad(x[0, 0, 0], 1)
    drive = np.array(
        [[xp[i : i + 2, j : j + 2].sum() * 0.25 for j in range(4)] for i in range(4)]
    )  # (4, 4), the same for both channels
    expected = np.stack([np.where(drive >= t, drive, 0.0) for t in theta])
    assert (drive == 0.5).any() and (drive == 0.75).any()
    r = _run(net, x, backend, opts)
    np.testing.assert_array_equal(r.recordings["c"].reshape(2, 4, 4), expected)


def _egru_net(thresholds):
    """EGRU units whose gates are exact: z = r = σ(0) = 1/2, g = tanh(0) = 0 or tanh(40) = 1."""
    h = len(thresholds)
    w = np.zeros((1, 3 * h))
    w[0, 2 * h :] = 40.0  # x = 1 drives g to tanh(40) == 1.0 exactly; x = 0 gives g = 0
    net = neuro.Network(name="egru ties")
    net.add_population("x", (1,), neuro.Input())
    net.add_population("e", (h,), neuro.EGRU(np.asarray(thresholds, float)))
    net.connect("x", "e", neuro.Dense(w))
    net.connect("e", "e", neuro.Dense(np.zeros((h, 3 * h))), port="recurrent", delay=1)
    return net


def _egru_by_hand(thresholds, xs):
    """ĉ = c/2 + g/2, event iff ĉ > ϑ (strict), y = ĉ, c = ĉ − ϑ on an event."""
    c = np.zeros(len(thresholds))
    out = []
    for x in xs:
        c_hat = 0.5 * c + 0.5 * (1.0 if x else 0.0)
        event = c_hat > thresholds
        out.append(np.where(event, c_hat, 0.0))
        c = np.where(event, c_hat - thresholds, c_hat)
    return np.array(out), c


@pytest.mark.parametrize("backend, opts", RUNS, ids=IDS)
def test_egru_is_silent_at_exactly_theta(backend, opts):
    """ĉ takes the values 0.5, 0.75, 0.875, ... exactly; ϑ equal to them must not fire."""
    assert np.tanh(40.0) == 1.0 and np.tanh(np.float32(40.0)) == 1.0
    thresholds = np.array([0.5, 0.75, 0.25, 0.375, 0.4375, 0.0])
    xs = [1, 1, 1, 0, 1, 0]
    expected, c_final = _egru_by_hand(thresholds, xs)
    # the ties happen: unit 0 at step 0 (ĉ = 0.5), unit 1 at step 1 (ĉ = 0.75), ...
    assert np.isclose(expected, 0).sum() > 0
    r = _run(_egru_net(thresholds), np.array(xs, float).reshape(-1, 1, 1), backend, opts)
    got = r.recordings["e"].reshape(expected.shape)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(r.final_state["e"]["state"]["c"].reshape(-1), c_final)
    assert got[0, 0] == 0.0 and got[1, 1] == 0.0  # ĉ == ϑ: silent
    assert got[0, 2] == 0.5  # ĉ > ϑ: fires with ĉ


def test_egru_hand_rule_sees_the_ties():
    """The hand-written schedule above really contains ĉ == ϑ at the asserted places."""
    thresholds = np.array([0.5, 0.75])
    c = np.zeros(2)
    c_hats = []
    for x in [1, 1]:
        c_hat = 0.5 * c + 0.5 * x
        c_hats.append(c_hat)
        c = np.where(c_hat > thresholds, c_hat - thresholds, c_hat)
    assert c_hats[0][0] == 0.5 and c_hats[1][1] == 0.75
