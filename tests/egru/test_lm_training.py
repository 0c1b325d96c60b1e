"""EGRU language-model training on PTB: loss goes down, pruning, checkpoints, eval CLI."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuro.cli import main as neuro_main  # noqa: E402
from neuro.data.ptb import batchify, load_ptb  # noqa: E402
from neuro.exceptions import FileFormatError, ParameterError  # noqa: E402
from neuro.lm import (  # noqa: E402
    TrainConfig,
    build_model,
    load_checkpoint,
    magnitude_masks,
    prunable_weights,
    save_checkpoint,
    torch_nll,
    train_lm,
    train_phase,
    weight_sparsity,
)

TINY = dict(
    embedding_size=16,
    hidden_sizes=[24, 16],
    batch_size=8,
    bptt=10,
    dropout=0.0,
    dropout_emb=0.0,
    dropout_between=0.0,
    dropconnect=0.0,
    lr=1e-2,
    max_train_tokens=4000,
    max_eval_tokens=400,
    eval_batch_size=4,
)


@pytest.fixture(scope="module")
def corpus(ptb_dir):
    return load_ptb(ptb_dir)


def test_training_steps_reduce_loss(corpus):
    torch.manual_seed(0)
    config = TrainConfig(**TINY)
    model = build_model(config, len(corpus.vocab))
    streams = batchify(corpus.train[:4000], 8)
    before, n = torch_nll(model, streams[:60])
    info = train_phase(model, streams, config, seconds=120, lr=config.lr, max_steps=30)
    after, _ = torch_nll(model, streams[:60])
    assert info["steps"] == 30
    assert after / n < before / n - 0.5  # nats per token, on tokens it was trained on


def test_magnitude_masks_drop_exactly_the_smallest():
    w = {"a": torch.tensor([[0.5, -0.1, 0.3], [-0.9, 0.05, 0.2]])}
    mask = magnitude_masks(w, 0.5)["a"]
    assert mask.tolist() == [[True, False, True], [True, False, False]]
    assert int((~magnitude_masks({"b": torch.randn(37, 11)}, 0.8)["b"]).sum()) == int(0.8 * 407)


def test_pruning_reaches_requested_sparsity_and_checkpoints(corpus, tmp_path):
    config = TrainConfig(**TINY, sparsities=[0.0, 0.5, 0.8], time_budget_s=60)
    models, results = train_lm(corpus, config, tmp_path, max_steps=4)
    assert [r.sparsity for r in results][0] == 0.0
    for target, result in zip([0.5, 0.8], results[1:]):
        weights = prunable_weights(models[target])
        for name, w in weights.items():
            assert int((w == 0).sum()) >= int(target * w.numel()), name
        assert result.sparsity == pytest.approx(weight_sparsity(weights))
        assert target - 1e-3 < result.sparsity < target + 0.01
        assert np.isfinite(result.test_ppl) and result.path.is_file()
    model, info = load_checkpoint(results[2].path)
    assert info["sparsity"] == pytest.approx(results[2].sparsity)
    assert info["config"].to_dict() == config.to_dict()
    for key, value in models[0.8].state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    meta = json.loads(results[2].path.with_suffix(".json").read_text())
    assert meta["metrics"]["test_ppl"] == pytest.approx(results[2].test_ppl)


def test_checkpoint_round_trip_and_errors(tmp_path):
    config = TrainConfig(**TINY)
    model = build_model(config, 50).eval()
    path = save_checkpoint(tmp_path / "m.pt", model, config, metrics={"test_ppl": 1.0})
    back, info = load_checkpoint(path)
    tokens = torch.randint(0, 50, (6, 2))
    assert torch.equal(model(tokens)[0], back(tokens)[0])
    assert back.decoder.weight is back.embedding.weight
    torch.save({"format": "other"}, tmp_path / "x.pt")
    with pytest.raises(FileFormatError, match="not an EGRU language-model checkpoint"):
        load_checkpoint(tmp_path / "x.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(FileFormatError, match="not a readable"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(ParameterError, match="sparsities"):
        TrainConfig(sparsities=[1.5])


def test_eval_cli_torch_and_event_perplexity_agree(corpus, ptb_dir, tmp_path, capsys):
    torch.manual_seed(1)
    config = TrainConfig(**TINY)
    model = build_model(config, len(corpus.vocab)).eval()
    path = save_checkpoint(tmp_path / "m.pt", model, config)
    out = tmp_path / "eval.json"
    argv = [
        "eval-lm",
        str(path),
        "--data",
        str(ptb_dir),
        "--max-tokens",
        "300",
        "--batch-size",
        "3",
        "--dtype",
        "float64",
        "--json",
        str(out),
    ]
    assert neuro_main(argv) == 0
    row = json.loads(out.read_text())[0]
    assert row["ppl_event"] == pytest.approx(row["ppl_torch"], rel=1e-6)
    roles = {p["role"] for p in row["report"]["projections"].values()}
    assert roles == {"embedding+input", "input", "recurrent", "decoder"}
    assert row["dense_macs"] >= row["weight_sparse_macs"] >= row["synops"]
    assert "weight sparsity" in capsys.readouterr().out
