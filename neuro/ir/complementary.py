"""Complementary sparsity (Hunter et al. 2021, "Two Sparsities Are Better Than One").

G sparse kernels whose non-zero positions do not overlap are overlaid into one dense
*packed* kernel; a per-weight kernel id says which of the G kernels each packed weight
belongs to.  A sparse input is then processed as select (the active inputs) → multiply
(their packed weights) → route (each product by its kernel id) → sum (into that kernel's
output), so every multiply is useful and the G kernels cost the memory of one.

Here the G kernels of a group are G consecutive output units (a fully connected layer)
or output channels (a convolution): output ``p * G + id`` of packed group ``p``.  The
last group may hold fewer than G kernels.

Counting is that of the equivalent unpacked projection (:meth:`Complementary.unpack`):
``fanout_nnz`` (synaptic ops) and ``fanout_total`` (dense connections) are the unpacked
operator's, so a packed and an unpacked projection give identical counts; the packed
memory is :meth:`Complementary.packed_words` (one word per packed weight, plus
:meth:`Complementary.id_bits` bits of kernel id each) against ``nnz()`` stored weights of
the unpacked sparse form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._validate import as_int_pair, as_int_param
from ..exceptions import ParameterError, ShapeError, ValidationError
from .conv_geometry import ConvGeometry
from .operator import WeightOperator, _as_index_array
from .weights import WEIGHTS, Conv2d, Dense

__all__ = [
    "Complementary",
    "complementary_masks",
    "check_complementary",
    "pack",
]


def complementary_masks(n_kernels: int, shape, density: float | None = None, seed=None):
    """Random non-overlapping masks for ``n_kernels`` kernels of one shape.

    Parameters
    ----------
    n_kernels : int
        G >= 1.
    shape : tuple of int
        Shape of one kernel (e.g. (n_pre,) for a weight column, (C_in, kh, kw) for a
        conv kernel).
    density : float, optional
        Fraction of non-zero weights per kernel, 0 < density <= 1 / G; default 1 / G
        (the packed kernel is full).
    seed : int or numpy Generator, optional

    Returns
    -------
    ndarray of bool, shape (G, *shape)
        No position is True in more than one kernel.
    """
    g = as_int_param(n_kernels, "complementary n_kernels")
    shape = tuple(as_int_param(s, "complementary shape entry", 1) for s in np.atleast_1d(shape))
    size = int(np.prod(shape))
    if g < 1:
        raise ParameterError(f"complementary n_kernels == {n_kernels!r}, must be >= 1.")
    if density is None:
        per_kernel = size // g
    else:
        if not 0 < density <= 1.0 / g + 1e-12:
            raise ParameterError(
                f"complementary density == {density!r}, must lie in (0, 1/G] == (0, {1 / g:.4g}] "
                f"so that {g} kernels fit without overlap."
            )
        per_kernel = max(1, int(round(density * size)))
    if per_kernel * g > size:
        raise ParameterError(
            f"{g} kernels x {per_kernel} non-zeros do not fit into {size} positions."
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(size)[: per_kernel * g].reshape(g, per_kernel)
    masks = np.zeros((g, size), dtype=bool)
    np.put_along_axis(masks, order, True, axis=1)
    return masks.reshape(g, *shape)


def check_complementary(masks, names=None) -> None:
    """Raise :class:`ValidationError` if two kernels share a non-zero position.

    Parameters
    ----------
    masks : array-like of bool, shape (G, *kernel_shape)
        Non-zero pattern of each kernel.
    names : sequence of str, optional
        Kernel names for the message (default ``kernel 0`` ...).
    """
    masks = np.asarray(masks, dtype=bool)
    count = masks.sum(axis=0)
    if count.size and count.max() > 1:
        pos = np.unravel_index(int(np.argmax(count > 1)), count.shape)
        owners = np.flatnonzero(masks[(slice(None), *pos)])
        label = [names[i] if names is not None else f"kernel {i}" for i in owners]
        raise ValidationError(
            f"complementary kernels overlap: {' and '.join(label)} share a non-zero "
            f"weight at position {tuple(int(p) for p in pos)}; kernels packed together must "
            "have disjoint non-zeros (use complementary_masks to generate them)."
        )


def pack(weights: WeightOperator | np.ndarray, n_kernels: int) -> Complementary:
    """Pack a Dense or Conv2d operator (or a dense (n_pre, n_out) matrix) into groups of G.

    Output units (Dense) or output channels (Conv2d) ``p*G .. p*G+G-1`` form packed group
    ``p``; their non-zeros must not overlap.

    Raises
    ------
    ValidationError
        Naming the two overlapping output units/channels and the position.
    """
    g = as_int_param(n_kernels, "complementary n_kernels")
    if g < 1:
        raise ParameterError(f"complementary n_kernels == {n_kernels!r}, must be >= 1.")
    if isinstance(weights, np.ndarray):
        weights = Dense(weights)
    if isinstance(weights, Conv2d):
        if weights.groups != 1:
            raise ParameterError(
                f"complementary packing needs a conv2d with groups == 1, got {weights.groups}."
            )
        kernels = weights.weight  # (C_out, C_in, kh, kw)
        unit = "output channel"
    elif isinstance(weights, Dense):
        kernels = weights.weight.T  # (n_out, n_pre): one kernel per output unit
        unit = "output unit"
    else:
        raise ValidationError(
            f"complementary packing takes Dense or Conv2d weights, got {type(weights).__name__}."
        )
    n_out = kernels.shape[0]
    n_groups = -(-n_out // g)
    packed = np.zeros((n_groups, *kernels.shape[1:]), dtype=kernels.dtype)
    ids = np.zeros(packed.shape, dtype=np.int32)
    for p in range(n_groups):
        block = kernels[p * g : (p + 1) * g]
        names = [f"{unit} {p * g + i}" for i in range(block.shape[0])]
        check_complementary(block != 0, names)
        nz = block != 0
        packed[p] = block.sum(axis=0)
        ids[p] = np.where(nz.any(axis=0), np.argmax(nz, axis=0), 0)
    if isinstance(weights, Conv2d):
        return Complementary(
            packed, ids, g, n_out, weights.in_shape, weights.stride, weights.padding
        )
    return Complementary(packed.T.copy(), ids.T.copy(), g, n_out)


@WEIGHTS.register("complementary")
@dataclass(eq=False)
class Complementary(WeightOperator):
    """G non-overlapping sparse kernels packed into one dense kernel with kernel ids.

    Parameters
    ----------
    packed : ndarray
        Fully connected: shape (n_pre, P), pre-synaptic major, column p the packed kernel
        of output group p.  Convolution: shape (P, C_in, kh, kw).
    kernel_ids : ndarray of int, same shape as ``packed``
        Which kernel of its group (0 .. G-1) each packed weight belongs to.
    n_kernels : int
        G, kernels per packed group.
    n_outputs : int
        Output units (fully connected) or output channels (convolution), <= P * G.
    in_shape : tuple of int or None
        (C_in, H, W) for a convolution; None for a fully connected layer.
    stride, padding : int or pair of int
        Convolution geometry (ignored when fully connected).

    Notes
    -----
    Output ``p * G + kernel_ids[...]`` of packed group ``p`` receives the product.  Build
    one with :func:`pack`; :meth:`unpack` gives the equivalent Dense or Conv2d operator.
    """

    type: ClassVar[str] = "complementary"
    dense_storage: ClassVar[bool] = True
    packed: np.ndarray
    kernel_ids: np.ndarray
    n_kernels: int
    n_outputs: int
    in_shape: tuple | None = None
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)

    def __post_init__(self):
        packed = np.asarray(self.packed) if not isinstance(self.packed, str) else None
        if packed is None or packed.dtype.kind not in "fiub":
            raise ParameterError(
                f"complementary packed weights == {self.packed!r:.60}, must be a numeric array."
            )
        self.packed = np.ascontiguousarray(packed)
        if self.packed.dtype.kind != "f":
            self.packed = self.packed.astype(np.float64)
        self.kernel_ids = np.ascontiguousarray(
            _as_index_array(self.kernel_ids, "complementary kernel_ids"), dtype=np.int32
        )
        self.n_kernels = as_int_param(self.n_kernels, "complementary n_kernels")
        self.n_outputs = as_int_param(self.n_outputs, "complementary n_outputs", 1)
        self.stride = as_int_pair(self.stride, "complementary stride")
        self.padding = as_int_pair(self.padding, "complementary padding")
        if self.in_shape is not None:
            self.in_shape = tuple(int(s) for s in np.asarray(self.in_shape).ravel())
        conv = self.in_shape is not None
        if self.packed.ndim != (4 if conv else 2):
            raise ShapeError(
                f"complementary packed has shape {self.packed.shape}; it must be (n_pre, P) "
                "fully connected or (P, C_in, kh, kw) with in_shape for a convolution."
            )
        if self.kernel_ids.shape != self.packed.shape:
            raise ShapeError(
                f"complementary kernel_ids shape {self.kernel_ids.shape} != packed shape "
                f"{self.packed.shape}."
            )
        if self.n_kernels < 1:
            raise ParameterError(f"complementary n_kernels == {self.n_kernels}, must be >= 1.")
        n_groups = self.n_groups
        if not (n_groups - 1) * self.n_kernels < self.n_outputs <= n_groups * self.n_kernels:
            raise ShapeError(
                f"complementary n_outputs == {self.n_outputs} does not fit {n_groups} packed "
                f"groups of {self.n_kernels} kernels."
            )
        ids = self.kernel_ids
        if ids.size and (ids.min() < 0 or ids.max() >= self.n_kernels):
            raise ValidationError(
                f"complementary kernel_ids must lie in [0, {self.n_kernels}), found "
                f"[{ids.min()}, {ids.max()}]."
            )
        target = self._targets()
        bad = (self.packed != 0) & (target >= self.n_outputs)
        if bad.any():
            raise ValidationError(
                f"complementary: {int(bad.sum())} non-zero packed weight(s) route to an output "
                f">= n_outputs == {self.n_outputs}."
            )
        if conv and self.packed.shape[1] != self.in_shape[0]:
            raise ShapeError(
                f"complementary packed kernels have {self.packed.shape[1]} input channels, "
                f"in_shape {self.in_shape} has {self.in_shape[0]}."
            )

    # -- structure ------------------------------------------------------------------
    @property
    def is_conv(self) -> bool:
        """True for a packed convolution."""
        return self.in_shape is not None

    @property
    def n_groups(self) -> int:
        """P, the number of packed kernels."""
        return self.packed.shape[0] if self.is_conv else self.packed.shape[1]

    def _targets(self) -> np.ndarray:
        """Output unit/channel each packed weight routes to, same shape as ``packed``."""
        p = np.arange(self.n_groups)
        p = p.reshape(-1, 1, 1, 1) if self.is_conv else p.reshape(1, -1)
        return p * self.n_kernels + self.kernel_ids

    def unpack(self) -> WeightOperator:
        """The equivalent Dense (n_pre, n_out) or Conv2d operator (cached while the
        arrays are read-only, see :class:`~neuro.ir.weights.WeightOperator`)."""
        return self._cached("unpack", self._unpack)

    def _unpack(self) -> WeightOperator:
        target = self._targets()
        nz = self.packed != 0
        if self.is_conv:
            _, c_in, kh, kw = self.packed.shape
            w = np.zeros((self.n_outputs, c_in, kh, kw), dtype=self.packed.dtype)
            pi, ci, yi, xi = np.nonzero(nz)
            w[target[nz], ci, yi, xi] = self.packed[nz]
            return Conv2d(w, self.in_shape, self.stride, self.padding)
        w = np.zeros((self.packed.shape[0], self.n_outputs), dtype=self.packed.dtype)
        rows, _ = np.nonzero(nz)
        w[rows, target[nz]] = self.packed[nz]
        return Dense(w)

    # -- operator interface ------------------------------------------------------------
    @property
    def geometry(self) -> ConvGeometry:
        """The unpacked convolution's geometry (C_out == n_outputs); convolutions only."""
        if not self.is_conv:
            raise AttributeError("a fully connected complementary operator has no conv geometry")
        _, _, kh, kw = self.packed.shape
        return ConvGeometry(self.in_shape, self.n_outputs, (kh, kw), self.stride, self.padding)

    @property
    def input_shape(self) -> tuple | None:
        return self.in_shape

    @property
    def n_pre(self) -> int:
        return int(np.prod(self.in_shape)) if self.is_conv else self.packed.shape[0]

    @property
    def n_out(self) -> int:
        return self.geometry.n_out if self.is_conv else self.n_outputs

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """(C_out, H_out, W_out) of a packed convolution."""
        return self.geometry.out_shape

    def _fanout_nnz(self) -> np.ndarray:
        return self.unpack().fanout_nnz()

    def _fanout_total(self) -> np.ndarray:
        return self.unpack().fanout_total()

    def _fanout_dense(self) -> np.ndarray:
        return self.unpack().fanout_dense()

    def apply(self, x: np.ndarray) -> np.ndarray:
        return self.unpack().apply(x)

    def dense(self, dtype=np.float64) -> np.ndarray:
        return self.unpack().dense(dtype)

    def csr(self, dtype=np.float64):
        import scipy.sparse as sp

        m = self.unpack().csr(dtype)
        m.eliminate_zeros()
        return sp.csr_matrix(m)

    def forward(self, dtype=np.float32):
        return self.unpack().forward(dtype)

    def expand_bias(self, bias: np.ndarray) -> np.ndarray:
        return self.unpack().expand_bias(bias)

    def compact_bias(self, bias: np.ndarray) -> np.ndarray:
        return self.unpack().compact_bias(bias)

    # -- memory -----------------------------------------------------------------------
    def packed_words(self) -> int:
        """Weight words stored in packed form (one per packed weight, zeros included)."""
        return int(self.packed.size)

    def stored_nnz(self) -> int:
        """Non-zero weights of the unpacked kernels (their sparse storage, in words)."""
        return int(np.count_nonzero(self.packed))

    def id_bits(self) -> int:
        """Bits of kernel id stored with each packed weight, ceil(log2 G)."""
        return int(math.ceil(math.log2(self.n_kernels))) if self.n_kernels > 1 else 0

    def to_dict(self) -> dict:
        return {
            "packed": self.packed,
            "kernel_ids": self.kernel_ids,
            "n_kernels": self.n_kernels,
            "n_outputs": self.n_outputs,
            "in_shape": self.in_shape,
            "stride": self.stride,
            "padding": self.padding,
        }
