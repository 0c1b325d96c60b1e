"""An EvNN-layout checkpoint converted and run reproduces log-probabilities computed
from EvNN's published equations (fixture ``fixtures/evnn_reference.npz``; its generator
``fixtures/evnn_reference.py`` states the provenance), with and without ``reset_every``.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import neuro  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
import evnn_reference  # noqa: E402

BACKENDS = [
    ("reference", {}),
    ("cpu", {"dtype": "float64", "engine": "python"}),
    ("cpu", {"dtype": "float64", "engine": "compiled"}),
]


@pytest.fixture(scope="module")
def fixture():
    data = np.load(evnn_reference.FIXTURE)
    params = {k[len("param/") :]: data[k] for k in data.files if k.startswith("param/")}
    return params, data["tokens"], {r: data[f"log_probs/reset_{r}"] for r in evnn_reference.RESETS}


def test_fixture_matches_its_generator(fixture):
    """The stored numbers are what the documented equations give (no silent drift)."""
    params, tokens, expected = fixture
    assert "EvNN v0.2.0" in str(np.load(evnn_reference.FIXTURE)["provenance"])
    for reset, logp in expected.items():
        again = evnn_reference.language_model(params, tokens, reset)
        np.testing.assert_allclose(again, logp, rtol=1e-13, atol=1e-13)  # BLAS may reorder sums
    # the reset matters and the clamped thresholds are in play
    assert np.abs(expected[3] - expected[0]).max() > 1e-3
    assert params["rnns.0.module.thr"].max() > 1 and params["rnns.0.module.thr"].min() < 0


@pytest.mark.parametrize("reset", evnn_reference.RESETS)
@pytest.mark.parametrize("backend, opts", BACKENDS, ids=["reference", "python", "compiled"])
def test_evnn_checkpoint_matches_published_equations(fixture, reset, backend, opts):
    params, tokens, expected = fixture
    state_dict = {k: torch.from_numpy(v.copy()) for k, v in params.items()}
    res = neuro.convert_and_run(
        state_dict,
        tokens,
        backend=backend,
        output="log_probs",
        reset_every=reset or None,
        **opts,
    )
    np.testing.assert_allclose(res.outputs, expected[reset], rtol=1e-12, atol=1e-12)
    for name in res.network.metadata["egru_layers"]:
        activity = res.counts.per_layer()[name]["activity"]
        assert 0.05 < activity < 0.95, (name, activity)
