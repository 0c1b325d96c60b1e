"""The raw tallies every backend reports, and the one formula behind them.

A backend counts, per projection and over a run, three numbers from the events it
delivers (:data:`TALLY_FIELDS`):

``events_in``
    delivered events (non-zero outputs of the pre-synaptic population);
``reached_nnz``
    Σ over delivered events of ``nnz[i]``, the non-zero weights in the fan-out of the
    event's unit ``i``;
``reached_dense``
    Σ over delivered events of ``dense[i]``, the connections of unit ``i`` in the dense
    layer the operator stores (zero weights included, whatever the storage).

``nnz`` and ``dense`` come from :func:`fanouts` only: that is the one definition of
"what one event of unit ``i`` costs".  Backends sum them with :func:`tally_events`
(compiled event lists) or :func:`tally_active` (dense activity masks);
:meth:`neuro.audit.counts.Counts.from_tallies` turns the tallies into every count.
"""

from __future__ import annotations

import numpy as np

__all__ = [  # noqa: F822
    "TALLY_FIELDS",
    "accumulate_projections",
    "fanouts",
    "graded_count",
    "tally_active",
    "tally_events",
]

TALLY_FIELDS = ("events_in", "reached_nnz", "reached_dense")


def fanouts(weights) -> tuple[np.ndarray, np.ndarray]:
    """Per pre-synaptic unit: non-zero weights and dense-layer connections.

    Parameters
    ----------
    weights : WeightOperator

    Returns
    -------
    nnz, dense : ndarray of int64, shape (n_pre,)
        ``nnz[i]``: non-zero weights of unit ``i`` (one synaptic op each per event);
        ``dense[i]``: its connections in the dense layer (a Dense or Sparse store of
        the same matrix gives ``n_out``; a convolution the output positions its
        kernel taps reach).
    """
    nnz = np.ascontiguousarray(weights.fanout_nnz(), dtype=np.int64)
    dense = getattr(weights, "fanout_dense", weights.fanout_total)()
    return nnz, np.ascontiguousarray(dense, dtype=np.int64)


def _tally_events(idx, k0, k1, nnz, dense):
    """(Σ nnz, Σ dense) over the events ``idx[k0:k1]`` (unit indices); compiled with
    numba as ``tally_events`` on first use (``import neuro`` imports no numba)."""
    a = 0
    b = 0
    for k in range(k0, k1):
        a += nnz[idx[k]]
        b += dense[idx[k]]
    return a, b


def tally_active(active: np.ndarray, nnz: np.ndarray, dense: np.ndarray) -> tuple[int, int, int]:
    """(events, Σ nnz, Σ dense) of a boolean activity mask.

    Parameters
    ----------
    active : ndarray of bool, shape (B, n_pre) or (n_pre,)
        Units that emitted an event.
    nnz, dense : ndarray of int64, shape (n_pre,)
        From :func:`fanouts`.
    """
    return int(active.sum()), int((active @ nnz).sum()), int((active @ dense).sum())


def _graded_count(x):
    """Values of the 1-D ``x`` outside {-1, 0, 1}; compiled with numba as
    ``graded_count`` on first use.  One branch-free pass (vectorised)."""
    n = 0
    for i in range(x.shape[0]):
        v = x[i]
        n += (v != 0) & (v != 1) & (v != -1)
    return n


def _ternary(x) -> bool:
    """Whether every value of ``x`` lies in {-1, 0, 1} (NeuroBench's AC rule)."""
    x = np.asarray(x)
    if x.dtype == np.bool_ or x.size == 0:
        return True
    if x.dtype.kind not in "fiu" or x.dtype == np.float16:  # not numba's
        return bool(np.all((x == 0) | (x == 1) | (x == -1)))
    return _compiled("graded_count")(x.reshape(-1)) == 0


def accumulate_projections(network, inputs, scanned=None) -> frozenset:
    """Projections whose operations are accumulates under NeuroBench's rule.

    NeuroBench counts a layer's operations as ACs when its input holds only values
    in {-1, 0, 1}.  Here the input of a projection is its pre-synaptic population's
    output: token inputs (one event of value 1) and input populations whose values over
    the whole run lie in {-1, 0, 1} qualify, as do models that declare
    ``ternary_output = True``; every other population's outputs count as graded.

    Parameters
    ----------
    network : Network
    inputs : RunInputs or None
        The run's raw inputs (``arrays``: population name → array).
    scanned : dict of str → bool, optional
        Input populations already scanned by the caller: whether all their values lie
        in {-1, 0, 1} (these are not looked up in ``inputs``).
    """
    scanned = scanned or {}
    arrays = inputs.arrays if inputs is not None else {}
    ternary = set()
    for name, pop in network.populations.items():
        model = pop.model
        if getattr(model, "ternary_output", False) or getattr(model, "lookup", False):
            ternary.add(name)
        elif model.is_input and name in scanned:
            if scanned[name]:
                ternary.add(name)
        elif model.is_input and name in arrays and _ternary(arrays[name]):
            ternary.add(name)
    return frozenset(n for n, p in network.projections.items() if p.pre in ternary)


_COMPILED = {"tally_events": _tally_events, "graded_count": _graded_count}


def _compiled(name: str):
    """The numba-compiled kernel ``name`` (compiled on first use, then kept)."""
    kernel = globals().get(name)
    if kernel is None:
        from numba import njit

        kernel = globals()[name] = njit(cache=True, nogil=True)(_COMPILED[name])
    return kernel


def __getattr__(name):
    if name in _COMPILED:
        return _compiled(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
