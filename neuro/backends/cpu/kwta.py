"""k-WTA on the CPU scheduler: a partial selection per sample (or per position).

For each sample the k-th largest score is found with an O(n) selection
(``np.partition`` inside numba); one scan then marks the winners (scores above it, and
ties resolved by ``ties``) and writes their events in unit order.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...models.kwta import boost_per_unit
from .neurons import CPU_NEURONS, CpuNeurons

__all__ = ["CpuKWTA", "kwta_events"]


@njit(cache=True, nogil=True)
def _select_row(s, k, keep_ties, relu, scratch, win):
    """Winner flags ``win`` (n,) of one row of scores ``s`` (n,)."""
    n = s.shape[0]
    if k <= 0:
        for i in range(n):
            win[i] = False
        return
    if k >= n:
        for i in range(n):
            win[i] = not relu or s[i] > 0
        return
    for i in range(n):
        scratch[i] = s[i]
    kth = np.partition(scratch[:n], n - k)[n - k]
    if keep_ties:
        for i in range(n):
            win[i] = s[i] >= kth and (not relu or s[i] > 0)
        return
    above = 0
    for i in range(n):
        if s[i] > kth:
            above += 1
    ties_left = k - above  # lowest-index units scoring exactly kth fill the rest
    for i in range(n):
        w = s[i] > kth
        if not w and s[i] == kth and ties_left > 0:
            w = True
            ties_left -= 1
        win[i] = w and (not relu or s[i] > 0)


@njit(cache=True, nogil=True)
def kwta_events(x, boost, k, channels, local, keep_ties, relu, ptr, idx, val):
    """k-WTA of a batch ``x`` (B, n) into events; returns the event count.

    ``boost`` (n,) multiplies the inputs for ranking only.  With ``local`` the n units are
    (channels, positions) and the selection runs per position over the channels.
    """
    b_count, n = x.shape
    group = channels if local else n
    stride = n // channels if local else 1
    n_groups = n // group
    s = np.empty(group, dtype=x.dtype)
    scratch = np.empty(group, dtype=x.dtype)
    win = np.empty(group, dtype=np.bool_)
    mask = np.empty(n, dtype=np.bool_)
    e = 0
    for b in range(b_count):
        ptr[b] = e
        row = x[b]
        for gi in range(n_groups):
            for j in range(group):
                u = gi + j * stride if local else j
                s[j] = row[u] * boost[u]
            _select_row(s, k, keep_ties, relu, scratch, win)
            for j in range(group):
                u = gi + j * stride if local else j
                mask[u] = win[j]
        for i in range(n):
            v = row[i]
            if mask[i] and v != 0:
                idx[e] = i
                val[e] = v
                e += 1
    ptr[b_count] = e
    return e


@CPU_NEURONS.register("kwta")
class CpuKWTA(CpuNeurons):
    """The k largest (boosted) inputs of each sample, or of each position, send."""

    def __init__(self, population, batch, dtype):
        super().__init__(population, batch, dtype)
        model = population.model
        self.boost = boost_per_unit(model.boost, population.size).astype(self.dtype)
        self.k = model.k
        self.local = model.local
        self.channels = model.channels if model.local else 1
        self.keep_ties = model.ties == "keep"
        self.relu = model.relu

    def step(self, ports, events):
        kwta_events(
            ports["input"],
            self.boost,
            self.k,
            self.channels,
            self.local,
            self.keep_ties,
            self.relu,
            events.ptr,
            events.idx,
            events.val,
        )
