"""Max pooling kernels of the compiled CPU loop (numba, ``nogil``, cached).

A max-pooling population of ``size`` windows keeps, per sample, a port of ``2 size``
values: the running maximum of the events each window received (starting at −inf,
the port's bias) and how many it received.  :func:`route_max_into` delivers input
events through the routing projection (input unit → the windows holding it, see
:func:`neuro.models.maxpool.routing`); :func:`maxpool_row_events` closes the step: a
window whose valid taps did not all receive an event also holds a silent 0 (the
value of a unit that sends nothing), so its output is ``max(maximum, 0)``; otherwise
the maximum of its events.  Non-zero outputs become events, in ascending unit order,
as the step-by-step :class:`~neuro.backends.cpu.maxpool.CpuMaxPool` computes them.
"""

from __future__ import annotations

from numba import njit

from .kernels import dense_row_events

__all__ = ["route_max_into", "maxpool_row_events"]


@njit(cache=True, nogil=True)
def route_max_into(o, indptr, window, idx, val, k0, k1):
    """Running maxima and counts of the windows reached by the events k0:k1.

    Parameters
    ----------
    o : ndarray, shape (2 * size,)
        ``o[:size]`` maxima, ``o[size:]`` events received per window.
    indptr : ndarray of int64, shape (n_in + 1,)
        Routing rows: input unit u reaches ``window[indptr[u]:indptr[u+1]]``.
    window : ndarray of int64
        Window of each routed tap.
    idx, val : ndarray
        Event unit indices and values.
    """
    size = o.shape[0] // 2
    for k in range(k0, k1):
        u = idx[k]
        v = val[k]
        for j in range(indptr[u], indptr[u + 1]):
            q = window[j]
            m = o[q]
            o[q] = v if v > m else m  # a select and an unconditional store: no branch to
            o[size + q] += 1  # mispredict (half the routes raise a maximum); 2x faster


@njit(cache=True, nogil=True)
def maxpool_row_events(o, valid, idx, val, off):
    """Outputs of one sample's windows from :func:`route_max_into`'s port, as events.

    Parameters
    ----------
    o : ndarray, shape (2 * size,)
        Port; ``o[:size]`` is overwritten with the outputs.
    valid : ndarray, shape (size,)
        Taps of each window inside the input (as floats).
    idx, val : ndarray
        Event buffers, written at ``off``.

    Returns
    -------
    int
        Events written.
    """
    size = valid.shape[0]
    for q in range(size):
        m = o[q]
        if o[size + q] < valid[q] and m < 0:  # a silent tap: 0 (also for m = -inf)
            m = 0.0
        o[q] = m
    return dense_row_events(o[:size], idx, val, off)
