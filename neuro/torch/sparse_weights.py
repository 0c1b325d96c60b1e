"""A wrapper that keeps a fixed fraction of a layer's weights at zero (weight sparsity).

:class:`SparseWeights` wraps an ``nn.Linear`` or ``nn.Conv2d``: at construction each
output unit (channel) keeps ``round((1 - sparsity) · fan_in)`` randomly chosen weights
and the others are masked to zero in every forward pass, so training never revives
them.  The attribute names (``module``, ``sparsity``, ``zero_mask``, ``rezero_weights``)
follow nupic.torch's ``SparseWeights``/``SparseWeights2d``, so one converter reads both.

Optionally the masks are *complementary* (Hunter et al. 2021): with ``complementary=G``
the output units are taken in groups of G whose masks do not overlap, so each group
packs into one dense kernel (:func:`neuro.ir.complementary.pack`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..exceptions import ParameterError

__all__ = ["SparseWeights", "rezero_weights"]


def rezero_weights(module: nn.Module) -> None:
    """Zero the masked weights of a :class:`SparseWeights` (use with ``model.apply``)."""
    if isinstance(module, SparseWeights):
        module.rezero_weights()


class SparseWeights(nn.Module):
    """Fixed random weight sparsity for a Linear or Conv2d layer.

    Parameters
    ----------
    module : nn.Linear or nn.Conv2d
    sparsity : float
        Fraction of zero weights per output unit, 0 <= sparsity < 1.
    complementary : int, optional
        G: make the masks of each group of G consecutive output units disjoint
        (needs 1 - sparsity <= 1 / G).
    seed : int, optional
        Seed of the mask generator.
    """

    def __init__(
        self,
        module: nn.Module,
        sparsity: float,
        complementary: int | None = None,
        seed: int | None = None,
    ):
        super().__init__()
        if not isinstance(module, (nn.Linear, nn.Conv2d)):
            raise ParameterError(
                f"SparseWeights wraps nn.Linear or nn.Conv2d, got {type(module).__name__}."
            )
        if not 0.0 <= sparsity < 1.0:
            raise ParameterError(f"SparseWeights sparsity == {sparsity!r}, must lie in [0, 1).")
        self.module = module
        self.sparsity = float(sparsity)
        out_units = module.weight.shape[0]
        fan_in = int(np.prod(module.weight.shape[1:]))
        keep = int(round((1.0 - self.sparsity) * fan_in))
        rng = np.random.default_rng(seed)
        nonzero = np.zeros((out_units, fan_in), dtype=bool)
        if complementary is None:
            for unit in range(out_units):
                nonzero[unit, rng.choice(fan_in, keep, replace=False)] = True
        else:
            from ..ir.complementary import complementary_masks

            g = int(complementary)
            for start in range(0, out_units, g):
                block = complementary_masks(g, (fan_in,), density=keep / fan_in, seed=rng)
                stop = min(out_units, start + g)
                nonzero[start:stop] = block[: stop - start]
        zero_mask = torch.from_numpy(~nonzero).reshape(module.weight.shape)
        self.register_buffer("zero_mask", zero_mask.to(torch.float16))
        self.rezero_weights()

    @property
    def weight(self) -> torch.Tensor:
        """The wrapped module's weight (zeros where masked)."""
        return self.module.weight

    @property
    def bias(self) -> torch.Tensor | None:
        """The wrapped module's bias."""
        return self.module.bias

    def masked_weight(self) -> torch.Tensor:
        """The weight with the masked entries zeroed."""
        return self.module.weight * (1.0 - self.zero_mask.to(self.module.weight.dtype))

    @torch.no_grad()
    def rezero_weights(self) -> None:
        """Set the masked weights to zero in place."""
        self.module.weight.masked_fill_(self.zero_mask.bool(), 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.masked_weight()
        m = self.module
        if isinstance(m, nn.Linear):
            return F.linear(x, w, m.bias)
        return m._conv_forward(x, w, m.bias)

    def extra_repr(self) -> str:
        return f"sparsity={self.sparsity}"
