"""EGRU language model: shapes, tying, dropout, composition and EvNN checkpoints."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from neuro.exceptions import (  # noqa: E402
    ConversionError,
    InputError,
    ParameterError,
    ShapeError,
)
from neuro.torch import EGRU, EGRULanguageModel  # noqa: E402


def _model(tie=False, **kwargs):
    """A small model excited enough that both layers emit events."""
    torch.manual_seed(0)
    model = EGRULanguageModel(13, 6, [7, 6], tie_weights=tie, **kwargs).double()
    with torch.no_grad():
        model.embedding.weight.normal_(0.0, 1.0)
        model.decoder.bias.normal_(0.0, 1.0)
        for layer in model.layers:
            layer.kernel.mul_(3.0)
            layer.thr.uniform_(0.02, 0.1)
    return model


def _tokens(steps=5, batch=3, vocab=13, seed=1):
    return torch.randint(0, vocab, (steps, batch), generator=torch.Generator().manual_seed(seed))


def test_forward_shapes_and_state():
    model = _model()
    assert isinstance(model.embedding, torch.nn.Embedding)
    assert isinstance(model.layers, torch.nn.ModuleList)
    assert all(isinstance(layer, EGRU) for layer in model.layers)
    assert model.decoder.in_features == 6 and model.decoder.out_features == 13
    assert model.decoder.bias is not None
    logits, state = model(_tokens())
    assert logits.shape == (5, 3, 13)
    assert [tuple(t.shape) for pair in state for t in pair] == [(3, 7), (3, 7), (3, 6), (3, 6)]
    init = model.init_state(3)
    assert len(init) == 2 and init[0][0].dtype == torch.float64
    assert all(float(t.abs().sum()) == 0 for pair in init for t in pair)
    logits2, _, acts = model(_tokens(), init, return_activity=True)
    assert len(acts) == 2 and acts[1].events.shape == (5, 3, 6)


def test_tying_shares_storage_and_requires_matching_sizes():
    model = _model(tie=True)
    assert model.decoder.weight is model.embedding.weight
    assert model.decoder.weight.data_ptr() == model.embedding.weight.data_ptr()
    with pytest.raises(ParameterError, match="embedding_size"):
        EGRULanguageModel(13, 6, [7, 5], tie_weights=True)


def test_eval_is_deterministic_and_training_dropout_is_not():
    model = _model(dropout=0.5, dropout_emb=0.5, dropout_between=0.5, dropconnect=0.5)
    tokens = _tokens()
    model.eval()
    a, _ = model(tokens)
    b, _ = model(tokens)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    model.train()
    torch.manual_seed(3)
    c, _ = model(tokens)
    torch.manual_seed(4)
    d, _ = model(tokens)
    assert not torch.equal(c, d)


def test_model_fixture_is_active():
    _, _, acts = _model().eval()(_tokens(), return_activity=True)
    for act in acts:
        assert 0.05 < float(act.events.detach().mean()) < 0.95


def test_logits_equal_manual_composition():
    model = _model(tie=True)
    model.eval()
    tokens = _tokens(steps=6, batch=2)
    logits, state = model(tokens)
    x = model.embedding(tokens)
    finals = []
    for layer in model.layers:
        x, final = layer(x)
        finals.append(final)
    expected = x @ model.decoder.weight.T + model.decoder.bias
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-12)
    for (y, c), (y_ref, c_ref) in zip(state, finals, strict=True):
        torch.testing.assert_close(y, y_ref, rtol=0, atol=0)
        torch.testing.assert_close(c, c_ref, rtol=0, atol=0)


def test_carried_state_splits_a_sequence():
    model = _model()
    model.eval()
    tokens = _tokens(steps=8, batch=2)
    full, _ = model(tokens)
    first, state = model(tokens[:3])
    second, _ = model(tokens[3:], state)
    torch.testing.assert_close(torch.cat([first, second]), full, rtol=0, atol=1e-12)


def _evnn_checkpoint(model):
    """Re-key our state dict in the layout of EvNN's benchmarks/lm LanguageModel."""
    sd = {"embeddings.weight": model.embedding.weight.detach().clone()}
    for i, layer in enumerate(model.layers):
        for name in ("kernel", "recurrent_kernel", "bias", "recurrent_bias", "thr"):
            sd[f"rnns.{i}.{name}"] = getattr(layer, name).detach().clone()
        sd[f"rnns.{i}.dampening_factor"] = torch.tensor([1.0])
        sd[f"rnns.{i}.pseudo_derivative_support"] = torch.tensor([1.0])
        sd[f"rnns.{i}._max_norm"] = torch.tensor([2.0])
    sd["decoder.decoder.weight"] = model.decoder.weight.detach().clone()
    sd["decoder.decoder.bias"] = model.decoder.bias.detach().clone()
    return sd


@pytest.mark.parametrize("tie", [True, False])
def test_load_evnn_checkpoint(tie):
    src = _model(tie=tie)
    src.eval()
    torch.manual_seed(99)
    dst = EGRULanguageModel(13, 6, [7, 6], tie_weights=tie).double()
    dst.load_evnn_state_dict(_evnn_checkpoint(src))
    dst.eval()
    tokens = _tokens()
    torch.testing.assert_close(dst(tokens)[0], src(tokens)[0], rtol=0, atol=0)
    assert dst.layers[0].dampening_factor == 1.0


def test_load_evnn_checkpoint_errors():
    src = _model(tie=True)
    sd = _evnn_checkpoint(src)
    with pytest.raises(ConversionError, match="projection"):
        EGRULanguageModel(13, 6, [7, 6]).load_evnn_state_dict(
            {**sd, "decoder.projection.weight": torch.zeros(6, 6)}
        )
    missing = {k: v for k, v in sd.items() if k != "rnns.1.thr"}
    with pytest.raises(ConversionError, match="layers.1.thr"):
        EGRULanguageModel(13, 6, [7, 6]).load_evnn_state_dict(missing)
    with pytest.raises(ShapeError, match="rnns|layers"):
        EGRULanguageModel(13, 6, [8, 6]).load_evnn_state_dict(sd)


def test_input_validation():
    model = _model()
    with pytest.raises(ShapeError):
        model(torch.zeros(5, dtype=torch.int64))
    with pytest.raises(InputError, match="int64"):
        model(torch.zeros(5, 2))
    with pytest.raises(ShapeError, match="layers"):
        model(_tokens(), [None])
    with pytest.raises(ParameterError, match="dropout"):
        EGRULanguageModel(13, 6, [7], dropout=1.0)
    with pytest.raises(ParameterError, match="hidden_sizes"):
        EGRULanguageModel(13, 6, [])


def test_training_step_runs():
    model = _model(tie=True)
    model.train()
    tokens = _tokens(steps=6, batch=2)
    logits, state = model(tokens[:-1])
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 13), tokens[1:].reshape(-1))
    loss.backward()
    assert model.embedding.weight.grad is not None
    assert all(layer.thr.grad is not None for layer in model.layers)
