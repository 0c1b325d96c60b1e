"""Compact (.npz) EGRU checkpoints: exact sparsity, float16 rounding, tying, errors, CLI."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuro.apps.lm import (  # noqa: E402
    TrainConfig,
    apply_masks,
    build_model,
    load_checkpoint,
    magnitude_masks,
    prunable_weights,
    save_checkpoint,
    save_compact,
)
from neuro.apps.lm.compact import compact_state  # noqa: E402
from neuro.cli import main as neuro_main  # noqa: E402
from neuro.exceptions import FileFormatError, ParameterError  # noqa: E402

CONFIG = dict(embedding_size=16, hidden_sizes=[24, 16], dropout=0.0, dropconnect=0.0)


def _pruned_model(sparsity, vocab=50, seed=0):
    torch.manual_seed(seed)
    config = TrainConfig(**CONFIG)
    model = build_model(config, vocab).eval()
    if sparsity:
        weights = prunable_weights(model, config.prune_embedding)
        apply_masks(weights, magnitude_masks(weights, sparsity))
    return model, config


def _rounded(model):
    """An independent copy of ``model`` whose weights are rounded through float16."""
    import copy

    twin = copy.deepcopy(model)
    with torch.no_grad():
        for p in twin.parameters():
            p.copy_(p.half().float())
    return twin


@pytest.mark.parametrize("sparsity", [0.0, 0.8])
def test_compact_model_is_the_float16_rounded_model(tmp_path, sparsity):
    model, config = _pruned_model(sparsity)
    path = save_compact(tmp_path / "m.npz", model, config, sparsity, {"test_ppl": 99.0})
    back, info = load_checkpoint(path)
    assert info["sparsity"] == sparsity and info["metrics"]["test_ppl"] == 99.0
    assert back.decoder.weight is back.embedding.weight
    twin = _rounded(model)
    for (name, a), (_, b) in zip(twin.state_dict().items(), back.state_dict().items()):
        assert torch.equal(a, b), name
        # zeros stay zeros and nothing else becomes zero: the sparsity is exact
        orig = model.state_dict()[name]
        assert torch.equal(orig == 0, b == 0), name
    tokens = torch.randint(0, 50, (7, 3))
    assert torch.equal(twin(tokens)[0], back(tokens)[0])
    # float16 rounding stays within half an ulp of float16 (2**-11 relative)
    w = model.embedding.weight.detach()
    rel = ((back.embedding.weight.detach() - w).abs() / w.abs().clamp_min(1e-30))[w != 0]
    assert float(rel.max()) <= 2.0**-11


def test_pruned_tensors_are_stored_as_mask_and_values():
    state = {"w": torch.tensor([[0.0, 1.5, 0.0, 0.0], [2.0, 0.0, 0.0, -3.0]])}
    arrays = compact_state(state)
    assert set(arrays) == {"mask:w", "values:w"}
    assert np.array_equal(np.unpackbits(arrays["mask:w"], count=8), [0, 1, 0, 0, 1, 0, 0, 1])
    assert arrays["values:w"].tolist() == [1.5, 2.0, -3.0]
    dense = compact_state({"b": torch.tensor([1.0, 2.0, 0.0, 4.0, 5.0])})
    assert set(dense) == {"dense:b"} and dense["dense:b"].dtype == np.float16


def test_compact_file_is_smaller_than_the_pt_file(tmp_path):
    model, config = _pruned_model(0.9, vocab=2000)
    pt = save_checkpoint(tmp_path / "m.pt", model, config, 0.9)
    npz = save_compact(tmp_path / "m.npz", model, config, 0.9)
    # float32 -> float16 halves the values; at 90 % sparsity only a tenth of them plus
    # one bit per weight remain: well under a quarter of the .pt file
    assert npz.stat().st_size < 0.25 * pt.stat().st_size


def test_values_beyond_float16_and_nonfinite_are_refused():
    with pytest.raises(ParameterError, match="w: .*beyond float16"):
        compact_state({"w": torch.tensor([1.0, 7.0e4])})
    with pytest.raises(ParameterError, match="v: holds NaN"):
        compact_state({"v": torch.tensor([1.0, float("nan")])})


def test_damaged_or_foreign_files_are_refused(tmp_path):
    model, config = _pruned_model(0.8)
    path = save_compact(tmp_path / "m.npz", model, config, 0.8)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    key = next(k for k in arrays if k.startswith("values:"))
    arrays[key] = arrays[key][:-1]
    np.savez(tmp_path / "cut.npz", **arrays)
    with pytest.raises(FileFormatError, match="damaged"):
        load_checkpoint(tmp_path / "cut.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(FileFormatError, match="no checkpoint metadata"):
        load_checkpoint(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(FileFormatError, match="not a readable"):
        load_checkpoint(tmp_path / "junk.npz")


def test_export_cli_writes_loadable_compact_copies(tmp_path, capsys):
    model, config = _pruned_model(0.5)
    src = save_checkpoint(tmp_path / "egru_lm_s50.pt", model, config, 0.5, {"test_ppl": 7.0})
    assert neuro_main(["export-lm", str(src), "--out", str(tmp_path / "out")]) == 0
    back, info = load_checkpoint(tmp_path / "out" / "egru_lm_s50.npz")
    assert info["metrics"] == {"test_ppl": 7.0, "source": "egru_lm_s50.pt"}
    tokens = torch.randint(0, 50, (5, 2))
    assert torch.equal(_rounded(model)(tokens)[0], back(tokens)[0])
    assert "egru_lm_s50.npz" in capsys.readouterr().out
