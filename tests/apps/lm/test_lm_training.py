"""EGRU language-model training on PTB: loss goes down, pruning, checkpoints, eval CLI."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuro.apps.lm import (  # noqa: E402
    TrainConfig,
    build_model,
    load_checkpoint,
    magnitude_masks,
    prunable_weights,
    ramp_sparsity,
    save_checkpoint,
    torch_nll,
    train_lm,
    train_phase,
    weight_sparsity,
)
from neuro.cli import main as neuro_main  # noqa: E402
from neuro.data.ptb import batchify, load_ptb  # noqa: E402
from neuro.exceptions import FileFormatError, ParameterError  # noqa: E402

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


RESUMABLE = dict(
    TINY,
    dropout=0.2,
    dropout_emb=0.1,
    dropout_between=0.1,
    dropout_words=0.1,
    dropconnect=0.2,
    epochs=0.6,
    finetune_epochs=0.3,
    warmup_steps=5,
    sparsities=[0.0, 0.5],
    eval_every_epochs=0.2,
)


def test_stopped_and_resumed_run_equals_uninterrupted_run(corpus, tmp_path):
    config = TrainConfig(**RESUMABLE)
    models, results = train_lm(corpus, config, tmp_path / "whole")
    assert [r.steps for r in results] == [30, 15]  # 50 steps per epoch
    out = tmp_path / "split"
    stops = [13, 38]  # inside the dense phase, inside the pruning level
    for stop in stops:
        train_lm(corpus, config, out, stop_after_steps=stop, resume=stop != stops[0])
        # whatever happens between sessions must not matter
        torch.manual_seed(12345)
        np.random.default_rng(7).random(3)
        torch.rand(100)
    resumed_models, resumed_results = train_lm(corpus, config, out, resume=True)
    assert [r.test_ppl for r in resumed_results] == [r.test_ppl for r in results]
    for level in (0.5,):
        for key, value in models[level].state_dict().items():
            assert torch.equal(resumed_models[level].state_dict()[key], value), key
    dense_a, _ = load_checkpoint(tmp_path / "whole" / "egru_lm_s00.pt")
    dense_b, _ = load_checkpoint(out / "egru_lm_s00.pt")
    for key, value in dense_a.state_dict().items():
        assert torch.equal(dense_b.state_dict()[key], value), key
    rows = [json.loads(line) for line in (out / "progress.jsonl").read_text().splitlines()]
    assert any("valid_ppl" in r and not r.get("done") for r in rows)


def test_resume_refuses_a_changed_config_or_missing_state(corpus, tmp_path):
    config = TrainConfig(**RESUMABLE)
    with pytest.raises(FileFormatError, match="no training state"):
        train_lm(corpus, config, tmp_path, resume=True)
    train_lm(corpus, config, tmp_path, stop_after_steps=2)
    changed = TrainConfig(**{**RESUMABLE, "lr": 5e-3})
    with pytest.raises(ParameterError, match=r"differs from the given one in \['lr'\]"):
        train_lm(corpus, changed, tmp_path, resume=True)


def test_train_lm_cli_resume(ptb_dir, tmp_path, capsys):
    out = tmp_path / "run"
    common = ["train-lm", "--data", str(ptb_dir), "--out", str(out), "--threads", "1"]
    argv = common + [
        "--embedding-size", "16", "--hidden-sizes", "24,16", "--batch-size", "64",
        "--bptt", "35", "--epochs", "0.004", "--sparsities", "0", "--time-budget", "600",
    ]  # fmt: skip
    assert neuro_main(argv) == 0
    state = torch.load(out / "train_state.pt", weights_only=False)
    assert state["run"]["phase"] == 1 and state["config"]["epochs"] == 0.004
    assert neuro_main(common + ["--resume"]) == 0  # nothing left to do: same results
    assert "resume: True" in capsys.readouterr().out
    assert json.loads((out / "results.json").read_text())["levels"][0]["sparsity"] == 0.0


def test_ramp_sparsity_is_zhu_and_gupta_cubic():
    assert ramp_sparsity(0.5, 0.8, 0.0) == 0.5
    assert ramp_sparsity(0.5, 0.8, 1.0) == 0.8
    assert ramp_sparsity(0.5, 0.8, 0.5) == pytest.approx(0.8 - 0.3 / 8)
    assert ramp_sparsity(0.0, 0.9, 7.0) == 0.9


@pytest.fixture(scope="module")
def dense_checkpoint(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("dense")
    train_lm(corpus, TrainConfig(**{**RESUMABLE, "sparsities": [0.0]}), out)
    return out / "egru_lm_s00.pt"


def test_gradual_pruning_from_a_checkpoint_resumes_exactly(corpus, dense_checkpoint, tmp_path):
    fields = dict(
        RESUMABLE,
        sparsities=[0.5, 0.8],
        finetune_epochs=2.0,  # 100 steps per level, the first 60 ramping
        prune_ramp_fraction=0.6,
        eval_every_epochs=None,
        init_from=str(dense_checkpoint),
    )
    config = TrainConfig(**fields)
    models, results = train_lm(corpus, config, tmp_path / "whole")
    assert [r.steps for r in results] == [100, 100]  # no dense phase
    assert not (tmp_path / "whole" / "egru_lm_s00.pt").exists()
    dense, _ = load_checkpoint(dense_checkpoint)
    for target, result in zip([0.5, 0.8], results):
        assert result.sparsity == pytest.approx(target, abs=1e-3)
        for name, w in prunable_weights(models[target]).items():
            assert int((w == 0).sum()) >= int(target * w.numel()), name
    # pruning only removes weights: a weight zero at 50 % stays zero at 80 %
    half, most = prunable_weights(models[0.5]), prunable_weights(models[0.8])
    for name in half:
        assert bool(torch.all(most[name][half[name] == 0] == 0)), name
    # a run stopped inside the ramp and resumed ends where the uninterrupted one did
    out = tmp_path / "split"
    train_lm(corpus, config, out, stop_after_steps=40)
    state = torch.load(out / "train_state.pt", weights_only=False)
    expected = ramp_sparsity(0.0, 0.5, 25 / 60)  # the masks of step 25
    assert state["run"]["pruned_to"] == pytest.approx(expected)
    stopped = build_model(config, len(corpus.vocab))
    stopped.load_state_dict(state["model"])
    assert weight_sparsity(prunable_weights(stopped)) == pytest.approx(expected, abs=1e-3)
    resumed, resumed_results = train_lm(corpus, config, out, resume=True)
    assert [r.test_ppl for r in resumed_results] == [r.test_ppl for r in results]
    for key, value in models[0.8].state_dict().items():
        assert torch.equal(resumed[0.8].state_dict()[key], value), key


def test_init_from_refuses_lower_levels_and_other_architectures(corpus, dense_checkpoint):
    low = TrainConfig(**{**RESUMABLE, "sparsities": [0.0], "init_from": str(dense_checkpoint)})
    with pytest.raises(ParameterError, match="must exceed the checkpoint's sparsity"):
        train_lm(corpus, low)
    other = TrainConfig(
        **{**RESUMABLE, "hidden_sizes": [32, 16], "init_from": str(dense_checkpoint)}
    )
    with pytest.raises(ParameterError, match="another architecture"):
        train_lm(corpus, other)


def test_train_lm_cli_init_from_takes_the_checkpoints_config(ptb_dir, dense_checkpoint, tmp_path):
    out = tmp_path / "pruned"
    argv = [
        "train-lm", "--data", str(ptb_dir), "--out", str(out), "--threads", "1",
        "--init-from", str(dense_checkpoint), "--sparsities", "0.6",
        "--finetune-epochs", "0.1", "--prune-ramp", "0.5", "--time-budget", "600",
    ]  # fmt: skip
    assert neuro_main(argv) == 0
    model, info = load_checkpoint(out / "egru_lm_s60.pt")
    _, dense_info = load_checkpoint(dense_checkpoint)
    assert info["config"].hidden_sizes == dense_info["config"].hidden_sizes == [24, 16]
    assert info["config"].init_from == str(dense_checkpoint)
    assert info["sparsity"] == pytest.approx(0.6, abs=1e-3)


def test_levels_without_the_embedding_keep_its_zeros(corpus, dense_checkpoint, tmp_path):
    half = TrainConfig(**{**RESUMABLE, "sparsities": [0.5], "init_from": str(dense_checkpoint)})
    train_lm(corpus, half, tmp_path / "half")
    start = tmp_path / "half" / "egru_lm_s50.pt"
    fields = dict(RESUMABLE, sparsities=[0.8], prune_embedding=False, init_from=str(start))
    models, results = train_lm(corpus, TrainConfig(**fields, prune_ramp_fraction=0.5), tmp_path)
    before = load_checkpoint(start)[0].embedding.weight
    after = models[0.8].embedding.weight
    assert bool(torch.all(after[before == 0] == 0))  # the 50 % level's zeros are kept
    assert float((after == 0).float().mean()) == pytest.approx(0.5, abs=1e-3)  # not pruned
    layers = prunable_weights(models[0.8], include_embedding=False)
    assert results[0].sparsity == pytest.approx(weight_sparsity(layers))
    assert results[0].sparsity == pytest.approx(0.8, abs=1e-3)
