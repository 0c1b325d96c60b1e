"""k-winners-take-all (k-WTA) populations (Ahmad & Scheinkman 2019; Hunter et al. 2021).

At every step only the k units with the largest input send an event; the value sent is
the unit's input itself (graded), every other unit is silent.  The semantics follow
Numenta's ``KWinners`` / ``KWinners2d`` (nupic.torch) at inference:

* **global** (``local=False``): the k largest units of the whole population win;
* **local** (``local=True``, population shape (C, H, W) or (C, ...)): at every spatial
  position the k largest of the C channels win;
* **boost**: nupic ranks units by ``x · b`` with ``b = exp(-boost_strength · duty_cycle)``
  (per unit, or per channel for 2-D layers), and keeps doing so in eval mode with the
  duty cycles frozen at their trained values.  The boost only *ranks*: the value sent is
  the un-boosted input.  ``boost=None`` ranks by the input itself;
* **ties**: ``"index"`` keeps exactly k winners and breaks equal scores in favour of the
  lower unit index (nupic ``break_ties=True`` picks *some* k of the tied units, which is the
  same whenever scores are distinct); ``"keep"`` makes every unit whose score is >= the k-th
  largest score a winner, so ties can give more than k winners (nupic's default,
  ``break_ties=False``);
* **relu**: winners must also have a score > 0 (nupic ``relu=True``); without it negative
  winners send negative values.

A winner whose input is exactly 0 sends nothing (events are non-zero outputs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._validate import as_bool_param, as_float_param, as_int_param, check_finite
from ..exceptions import ParameterError, ShapeError
from .base import MODELS, NeuronModel

__all__ = ["KWTA", "TIES", "boost_per_unit", "kwta_select"]

TIES = ("index", "keep")


def boost_per_unit(boost: np.ndarray | None, size: int) -> np.ndarray:
    """Expand a boost (None, scalar, per channel (C,) or per unit) to one factor per unit.

    Parameters
    ----------
    boost : ndarray or None
        Positive ranking factors; None means 1 everywhere.  Per-channel factors are
        repeated over the ``size // C`` positions of each channel (channels first).
    size : int
        Units in the population.

    Returns
    -------
    ndarray of float64, shape (size,)
    """
    if boost is None:
        return np.ones(size)
    b = np.asarray(boost, dtype=np.float64).ravel()
    if b.size == 1:
        return np.full(size, float(b[0]))
    return np.repeat(b, size // b.size)


def kwta_select(scores: np.ndarray, k: int, ties: str = "index", relu: bool = False) -> np.ndarray:
    """Winner mask of k-WTA along the last axis.

    Parameters
    ----------
    scores : ndarray, shape (..., n)
        Ranking scores (the boosted inputs).
    k : int
        Winners per row, 0 <= k.
    ties : {"index", "keep"}
        See the module docstring.
    relu : bool
        Winners must also have a score > 0.

    Returns
    -------
    ndarray of bool, shape (..., n)
    """
    n = scores.shape[-1]
    if k <= 0:
        return np.zeros(scores.shape, dtype=bool)
    if k >= n:
        mask = np.ones(scores.shape, dtype=bool)
    elif ties == "keep":
        kth = np.partition(scores, n - k, axis=-1)[..., n - k : n - k + 1]
        mask = scores >= kth
    else:
        # stable sort of -score: equal scores keep index order, so lower indices win
        order = np.argsort(-scores, axis=-1, kind="stable")[..., :k]
        mask = np.zeros(scores.shape, dtype=bool)
        np.put_along_axis(mask, order, True, axis=-1)
    if relu:
        mask &= scores > 0
    return mask


@MODELS.register("kwta")
@dataclass(frozen=True)
class KWTA(NeuronModel):
    """k-winners-take-all neurons: the k largest inputs send their value.

    Parameters
    ----------
    k : int
        Winners per sample (global) or per spatial position (local): 1 <= k <= the
        population's units (global) or its channels (local).
    local : bool
        Choose the winners among the channels (first axis) at each position of a
        (C, H, W) population instead of over the whole population.
    ties : {"index", "keep"}
        ``"index"``: exactly k winners, equal scores won by the lower unit index;
        ``"keep"``: every unit scoring >= the k-th largest score wins.
    relu : bool
        Winners must also score > 0.
    boost : ndarray or None
        Positive ranking factors: a scalar, one per channel (C,) or one per unit.
        Scores are ``input · boost``; the value sent is the input.
    channels : int or None
        Number of channels C (the first axis of the population shape); required with
        ``local=True``, where the population's units are laid out (C, positions).
    """

    type: ClassVar[str] = "kwta"
    k: int
    local: bool = False
    ties: str = "index"
    relu: bool = False
    boost: np.ndarray | None = None
    channels: int | None = None

    def __post_init__(self):
        k = as_int_param(self.k, "kwta k", None)
        if k < 1:
            raise ParameterError(
                f"kwta k == {k}, must be an int >= 1 (k winners send events; k == 0 would "
                "silence the population)."
            )
        object.__setattr__(self, "k", k)
        object.__setattr__(self, "local", as_bool_param(self.local, "kwta local"))
        object.__setattr__(self, "relu", as_bool_param(self.relu, "kwta relu"))
        if not isinstance(self.ties, str) or self.ties not in TIES:
            raise ParameterError(f"kwta ties == {self.ties!r}, must be one of {TIES}.")
        if self.boost is not None:
            object.__setattr__(self, "boost", as_float_param(self.boost, "kwta boost"))
        if self.channels is not None:
            object.__setattr__(self, "channels", as_int_param(self.channels, "kwta channels", 1))

    def validate(self, where, shape):
        what = f"population {where!r}: kwta"
        size = int(np.prod(shape))
        if self.k < 1:
            raise ParameterError(f"{what} k == {self.k}, must be >= 1.")
        if not self.local and self.k > size:
            raise ParameterError(
                f"{what} k == {self.k} winners, but the population has only {size} units "
                f"(shape {shape}); k must be <= {size}."
            )
        if self.ties not in TIES:
            raise ParameterError(f"{what} ties == {self.ties!r}, must be one of {TIES}.")
        if self.local:
            if len(shape) < 2:
                raise ShapeError(
                    f"{what} local=True needs a population shape (C, H, W) (channels first), "
                    f"got {shape}."
                )
            if self.channels != shape[0]:
                raise ParameterError(
                    f"{what} local=True with channels == {self.channels!r}, must equal the "
                    f"population's channel count {shape[0]} (first axis of {shape})."
                )
            if self.k > shape[0]:
                raise ParameterError(
                    f"{what} k == {self.k} winners per position, but there are only "
                    f"{shape[0]} channels; k must be <= {shape[0]}."
                )
        if self.boost is not None:
            b = self.boost
            check_finite(b, f"{what} boost")
            size = int(np.prod(shape))
            if b.size not in (1, shape[0], size):
                raise ShapeError(
                    f"{what} boost has shape {b.shape}, must be a scalar, one value per channel "
                    f"({shape[0]},) or one per unit ({size},) for population shape {shape}."
                )
            if b.size and b.min() <= 0:
                raise ParameterError(
                    f"{what} boost == {float(b.min())!r}, every factor must be > 0."
                )

    def winners(self, x: np.ndarray) -> np.ndarray:
        """Winner mask of a (B, size) input; bool array of shape (B, size)."""
        x = np.asarray(x, dtype=np.float64)
        b, size = x.shape
        s = x if self.boost is None else x * boost_per_unit(self.boost, size)
        if not self.local:
            return kwta_select(s, self.k, self.ties, self.relu)
        per_pos = s.reshape(b, self.channels, -1).transpose(0, 2, 1)  # (B, positions, C)
        mask = kwta_select(per_pos, self.k, self.ties, self.relu)
        return mask.transpose(0, 2, 1).reshape(b, size)

    def step(self, state, inputs):
        x = inputs["input"]
        return np.where(self.winners(x), x, 0.0), state
