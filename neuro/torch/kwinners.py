"""Trainable k-winners-take-all modules with boosting (Ahmad & Scheinkman 2019).

:class:`KWinners` (vectors, (B, n)) and :class:`KWinners2d` (feature maps, (B, C, H, W))
keep the k largest units of each sample and zero the rest; gradients flow through the
winners only.  Attribute and buffer names follow nupic.torch (``percent_on``,
``k_inference_factor``, ``k``, ``k_inference``, ``n``, ``duty_cycle``, ``boost_strength``,
``break_ties``, ``relu``, ``local``), so one converter reads both.

Winner selection (training and eval, as in nupic.torch): units are ranked by
``x · exp(-boost_strength · duty_cycle)`` and the un-boosted ``x`` of the winners is
passed on.  In training ``k = round(n · percent_on)`` and the duty cycles (running
fraction of samples in which each unit won) are updated; in eval mode
``k_inference`` winners are kept (``int(k · k_inference_factor)`` for :class:`KWinners`,
``round(n · percent_on · k_inference_factor)`` for :class:`KWinners2d`) and the duty cycles
are frozen.  With ``break_ties=False`` every unit ranking >= the k-th score wins (ties
may give more than k winners); with ``break_ties=True`` exactly k win (lowest index among
equal scores).  ``relu=True`` also requires a positive score.
"""

from __future__ import annotations

import torch
from torch import nn

from ..exceptions import ParameterError

__all__ = ["KWinners", "KWinners2d", "kwinners_mask", "update_boost_strength"]


def kwinners_mask(
    scores: torch.Tensor, k: int, break_ties: bool = False, relu: bool = False
) -> torch.Tensor:
    """Boolean winner mask of the k largest scores along the last axis.

    Parameters
    ----------
    scores : Tensor, shape (..., n)
    k : int
    break_ties : bool
        Exactly k winners (lower index first among equal scores) instead of every
        unit >= the k-th largest score.
    relu : bool
        Winners must also have a score > 0.
    """
    n = scores.shape[-1]
    if k <= 0:
        return torch.zeros_like(scores, dtype=torch.bool)
    if k >= n:
        mask = torch.ones_like(scores, dtype=torch.bool)
    elif break_ties:
        order = torch.sort(scores, dim=-1, descending=True, stable=True).indices[..., :k]
        mask = torch.zeros_like(scores, dtype=torch.bool).scatter_(-1, order, True)
    else:
        kth = torch.kthvalue(scores, n - k + 1, dim=-1, keepdim=True).values
        mask = scores >= kth
    if relu:
        mask = mask & (scores > 0)
    return mask


def update_boost_strength(module: nn.Module) -> None:
    """Multiply a k-winners module's boost strength by its boost_strength_factor.

    Use with ``model.apply(update_boost_strength)`` once per epoch.
    """
    if isinstance(module, _KWinnersBase):
        module.boost_strength.mul_(module.boost_strength_factor)


class _KWinnersBase(nn.Module):
    def __init__(
        self,
        percent_on: float,
        k_inference_factor: float,
        boost_strength: float,
        boost_strength_factor: float,
        duty_cycle_period: int,
        break_ties: bool,
        relu: bool,
    ):
        super().__init__()
        if not 0.0 < percent_on < 1.0:
            raise ParameterError(f"KWinners percent_on == {percent_on!r}, must lie in (0, 1).")
        if not 0.0 < percent_on * k_inference_factor < 1.0:
            raise ParameterError(
                f"KWinners percent_on * k_inference_factor == {percent_on * k_inference_factor!r}"
                ", must lie in (0, 1)."
            )
        if boost_strength < 0:
            raise ParameterError(f"KWinners boost_strength == {boost_strength!r}, must be >= 0.")
        if not 0.0 <= boost_strength_factor <= 1.0:
            raise ParameterError(
                f"KWinners boost_strength_factor == {boost_strength_factor!r}, must lie in [0, 1]."
            )
        self.percent_on = float(percent_on)
        self.k_inference_factor = float(k_inference_factor)
        self.percent_on_inference = self.percent_on * self.k_inference_factor
        self.boost_strength_factor = float(boost_strength_factor)
        self.duty_cycle_period = int(duty_cycle_period)
        self.break_ties = bool(break_ties)
        self.relu = bool(relu)
        self.learning_iterations = 0
        self.n = 0
        self.k = 0
        self.k_inference = 0
        self.register_buffer("boost_strength", torch.tensor(float(boost_strength)))

    def boost_factors(self) -> torch.Tensor:
        """exp(-boost_strength · duty_cycle): positive ranking factors (buffer shape)."""
        return torch.exp(-self.boost_strength * self.duty_cycle)

    def _winners(self, x: torch.Tensor, k: int, flat: bool) -> torch.Tensor:
        scores = x.detach() * self.boost_factors()
        if flat:
            mask = kwinners_mask(scores.reshape(x.shape[0], -1), k, self.break_ties, self.relu)
            return mask.reshape(x.shape)
        mask = kwinners_mask(scores.movedim(1, -1), k, self.break_ties, self.relu)
        return mask.movedim(-1, 1)

    def _update_duty_cycle(self, active: torch.Tensor, dims: tuple, scale: float) -> None:
        batch = active.shape[0]
        self.learning_iterations += batch
        period = min(self.duty_cycle_period, self.learning_iterations)
        new = active.sum(dim=dims, dtype=torch.float32).reshape(self.duty_cycle.shape) / scale
        self.duty_cycle.mul_(period - batch).add_(new).div_(period)

    def extra_repr(self) -> str:
        return (
            f"n={self.n}, percent_on={self.percent_on}, k_inference_factor="
            f"{self.k_inference_factor}, boost_strength={float(self.boost_strength)}, "
            f"break_ties={self.break_ties}, relu={self.relu}"
        )


class KWinners(_KWinnersBase):
    """k-WTA over the units of a (B, n) input.

    Parameters
    ----------
    n : int
        Units.
    percent_on : float
        Fraction of winners in training, k = round(n · percent_on).
    k_inference_factor : float
        Eval mode keeps ``int(k · k_inference_factor)`` winners.
    boost_strength, boost_strength_factor : float
        Boosting strength (>= 0) and its per-epoch decay (see :func:`update_boost_strength`).
    duty_cycle_period : int
        Samples the duty-cycle average spans.
    break_ties, relu : bool
        See the module docstring.
    """

    def __init__(
        self,
        n: int,
        percent_on: float,
        k_inference_factor: float = 1.5,
        boost_strength: float = 1.0,
        boost_strength_factor: float = 0.9,
        duty_cycle_period: int = 1000,
        break_ties: bool = False,
        relu: bool = False,
    ):
        super().__init__(
            percent_on,
            k_inference_factor,
            boost_strength,
            boost_strength_factor,
            duty_cycle_period,
            break_ties,
            relu,
        )
        self.n = int(n)
        self.k = int(round(self.n * self.percent_on))
        self.k_inference = int(self.k * self.k_inference_factor)
        self.register_buffer("duty_cycle", torch.zeros(self.n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.k if self.training else self.k_inference
        mask = self._winners(x, k, flat=True)
        out = x * mask
        if self.training:
            with torch.no_grad():
                self._update_duty_cycle(out > 0, (0,), 1.0)
        return out


class KWinners2d(_KWinnersBase):
    """k-WTA over a (B, C, H, W) input: globally, or per position over the channels.

    Parameters
    ----------
    channels : int
    percent_on : float
        Fraction of winners: of all C·H·W units (global) or of the C channels (local).
    k_inference_factor, boost_strength, boost_strength_factor, duty_cycle_period
        As for :class:`KWinners`; eval mode keeps
        ``round(n · percent_on · k_inference_factor)`` winners, n = C·H·W (global) or C.
    local : bool
        Winners per position among the channels.
    break_ties, relu : bool
    """

    def __init__(
        self,
        channels: int,
        percent_on: float = 0.1,
        k_inference_factor: float = 1.5,
        boost_strength: float = 1.0,
        boost_strength_factor: float = 0.9,
        duty_cycle_period: int = 1000,
        local: bool = False,
        break_ties: bool = False,
        relu: bool = False,
    ):
        super().__init__(
            percent_on,
            k_inference_factor,
            boost_strength,
            boost_strength_factor,
            duty_cycle_period,
            break_ties,
            relu,
        )
        self.channels = int(channels)
        self.local = bool(local)
        if self.local:
            self.k = int(round(self.channels * self.percent_on))
            self.k_inference = int(round(self.channels * self.percent_on_inference))
        self.register_buffer("duty_cycle", torch.zeros((1, self.channels, 1, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.n == 0:
            self.n = int(x[0].numel())
            if not self.local:
                self.k = int(round(self.n * self.percent_on))
                self.k_inference = int(round(self.n * self.percent_on_inference))
        k = self.k if self.training else self.k_inference
        mask = self._winners(x, k, flat=not self.local)
        out = x * mask
        if self.training:
            with torch.no_grad():
                hw = float(x.shape[2] * x.shape[3])
                self._update_duty_cycle(out > 0, (0, 2, 3), hw)
        return out

    def extra_repr(self) -> str:
        return f"channels={self.channels}, local={self.local}, " + super().extra_repr()
