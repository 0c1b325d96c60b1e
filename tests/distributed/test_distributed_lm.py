"""Language-model streams on workers: perplexity, NLL and counts of the single-process run."""

import numpy as np
import pytest
from distributed_nets import egru_lm

import neuro
import neuro.distributed as nd
from neuro.apps.lm.evaluate import event_perplexity
from neuro.data.ptb import batchify
from neuro.exceptions import InputError


def _assert_same_evaluation(local, dist):
    assert dist.info["nll"] == local.info["nll"]  # same sums in the same order
    assert dist.info["n_predictions"] == local.info["n_predictions"]
    assert dist.info["perplexity"] == local.info["perplexity"]
    assert dist.counts == local.counts
    for name, entry in local.final_state.items():
        for key, value in entry["state"].items():
            np.testing.assert_array_equal(dist.final_state[name]["state"][key], value)
        for a, b in zip(entry["history"], dist.final_state[name]["history"]):
            np.testing.assert_array_equal(b, a)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"reset_every": 7},
        {"chunk": 13, "dtype": "float64", "tasks": 3},
        {"fuse_embedding": False, "reset_every": 9, "tasks": 5},
    ],
)
def test_egru_lm_streams_identical(client, options):
    net = egru_lm(0, fuse=options.get("fuse_embedding", True))
    ids = np.random.default_rng(1).integers(0, 50, 1003)
    local_opts = {k: v for k, v in options.items() if k != "tasks"}
    local = event_perplexity(net, ids, 6, **local_opts)
    dist = nd.event_perplexity(net, ids, client, batch_size=6, **options)
    _assert_same_evaluation(local, dist)
    assert dist.info["distributed"]["tasks"] == options.get("tasks", 2)
    assert dist.info["n_predictions"] == (1003 // 6 - 1) * 6
    assert 1.0 < dist.info["perplexity"] < np.inf
    assert dist.counts.synops > 0 and dist.counts.batch == 6


def test_full_reset_matches_the_runner(client):
    net = egru_lm(2, hidden=(10,))
    ids = np.random.default_rng(3).integers(0, 50, 600)
    local = neuro.convert_and_run(
        net, batchify(ids, 4), targets=True, keep_outputs=False, reset_every=5, reset="all"
    )
    dist = nd.event_perplexity(net, ids, client, batch_size=4, reset_every=5, reset="all")
    _assert_same_evaluation(local, dist)


def test_perplexity_is_the_mean_nll_of_the_streams(client):
    """Independent check: each stream evaluated alone in this process gives the same sum."""
    net = egru_lm(4, hidden=(12,))
    ids = np.random.default_rng(5).integers(0, 50, 403)
    dist = nd.event_perplexity(net, ids, client, batch_size=3)
    streams = batchify(ids, 3)
    total = 0.0
    for b in range(3):
        one = neuro.convert_and_run(net, streams[:, b : b + 1], targets=True, keep_outputs=False)
        total += one.info["nll"]
    np.testing.assert_allclose(dist.info["nll"], total, rtol=1e-12)
    np.testing.assert_allclose(
        dist.info["perplexity"], np.exp(total / dist.info["n_predictions"]), rtol=1e-12
    )


def test_feed_forward_network_is_refused(client):
    from distributed_nets import small_mlp

    with pytest.raises(InputError, match="is not a language model"):
        nd.event_perplexity(small_mlp(0), np.arange(100) % 30, client, batch_size=2)


def test_ptb_test_slice(client, ptb_dir):
    from neuro.data.ptb import load_ptb

    corpus = load_ptb(ptb_dir)
    ids = corpus.test[:3000]
    net = egru_lm(6, vocab=len(corpus.vocab), emb=16, hidden=(24,))
    local = event_perplexity(net, ids, 8, reset_every=35)
    dist = nd.event_perplexity(net, ids, client, batch_size=8, reset_every=35)
    _assert_same_evaluation(local, dist)
    assert dist.info["n_predictions"] == (3000 // 8 - 1) * 8
