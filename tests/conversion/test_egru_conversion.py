"""EGRU language models converted to event networks reproduce the torch forward."""

import numpy as np
import pytest
from tiles import use_small_tiles

torch = pytest.importorskip("torch")

import neuro  # noqa: E402
from converters import convert  # noqa: E402
from converters.egru import run_language_model  # noqa: E402
from neuro.torch import EGRULanguageModel  # noqa: E402

BACKENDS = [("reference", {}), ("cpu", {"dtype": "float64"})]


def _lm(seed, tie=True, layers=2):
    """A random double-precision LM whose layers send events but not always."""
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    vocab, emb = int(rng.integers(12, 40)), int(rng.integers(4, 10))
    sizes = [int(rng.integers(4, 14)) for _ in range(layers - 1)] + [emb if tie else 7]
    torch.manual_seed(seed)
    model = EGRULanguageModel(vocab, emb, sizes, tie_weights=tie).double().eval()
    with torch.no_grad():
        model.embedding.weight.normal_(0.0, 1.0, generator=g)
        model.decoder.bias.normal_(0.0, 1.0, generator=g)
        for layer in model.layers:
            layer.kernel.mul_(5.0)
            layer.bias.normal_(0.3, 0.5, generator=g)
            layer.recurrent_bias.normal_(0.0, 0.5, generator=g)
            layer.thr.uniform_(0.0, 0.2, generator=g)
    return model


def _tokens(model, steps, batch, seed):
    return np.random.default_rng(seed).integers(0, model.vocab_size, (steps, batch))


def _torch_logp(model, tokens, reset_every=None):
    out, state = [], None
    step = reset_every or tokens.shape[0]
    with torch.no_grad():
        for s in range(0, tokens.shape[0], step):
            logits, state = model(torch.from_numpy(tokens[s : s + step]), state)
            if reset_every:
                state = [(y, None) for y, _ in state]  # EvNN: c restarts, y is carried
            out.append(torch.log_softmax(logits, -1).numpy())
    return np.concatenate(out)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("fuse", [True, False])
def test_random_lms_match_torch(seed, fuse):
    model = _lm(seed, tie=seed % 2 == 0, layers=2 + seed % 2)
    tokens = _tokens(model, 23, 1 + seed % 3, seed)
    expected = _torch_logp(model, tokens)
    for backend, opts in BACKENDS:
        res = neuro.convert_and_run(
            model,
            tokens,
            backend=backend,
            convert_options={"fuse_embedding": fuse},
            output="log_probs",
            **opts,
        )
        np.testing.assert_allclose(res.outputs, expected, rtol=1e-12, atol=1e-12)
        for name in res.network.metadata["egru_layers"]:
            activity = res.counts.per_layer()[name]["activity"]
            assert 0 < activity < 1, (name, activity)


def test_counts_equal_an_independent_count():
    model = _lm(7, tie=True)
    tokens = _tokens(model, 17, 2, 7)
    with torch.no_grad():
        _, _, acts = model(torch.from_numpy(tokens), return_activity=True)
    ys = [(a.events > 0).numpy() for a in acts]  # events per layer, (T, B, H)
    net = convert(model, fuse_embedding=False)
    res = run_language_model(net, tokens, backend="cpu", dtype="float64", chunk=5)
    c = res.counts
    t, b = tokens.shape
    emb = model.embedding_size
    for k, y in enumerate(ys):
        h = y.shape[-1]
        assert c.populations[f"egru{k}"].events == int(y.sum())
        w_rec = model.layers[k].recurrent_kernel.detach().numpy()
        rec_fan = np.count_nonzero(w_rec, axis=1)
        assert c.projections[f"egru{k}.recurrent"].synops == int((y[:-1] * rec_fan).sum())
        assert c.projections[f"egru{k}.recurrent"].dense_macs == t * b * h * 3 * h
        w_in = model.layers[k].kernel.detach().numpy()
        src = ys[k - 1] if k else np.ones((t, b, emb), bool)  # embedding: E events / token
        in_fan = np.count_nonzero(w_in, axis=1)
        assert c.projections[f"egru{k}.input"].synops == int((src * in_fan).sum())
    dec_fan = np.count_nonzero(model.decoder.weight.detach().numpy().T, axis=1)
    assert c.projections["decoder"].synops == int((ys[-1] * dec_fan).sum())
    assert c.projections["embedding"].events_in == t * b  # one event per token
    assert c.populations["embedding"].events == int(
        np.count_nonzero(model.embedding.weight.detach().numpy()[tokens])
    )
    fused = run_language_model(convert(model), tokens, backend="cpu", dtype="float64")
    assert fused.counts.projections["egru0.input"].events_in == t * b
    assert "fused" in fused.network.metadata["input_encoding"]
    assert "E events" in net.metadata["input_encoding"]


def _evnn_state_dict(model):
    """The checkpoint EvNN's PTB script would save for this model (WeightDrop-wrapped)."""
    sd = {"embeddings.weight": model.embedding.weight.detach().clone()}
    for k, layer in enumerate(model.layers):
        for name in ("kernel", "recurrent_kernel", "bias", "recurrent_bias", "thr"):
            sd[f"rnns.{k}.module.{name}"] = getattr(layer, name).detach().clone()
        sd[f"rnns.{k}.module.dampening_factor"] = torch.tensor([0.7])
        sd[f"rnns.{k}.module.pseudo_derivative_support"] = torch.tensor([1.0])
    sd["decoder.decoder.weight"] = model.decoder.weight.detach().clone()
    sd["decoder.decoder.bias"] = model.decoder.bias.detach().clone()
    return sd


def test_evnn_layout_state_dict():
    source = _lm(11, tie=True, layers=3)
    sd = _evnn_state_dict(source)
    loaded = EGRULanguageModel(
        source.vocab_size, source.embedding_size, source.hidden_sizes, tie_weights=True
    ).double()
    loaded.load_evnn_state_dict(sd).eval()
    tokens = _tokens(source, 19, 2, 11)
    expected = _torch_logp(loaded, tokens)
    np.testing.assert_allclose(expected, _torch_logp(source, tokens), atol=1e-12)
    for backend, opts in BACKENDS:
        for model in (sd, loaded):  # the raw state_dict converts directly too
            res = neuro.convert_and_run(model, tokens, backend=backend, output="log_probs", **opts)
            np.testing.assert_allclose(res.outputs, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reset_every", [1, 4, 7])
def test_reset_every_matches_torch_with_state_reset(reset_every):
    model = _lm(3, tie=False)
    tokens = _tokens(model, 20, 3, 3)
    expected = _torch_logp(model, tokens, reset_every)
    carried = _torch_logp(model, tokens)
    assert np.abs(expected - carried).max() > 1e-3  # the reset matters
    for backend, opts in BACKENDS:
        res = neuro.convert_and_run(
            model, tokens, backend=backend, reset_every=reset_every, output="log_probs", **opts
        )
        np.testing.assert_allclose(res.outputs, expected, rtol=1e-12, atol=1e-12)
        assert res.info["chunks"] == -(-20 // reset_every)


def test_chunked_streaming_equals_whole_run_and_nll_on_the_fly():
    model = _lm(5, tie=True)
    tokens = _tokens(model, 30, 2, 5)
    net = convert(model)
    whole = run_language_model(net, tokens, chunk=30, dtype="float64")
    parts = run_language_model(net, tokens, chunk=4, dtype="float64", targets=True)
    np.testing.assert_allclose(parts.outputs, whole.outputs, atol=1e-12)
    assert parts.counts == whole.counts
    lean = run_language_model(
        net, tokens, chunk=4, dtype="float64", targets=True, keep_outputs=False
    )
    assert lean.outputs is None and lean.recordings == {}
    logp = _torch_logp(model, tokens)
    nll = -np.take_along_axis(logp[:-1], tokens[1:, :, None], -1).sum()
    assert lean.info["n_predictions"] == 29 * 2
    np.testing.assert_allclose(lean.info["nll"], nll, rtol=1e-9)
    np.testing.assert_allclose(lean.info["perplexity"], np.exp(nll / 58), rtol=1e-9)
    # continuing a stream with initial_state equals one run
    first = run_language_model(net, tokens[:13], dtype="float64")
    second = run_language_model(net, tokens[13:], dtype="float64", initial_state=first.final_state)
    np.testing.assert_allclose(
        np.concatenate([first.outputs, second.outputs]), whole.outputs, atol=1e-12
    )


@pytest.mark.parametrize("fuse", [True, False])
def test_threaded_lockstep_language_model_equals_stepwise(fuse, monkeypatch):
    """Token lookups, column blocks and EGRU layers in the threaded lockstep schedule."""
    from neuro.backends.cpu import fastpath

    model = _lm(7, tie=False, layers=3)
    tokens = _tokens(model, 25, 4, 7)
    net = convert(model, fuse_embedding=fuse)
    monkeypatch.setattr(fastpath, "LOCKSTEP_WEIGHT_BYTES", 0)
    use_small_tiles(monkeypatch)
    opts = dict(chunk=6, dtype="float32", targets=True)
    slow = run_language_model(net, tokens, engine="python", **opts)
    fast = run_language_model(net, tokens, engine="compiled", threads=2, **opts)
    assert fast.info["backend"]["schedule"] == "lockstep"
    np.testing.assert_array_equal(fast.outputs, slow.outputs)
    assert fast.counts == slow.counts and fast.info["nll"] == slow.info["nll"]
    ref = run_language_model(net, tokens, backend="reference")
    np.testing.assert_allclose(fast.outputs, ref.outputs, atol=1e-4)


def test_bad_inputs_and_negative_threshold():
    model = _lm(2)
    with pytest.raises(neuro.exceptions.InputError, match="token ids"):
        neuro.convert_and_run(model, np.zeros((3, 2)))
    with torch.no_grad():
        model.layers[0].thr[0] = -0.1
    with pytest.raises(neuro.exceptions.ConversionError, match="clamp_thresholds_"):
        convert(model)


def test_saved_network_runs_the_same(tmp_path):
    model = _lm(9, tie=True)
    tokens = _tokens(model, 12, 2, 9)
    net = convert(model)
    back = neuro.load(neuro.save(net, tmp_path / "lm.h5"))
    assert back.metadata["runner"] == "language_model"
    assert back.metadata["projection_roles"] == net.metadata["projection_roles"]
    a = run_language_model(net, tokens, dtype="float64")
    b = run_language_model(back, tokens, dtype="float64")
    np.testing.assert_array_equal(a.outputs, b.outputs)
    assert a.counts == b.counts
