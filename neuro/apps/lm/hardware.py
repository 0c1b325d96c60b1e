"""A language model on simulated neuromorphic cores: the host-embedding network and
its per-token hardware audit.

A converted EGRU language model takes one token event per step into a fused
token → gates table of V rows, so every unit of the first layer has V pre-synaptic
units: with PTB's V = 10 000 that is more input axons than a Loihi or Loihi 2 core
has (4096).  A deployment looks the embedding up on the host and sends the chip the
E-wide embedding vector of each token as E graded events; :func:`host_embedding_network`
builds that network and :func:`hardware_audit` runs it on the ``cores`` backend.
"""

from __future__ import annotations

import numpy as np

from neuro.exceptions import ConversionError, InputError

__all__ = ["host_embedding_network", "hardware_audit"]


def host_embedding_network(network):
    """The unfused language-model network with its ``embedding`` population fed from
    the host.

    Parameters
    ----------
    network : Network
        ``convert(model, fuse_embedding=False)`` of an EGRU language model.

    Returns
    -------
    Network
        The token population and the token → embedding projection dropped; the
        ``embedding`` population a dense input of E units.
    """
    import neuro

    if "embedding" not in network.populations:
        raise ConversionError(
            f"network {network.name!r} has no 'embedding' population; convert the model "
            "with fuse_embedding=False."
        )
    pops = []
    for pop in network.populations.values():
        if pop.model.is_input:
            continue
        if pop.name == "embedding":
            pop = neuro.Population("embedding", pop.shape, neuro.Input())
        pops.append(pop)
    kept = {q.name for q in pops}
    projs = [p for p in network.projections.values() if p.pre in kept]
    meta = dict(network.metadata, input_encoding="embedding vector from the host: E events")
    meta.pop("runner", None)
    return neuro.Network(pops, projs, network.outputs, network.name + "_host_embedding", meta)


def hardware_audit(model, token_ids, hardware: str = "loihi2", quantize=None) -> dict:
    """Run one stream of tokens through ``model`` on simulated cores; per-token figures.

    Parameters
    ----------
    model : EGRULanguageModel
        A trained (or loaded) model.
    token_ids : ndarray of int, shape (T + 1,)
        One stream; tokens ``0 .. T-1`` are the inputs, ``1 .. T`` their targets.
    hardware : str
        Hardware profile of the ``cores`` backend (``"loihi"``, ``"loihi2"``, ...).
    quantize : dict, optional
        Fixed-point settings, as for the ``cores`` backend.

    Returns
    -------
    dict
        ``cores``, ``chips``, ``latency_ns_per_token`` (mean per step),
        ``energy_uj_per_token``, ``synops_per_token``, ``perplexity`` (of these T
        tokens), ``tokens`` and the ``audit`` (:class:`~neuro.audit.report.Audit`).
    """
    import neuro
    from converters import convert

    ids = np.asarray(token_ids, dtype=np.int64)
    if ids.ndim != 1 or ids.size < 2:
        raise InputError(
            f"token_ids has shape {ids.shape}, must be one stream of at least 2 tokens."
        )
    network = host_embedding_network(convert(model, fuse_embedding=False))
    table = model.embedding.weight.detach().double().numpy()
    x = table[ids[:-1, None]]  # (T, 1, E): what the host sends per token
    result = neuro.run(network, x, backend="cores", hardware=hardware, quantize=quantize)
    audit = result.audit(labels=ids[1:, None], metric="perplexity")
    hw = result.info["hardware"]
    return {
        "hardware": hardware,
        "tokens": int(ids.size - 1),
        "cores": int(hw["cores_used"]),
        "chips": int(hw["chips_used"]),
        "latency_ns_per_token": float(hw["latency_ns"]["mean_per_step"]),
        "energy_uj_per_token": float(hw["energy_pj"]["per_step"]) / 1e6,
        "synops_per_token": float(result.counts.per_step()["synops"]),
        "perplexity": float(audit.extras["metric"]["value"]),
        "audit": audit,
    }
