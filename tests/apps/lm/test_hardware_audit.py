"""A language model on simulated cores: the host-embedding network computes what the
fused token network computes, and the per-token audit is consistent with its counts."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import neuro  # noqa: E402
from converters import convert  # noqa: E402
from neuro.apps.lm import hardware_audit, host_embedding_network  # noqa: E402
from neuro.exceptions import ConversionError, InputError  # noqa: E402
from neuro.torch import EGRULanguageModel  # noqa: E402


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    lm = EGRULanguageModel(vocab_size=40, embedding_size=8, hidden_sizes=[12, 8])
    with torch.no_grad():
        for layer in lm.layers:
            layer.thr.fill_(0.05)  # a few units fire per token
    return lm.eval()


def test_host_embedding_network_equals_the_fused_network(model):
    ids = np.random.default_rng(1).integers(0, 40, 16)
    fused = convert(model)
    host = host_embedding_network(convert(model, fuse_embedding=False))
    assert "embedding" in host.inputs and all(
        p.model.type != "token" for p in host.populations.values()
    )
    x = model.embedding.weight.detach().double().numpy()[ids[:, None]]  # (T, 1, E)
    want = neuro.run(fused, ids[:, None], backend="cpu", dtype="float64").outputs
    got = neuro.run(host, x, backend="cpu", dtype="float64").outputs
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_hardware_audit_per_token(model):
    ids = np.random.default_rng(2).integers(0, 40, 11)
    row = hardware_audit(model, ids, hardware="loihi2")
    assert row["tokens"] == 10 and row["cores"] >= 1 and row["chips"] >= 1
    assert row["latency_ns_per_token"] > 0 and row["energy_uj_per_token"] > 0
    counts = row["audit"].counts
    assert row["synops_per_token"] == pytest.approx(counts.synops / counts.steps)
    # the perplexity of these tokens, from the torch forward of the same stream
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(ids[:-1, None]))
        nll = torch.nn.functional.cross_entropy(
            logits.reshape(-1, 40).double(), torch.from_numpy(ids[1:]), reduction="mean"
        )
    assert row["perplexity"] == pytest.approx(float(torch.exp(nll)), rel=1e-4)


def test_hardware_audit_refuses_bad_input(model):
    with pytest.raises(InputError, match="one stream"):
        hardware_audit(model, np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(ConversionError, match="fuse_embedding=False"):
        host_embedding_network(convert(model))
