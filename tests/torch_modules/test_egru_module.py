"""EGRU module against an independent numpy implementation of the equations."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

from neuro.exceptions import ConversionError, ParameterError, ShapeError  # noqa: E402
from neuro.torch import (  # noqa: E402
    EGRU,
    egru_step,
    event_rate,
    evnn_activity_loss,
    supra_threshold_l1,
)


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def numpy_egru(x, y0, c0, W, R, bx, br, thr):
    """Reference EGRU over time-major x [T, B, I]; returns y, c_hat, events, c (each [T, B, H])."""
    H = thr.shape[0]
    y, c = y0.copy(), c0.copy()
    ys, c_hats, events, cs = [], [], [], []
    for t in range(x.shape[0]):
        a = x[t] @ W + bx
        q = y @ R + br
        z = _sigmoid(a[:, :H] + q[:, :H])
        r = _sigmoid(a[:, H : 2 * H] + q[:, H : 2 * H])
        g = np.tanh(a[:, 2 * H :] + r * q[:, 2 * H :])
        c_hat = z * c + (1.0 - z) * g
        fire = c_hat > thr
        y = np.where(fire, c_hat, 0.0)
        c = np.where(fire, c_hat - thr, c_hat)
        ys.append(y)
        c_hats.append(c_hat)
        events.append(fire.astype(np.float64))
        cs.append(c)
    return np.stack(ys), np.stack(c_hats), np.stack(events), np.stack(cs)


def _random_layer(rng, input_size, hidden_size, **kwargs):
    layer = EGRU(input_size, hidden_size, **kwargs).double()
    params = {
        "kernel": rng.normal(0.0, 1.0, (input_size, 3 * hidden_size)),
        "recurrent_kernel": rng.normal(0.0, 1.0, (hidden_size, 3 * hidden_size)),
        "bias": rng.normal(0.0, 0.5, 3 * hidden_size),
        "recurrent_bias": rng.normal(0.0, 0.5, 3 * hidden_size),
        "thr": rng.uniform(0.05, 0.6, hidden_size),
    }
    with torch.no_grad():
        for name, value in params.items():
            getattr(layer, name).copy_(torch.from_numpy(value))
    return layer, params


@pytest.mark.parametrize(
    ("steps", "batch", "input_size", "hidden_size", "seed"),
    [(6, 3, 4, 5, 0), (9, 2, 7, 3, 1), (5, 4, 2, 8, 2), (1, 1, 3, 2, 3)],
)
def test_forward_matches_numpy_with_initial_state(steps, batch, input_size, hidden_size, seed):
    rng = np.random.default_rng(seed)
    layer, p = _random_layer(rng, input_size, hidden_size)
    layer.eval()
    x = rng.normal(0.0, 1.0, (steps, batch, input_size))
    y0 = rng.uniform(0.1, 1.0, (batch, hidden_size))
    y0[rng.random((batch, hidden_size)) < 0.5] = 0.0
    c0 = rng.uniform(-0.5, 1.0, (batch, hidden_size))
    ref_y, ref_c_hat, ref_events, ref_c = numpy_egru(
        x, y0, c0, p["kernel"], p["recurrent_kernel"], p["bias"], p["recurrent_bias"], p["thr"]
    )
    y_seq, (y_T, c_T), act = layer(
        torch.from_numpy(x), (torch.from_numpy(y0), torch.from_numpy(c0)), return_activity=True
    )
    assert y_seq.shape == (steps, batch, hidden_size)
    np.testing.assert_allclose(y_seq.detach().numpy(), ref_y, rtol=0, atol=1e-10)
    np.testing.assert_allclose(y_T.detach().numpy(), ref_y[-1], rtol=0, atol=1e-10)
    np.testing.assert_allclose(c_T.detach().numpy(), ref_c[-1], rtol=0, atol=1e-10)
    np.testing.assert_allclose(act.c_hat.detach().numpy(), ref_c_hat, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(act.events.detach().numpy(), ref_events)
    np.testing.assert_allclose(act.c.detach().numpy(), ref_c, rtol=0, atol=1e-10)


def test_reference_sees_both_events_and_silence():
    # Guard against a vacuous comparison: the random setting must produce a mix.
    rng = np.random.default_rng(0)
    _, p = _random_layer(rng, 4, 5)
    x = rng.normal(0.0, 1.0, (6, 3, 4))
    _, _, events, _ = numpy_egru(
        x, np.zeros((3, 5)), np.zeros((3, 5)), p["kernel"], p["recurrent_kernel"], p["bias"],
        p["recurrent_bias"], p["thr"],
    )  # fmt: skip
    assert 0.05 < events.mean() < 0.95


def test_default_state_is_zero_and_c0_none_means_zero():
    rng = np.random.default_rng(4)
    layer, _ = _random_layer(rng, 3, 4)
    x = torch.from_numpy(rng.normal(size=(5, 2, 3)))
    y0 = torch.from_numpy(rng.uniform(0.0, 1.0, (2, 4)))
    zeros = torch.zeros(2, 4, dtype=torch.float64)
    a, _ = layer(x)
    b, _ = layer(x, (zeros, zeros))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    c, _ = layer(x, (y0, None))
    d, _ = layer(x, y0)  # EvNN convention: a bare tensor is y0
    e, _ = layer(x, (y0, zeros))
    torch.testing.assert_close(c, e, rtol=0, atol=0)
    torch.testing.assert_close(d, e, rtol=0, atol=0)


def test_batch_first_is_a_transpose():
    rng = np.random.default_rng(5)
    layer, p = _random_layer(rng, 3, 4)
    layer_bf = EGRU(3, 4, batch_first=True).double()
    layer_bf.load_state_dict(layer.state_dict())
    x = torch.from_numpy(rng.normal(size=(6, 2, 3)))
    y, (yT, cT), act = layer(x, return_activity=True)
    y_bf, (yT_bf, cT_bf), act_bf = layer_bf(x.transpose(0, 1), return_activity=True)
    torch.testing.assert_close(y_bf, y.transpose(0, 1), rtol=0, atol=0)
    torch.testing.assert_close(act_bf.c_hat, act.c_hat.transpose(0, 1), rtol=0, atol=0)
    torch.testing.assert_close(cT_bf, cT, rtol=0, atol=0)


def test_egru_step_matches_module_and_numpy():
    rng = np.random.default_rng(6)
    layer, p = _random_layer(rng, 3, 4)
    x = rng.normal(size=(4, 2, 3))
    y = torch.zeros(2, 4, dtype=torch.float64)
    c = torch.full((2, 4), 0.2, dtype=torch.float64)
    ref_y, _, _, ref_c = numpy_egru(
        x, y.numpy(), c.numpy(), p["kernel"], p["recurrent_kernel"], p["bias"],
        p["recurrent_bias"], p["thr"],
    )  # fmt: skip
    mod_y, (_, mod_c) = layer(torch.from_numpy(x), (y, c))
    for t in range(4):
        step = egru_step(
            torch.from_numpy(x[t]), y, c, layer.kernel, layer.recurrent_kernel, layer.bias,
            layer.recurrent_bias, layer.thr,
        )  # fmt: skip
        y, c = step.y, step.c
        np.testing.assert_allclose(y.detach().numpy(), ref_y[t], rtol=0, atol=1e-10)
        np.testing.assert_allclose(c.detach().numpy(), ref_c[t], rtol=0, atol=1e-10)
    # The module batches x W over time, so the last bits may differ.
    torch.testing.assert_close(mod_y[-1], y, rtol=0, atol=1e-12)
    torch.testing.assert_close(mod_c, c, rtol=0, atol=1e-12)


def test_state_dict_keys_and_shapes():
    layer = EGRU(7, 5)
    shapes = {k: tuple(v.shape) for k, v in layer.state_dict().items()}
    assert shapes == {
        "kernel": (7, 15),
        "recurrent_kernel": (5, 15),
        "bias": (15,),
        "recurrent_bias": (15,),
        "thr": (5,),
    }
    assert {n for n, _ in layer.named_parameters()} == set(shapes)


def test_initialisation_follows_evnn():
    torch.manual_seed(0)
    layer = EGRU(50, 2000, thr_init_mean=0.2)
    assert torch.all(layer.bias == 0) and torch.all(layer.recurrent_bias == 0)
    assert torch.all((layer.thr > 0) & (layer.thr < 1))
    assert abs(float(layer.thr.detach().mean()) - 0.2) < 0.01
    # xavier normal: std = sqrt(2 / (fan_in + fan_out)) with torch's fan convention.
    std = float(layer.recurrent_kernel.detach().std())
    assert abs(std - (2.0 / (2000 + 6000)) ** 0.5) < 0.002


def _single_unit(thr, dampening_factor=0.7, support=1.0):
    """A 1-in/1-unit layer with zero weights: c_hat = 0.5 * c_prev exactly."""
    layer = EGRU(1, 1, dampening_factor=dampening_factor, pseudo_derivative_support=support)
    layer = layer.double()
    with torch.no_grad():
        for name in ("kernel", "recurrent_kernel", "bias", "recurrent_bias"):
            getattr(layer, name).zero_()
        layer.thr.fill_(thr)
    return layer


def test_threshold_is_strict():
    layer = _single_unit(0.3)
    x = torch.zeros(1, 2, 1, dtype=torch.float64)
    thr = layer.thr.detach()
    c0 = torch.stack([2 * thr, torch.nextafter(2 * thr, torch.tensor(1.0, dtype=torch.float64))])
    y0 = torch.zeros(2, 1, dtype=torch.float64)
    with torch.no_grad():
        y_seq, (y_T, c_T), act = layer(x, (y0, c0), return_activity=True)
    # Unit 0 sits exactly at the threshold: no event, no reset.
    assert float(act.c_hat[0, 0, 0]) == float(thr[0])
    assert float(act.events[0, 0, 0]) == 0.0
    assert float(y_T[0, 0]) == 0.0
    assert float(c_T[0, 0]) == float(thr[0])
    # Unit 1 is one ulp above: it fires, outputs c_hat and is reset by thr.
    assert float(act.events[0, 1, 0]) == 1.0
    assert float(y_T[1, 0]) == float(act.c_hat[0, 1, 0])
    assert float(c_T[1, 0]) == float(act.c_hat[0, 1, 0] - thr[0])


@pytest.mark.parametrize(
    # c_hat = 0.5 * c0; u = c_hat - thr; pd = damp * max(0, 1 - s * |u|)
    ("c0", "support", "dy_dc0", "dy_dthr", "dc_dthr"),
    [
        # c_hat = 0.4, u = 0.1, event, pd = 0.7 * 0.9 = 0.63
        (0.8, 1.0, 0.5 * (1 + 0.4 * 0.63), -0.4 * 0.63, -1 + 0.3 * 0.63),
        # same with s = 2: pd = 0.7 * 0.8 = 0.56
        (0.8, 2.0, 0.5 * (1 + 0.4 * 0.56), -0.4 * 0.56, -1 + 0.3 * 0.56),
        # c_hat = 0.2, u = -0.1, no event, pd = 0.63: gradient flows anyway
        (0.4, 1.0, 0.5 * 0.2 * 0.63, -0.2 * 0.63, 0.3 * 0.63),
        # c_hat = 1.0, u = 0.7, s = 2: outside the support, pd = 0
        (2.0, 2.0, 0.5, 0.0, -1.0),
    ],
)
def test_pseudo_derivative_by_hand(c0, support, dy_dc0, dy_dthr, dc_dthr):
    layer = _single_unit(0.3, dampening_factor=0.7, support=support)
    layer.train()
    x = torch.zeros(1, 1, 1, dtype=torch.float64)
    c0_t = torch.tensor([[c0]], dtype=torch.float64, requires_grad=True)
    y0 = torch.zeros(1, 1, dtype=torch.float64)
    _, (y_T, c_T) = layer(x, (y0, c0_t))
    g_c0, g_thr = torch.autograd.grad(y_T.sum(), (c0_t, layer.thr), retain_graph=True)
    assert float(g_c0) == pytest.approx(dy_dc0, abs=1e-12)
    assert float(g_thr) == pytest.approx(dy_dthr, abs=1e-12)
    (g_thr_c,) = torch.autograd.grad(c_T.sum(), (layer.thr,))
    assert float(g_thr_c) == pytest.approx(dc_dthr, abs=1e-12)


def test_dropconnect_inactive_in_eval_and_matches_f_dropout_in_training():
    rng = np.random.default_rng(8)
    layer, p = _random_layer(rng, 3, 6, dropconnect=0.5)
    x = rng.normal(size=(5, 2, 3))
    zeros = np.zeros((2, 6))
    args = (p["kernel"], p["recurrent_kernel"], p["bias"], p["recurrent_bias"], p["thr"])
    ref_y = numpy_egru(x, zeros, zeros, *args)[0]
    layer.eval()
    for _ in range(2):
        y_eval, _ = layer(torch.from_numpy(x))
        np.testing.assert_allclose(y_eval.detach().numpy(), ref_y, rtol=0, atol=1e-10)
    # In training, the recurrent kernel goes through F.dropout once per call (EvNN).
    layer.train()
    torch.manual_seed(11)
    dropped = F.dropout(layer.recurrent_kernel.detach(), p=0.5, training=True).numpy()
    torch.manual_seed(11)
    y_train, _ = layer(torch.from_numpy(x))
    ref_train = numpy_egru(x, zeros, zeros, p["kernel"], dropped, *args[2:])[0]
    np.testing.assert_allclose(y_train.detach().numpy(), ref_train, rtol=0, atol=1e-10)
    assert not np.allclose(ref_train, ref_y)


def test_backward_reaches_every_parameter():
    torch.manual_seed(1)
    layer = EGRU(3, 8, dropconnect=0.3, thr_init_mean=0.1)
    layer.train()
    y, _, act = layer(torch.randn(6, 4, 3), return_activity=True)
    loss = y.pow(2).mean() + 0.1 * event_rate(act)
    loss.backward()
    for name, param in layer.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert float(param.grad.abs().sum()) > 0, name


def test_bad_shapes_and_parameters():
    layer = EGRU(3, 4)
    with pytest.raises(ShapeError, match="input_size=3"):
        layer(torch.randn(5, 2, 2))
    with pytest.raises(ShapeError):
        layer(torch.randn(5, 3))
    with pytest.raises(ShapeError, match="y0"):
        layer(torch.randn(5, 2, 3), (torch.zeros(3, 4), None))
    with pytest.raises(ParameterError, match="thr_init_mean"):
        EGRU(3, 4, thr_init_mean=1.0)
    with pytest.raises(ParameterError, match="dropconnect"):
        EGRU(3, 4, dropconnect=-0.1)
    with pytest.raises(ParameterError, match="hidden_size"):
        EGRU(3, 0)
    with pytest.raises(ParameterError, match="pseudo_derivative_support"):
        EGRU(3, 4, pseudo_derivative_support=float("nan"))
    with pytest.raises(ShapeError, match="recurrent_kernel"):
        egru_step(
            torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2, 4), layer.kernel,
            torch.zeros(4, 4), layer.bias, layer.recurrent_bias, layer.thr,
        )  # fmt: skip


def test_load_evnn_layer_dict_and_clamp():
    rng = np.random.default_rng(9)
    src, p = _random_layer(rng, 3, 4)
    evnn = {k: torch.from_numpy(v) for k, v in p.items()}
    evnn["thr"] = torch.tensor([-0.2, 0.3, 1.4, 0.5], dtype=torch.float64)
    evnn["dampening_factor"] = torch.tensor([1.0])
    evnn["pseudo_derivative_support"] = torch.tensor([2.0])
    evnn["_max_norm"] = torch.tensor([2.0])
    dst = EGRU(3, 4).double().load_evnn_state_dict(evnn)
    torch.testing.assert_close(dst.kernel.detach(), evnn["kernel"])
    torch.testing.assert_close(dst.thr.detach(), torch.tensor([0.0, 0.3, 1.0, 0.5]).double())
    assert dst.dampening_factor == 1.0 and dst.pseudo_derivative_support == 2.0
    with pytest.raises(ConversionError, match="missing"):
        EGRU(3, 4).load_evnn_state_dict({"kernel": evnn["kernel"]})
    bad = dict(evnn)
    bad["thr"] = torch.zeros(5)
    with pytest.raises(ShapeError, match="thr"):
        EGRU(3, 4).load_evnn_state_dict(bad)


def test_clamp_thresholds():
    layer = EGRU(2, 3)
    with torch.no_grad():
        layer.thr.copy_(torch.tensor([-1.0, 0.5, 3.0]))
    layer.clamp_thresholds_()
    assert layer.thr.tolist() == [0.0, 0.5, 1.0]


def test_egru_regularisers():
    c_hat = torch.tensor([[[0.1, 0.5]], [[0.7, -0.2]]], dtype=torch.float64, requires_grad=True)
    thr = torch.tensor([0.3, 0.4], dtype=torch.float64)
    events = (c_hat > thr).double()
    c = c_hat - events * thr
    from neuro.torch import EGRUActivity

    act = EGRUActivity(c_hat=c_hat, events=events, c=c)
    assert event_rate(act).item() == pytest.approx(0.5)
    # relu(c_hat - thr): [0, 0.1, 0.4, 0] -> mean 0.125
    assert supra_threshold_l1(act, thr).item() == pytest.approx(0.125)
    supra_threshold_l1(act, thr).backward()
    assert c_hat.grad is not None
    # EvNN LM regulariser: alpha * mean(c) + beta * mean(diff^2 after events) + gamma * rate
    c_np = c.detach().numpy()
    diff = c_np[1] - c_np[0]
    mask = events.numpy()[0] > 0
    expected = 0.5 * c_np.mean() + 2.0 * (diff[mask] ** 2).mean() + 3.0 * 0.5
    got = evnn_activity_loss(act, alpha=0.5, beta=2.0, gamma=3.0)
    assert got.item() == pytest.approx(expected, abs=1e-12)


def _fused_vs_reference(layer, x, state, seed):
    """Forward outputs and gradients of every input for layer.fused False / True."""
    runs = {}
    for fused in (False, True):
        layer.fused = fused
        torch.manual_seed(seed)  # same DropConnect mask for both paths
        ys, (y_t, c_t), act = layer(x, state, return_activity=True)
        outputs = (ys, y_t, c_t, act.c_hat, act.events, act.c)
        gen = torch.Generator().manual_seed(seed + 1)
        weights = [torch.randn(o.shape, generator=gen, dtype=o.dtype) for o in outputs]
        loss = sum((w * o).sum() for w, o in zip(weights, outputs, strict=True))
        inputs = [x, *state, *layer.parameters()]
        grads = torch.autograd.grad(loss, inputs)
        runs[fused] = ([o.detach() for o in outputs], grads)
    layer.fused = True
    return runs[False], runs[True]


@pytest.mark.parametrize(
    ("dtype", "batch_first", "dropconnect", "seed"),
    [
        (torch.float64, False, 0.0, 0),
        (torch.float64, True, 0.3, 1),
        (torch.float32, False, 0.3, 2),
        (torch.float32, True, 0.0, 3),
    ],
)
def test_fused_sequence_equals_reference_cell_with_ties(dtype, batch_first, dropconnect, seed):
    torch.manual_seed(seed)
    hidden = 6
    layer = EGRU(5, hidden, dropconnect=dropconnect, batch_first=batch_first).to(dtype).train()
    with torch.no_grad():
        layer.bias.normal_()
        layer.recurrent_bias.normal_()
        # unit 0: threshold 0 and no drive into its g gate, so c_hat == thr exactly (a tie)
        layer.thr[0] = 0.0
        for w in (layer.kernel, layer.recurrent_kernel):
            w[:, 2 * hidden] = 0.0
        layer.bias[2 * hidden] = 0.0
        layer.recurrent_bias[2 * hidden] = 0.0
    shape = (3, 11, 5) if batch_first else (11, 3, 5)
    x = torch.randn(shape, dtype=dtype, requires_grad=True)
    y0 = torch.rand(3, hidden, dtype=dtype)
    c0 = torch.rand(3, hidden, dtype=dtype)
    y0[:, 0] = 0.0
    c0[:, 0] = 0.0
    state = (y0.requires_grad_(), c0.requires_grad_())
    (ref_out, ref_grad), (fused_out, fused_grad) = _fused_vs_reference(layer, x, state, seed)
    c_hat, events = ref_out[3], ref_out[4]
    thr = layer.thr.detach()
    assert int((c_hat == thr).sum()) > 0  # ties present: no event, full pseudo-derivative
    assert 0 < float(events.mean()) < 1
    for ref, fused in zip(ref_out, fused_out, strict=True):
        assert torch.equal(ref, fused)  # the same floating-point operations
    tol = {torch.float64: 1e-12, torch.float32: 1e-5}[dtype]
    for ref, fused in zip(ref_grad, fused_grad, strict=True):
        scale = max(1.0, float(ref.abs().max()))
        assert float((ref - fused).abs().max()) <= tol * scale
        assert float(ref.abs().max()) > 0


def test_fused_handles_no_grad_and_empty_sequence():
    layer = EGRU(4, 3).eval()
    x = torch.randn(7, 2, 4)
    with torch.no_grad():
        fused = layer(x)[0]
        layer.fused = False
        ref = layer(x)[0]
    assert torch.equal(fused, ref)
    layer.fused = True
    ys, (y, c) = layer(torch.zeros(0, 2, 4))
    assert ys.shape == (0, 2, 3) and y.shape == (2, 3)
