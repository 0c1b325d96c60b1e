"""SAS 1:M structured activation sparsification as a PyTorch module (Sekikawa & Yashima 2024).

:class:`SAS` replaces an activation function: an input of shape (B, C, *rest) becomes
(B, C·M, *rest) in which each input occupies M consecutive channels ``c·M .. c·M+M-1``
and exactly one of them holds |x| (see :mod:`neuro.models.sas` for the slot rule:
M = 2 sends a positive x to slot 0 and |x| of any other x to slot 1).  The following
``nn.Linear``/``nn.Conv2d`` takes M times as many inputs; per input it still uses one
column of weights, so the multiplications equal those of the narrow layer.

Gradients: the slot choice is piecewise constant (no gradient); within the chosen slot
the value is |x|, whose gradient is sign(x).
"""

from __future__ import annotations

import torch
from torch import nn

from ..exceptions import ParameterError, ShapeError

__all__ = ["SAS", "sas_projection"]


def sas_projection(x: torch.Tensor, m: int) -> torch.Tensor:
    """The SAS 1:M projection along dimension 1.

    Parameters
    ----------
    x : Tensor, shape (B, C, *rest)
    m : int
        Slots per input, a power of two; C must be a multiple of log2(m).

    Returns
    -------
    Tensor, shape (B, C·m, *rest)
    """
    if m == 1:
        return x
    g = int(m).bit_length() - 1
    b, c = x.shape[0], x.shape[1]
    rest = x.shape[2:]
    if c % g:
        raise ShapeError(f"SAS m == {m} needs a channel count divisible by {g}, got {c}.")
    xg = x.reshape(b, c // g, g, *rest)
    with torch.no_grad():
        weights = (2 ** torch.arange(g, device=x.device)).reshape(1, 1, g, *([1] * len(rest)))
        slot = ((xg <= 0).long() * weights).sum(dim=2, keepdim=True)  # (B, C/g, 1, *rest)
        slot = slot.expand(b, c // g, g, *rest).reshape(b, c, *rest)
        onehot = slot.unsqueeze(2) == torch.arange(m, device=x.device).reshape(
            1, 1, m, *([1] * len(rest))
        )
    out = x.abs().unsqueeze(2) * onehot.to(x.dtype)
    return out.reshape(b, c * m, *rest)


class SAS(nn.Module):
    """SAS 1:M projection module (an activation that widens channels M times).

    Parameters
    ----------
    m : int
        Slots per input, a power of two (default 2).
    """

    def __init__(self, m: int = 2):
        super().__init__()
        if int(m) != m or m < 1 or int(m) & (int(m) - 1):
            raise ParameterError(f"SAS m == {m!r}, must be a power of two >= 1.")
        self.sparse_m = int(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sas_projection(x, self.sparse_m)

    def extra_repr(self) -> str:
        return f"m={self.sparse_m}"
