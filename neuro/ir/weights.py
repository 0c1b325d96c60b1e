"""Weight operators of projections: dense, CSR-sparse and 2-D convolution.

Every operator maps ``n_pre`` pre-synaptic units onto ``n_out`` port entries and
is stored *pre-synaptic major*: the fan-out of unit ``i`` is one contiguous row
(dense), one CSR row (sparse) or one kernel slice (conv), which is what the
event scheduler streams for each event.

Counting vocabulary (per delivered event from unit ``i``):

* ``fanout_nnz()[i]`` — non-zero weights in the fan-out of ``i`` (a synaptic op each);
* ``fanout_total()[i]`` — all connections of ``i``, zero weights included (what a dense
  layer multiplies).  For a convolution these are exact at the borders: a kernel tap
  that falls on padding is not a connection.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._registry import Registry
from .._validate import as_int_pair, as_int_param, check_finite
from ..exceptions import ParameterError, ShapeError, ValidationError

WEIGHTS = Registry("weight operator", ValidationError)
WEIGHTS.register_lazy("complementary", "neuro.ir.complementary:Complementary")

__all__ = ["WEIGHTS", "WeightOperator", "Dense", "Sparse", "Conv2d"]


class WeightOperator:
    """Interface shared by all weight operators."""

    type: ClassVar[str]

    @property
    def n_pre(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def n_out(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def fanout_nnz(self) -> np.ndarray:  # pragma: no cover - interface
        """Non-zero weights per pre-synaptic unit, int64 array of shape (n_pre,)."""
        raise NotImplementedError

    def fanout_total(self) -> np.ndarray:  # pragma: no cover - interface
        """All connections per pre-synaptic unit, int64 array of shape (n_pre,)."""
        raise NotImplementedError

    def apply(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        """Dense reference product: x of shape (B, n_pre) → (B, n_out), float64."""
        raise NotImplementedError

    def expand_bias(self, bias: np.ndarray) -> np.ndarray:
        """Expand a bias to one value per port entry, shape (n_out,)."""
        bias = np.asarray(bias, dtype=np.float64).ravel()
        if bias.shape != (self.n_out,):
            raise ShapeError(f"bias has {bias.size} values, the port has {self.n_out} entries.")
        return bias

    def nnz(self) -> int:
        """Stored non-zero weights (synaptic memory in weights)."""
        return int(self.fanout_nnz().sum())

    def validate(self, where: str) -> None:
        """Raise a :class:`ValidationError` naming ``where`` if the weights are invalid."""
        for name, value in self.to_dict().items():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                check_finite(value, f"{where}: {self.type} {name}")

    def to_dict(self) -> dict:
        """Fields as plain scalars, tuples and arrays (for files)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict) -> WeightOperator:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def _as_index_array(value, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        arr = np.asarray([object()])
    if arr.size and arr.dtype.kind not in "iu":
        if arr.dtype.kind != "f" or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ParameterError(f"{what} has dtype {arr.dtype}, must hold integers.")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _as_float_array(value, ndim: int, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        raise ParameterError(
            f"{what} is a {type(value).__name__} numpy cannot turn into an array (ragged?)."
        ) from None
    if arr.dtype.kind not in "fiub":
        raise ParameterError(f"{what} has dtype {arr.dtype}, must be numeric.")
    if arr.ndim != ndim:
        raise ShapeError(f"{what} has shape {arr.shape}, must have {ndim} dimensions.")
    return arr.astype(np.float32 if arr.dtype == np.float32 else np.float64, copy=False)


@WEIGHTS.register("dense")
@dataclass(eq=False)
class Dense(WeightOperator):
    """All-to-all weights.

    Parameters
    ----------
    weight : ndarray, shape (n_pre, n_out)
        Pre-synaptic major (the transpose of ``torch.nn.Linear.weight``).
    """

    type: ClassVar[str] = "dense"
    weight: np.ndarray

    def __post_init__(self):
        self.weight = np.ascontiguousarray(_as_float_array(self.weight, 2, "dense weight"))

    @property
    def n_pre(self) -> int:
        return self.weight.shape[0]

    @property
    def n_out(self) -> int:
        return self.weight.shape[1]

    def fanout_nnz(self) -> np.ndarray:
        return np.count_nonzero(self.weight, axis=1).astype(np.int64)

    def fanout_total(self) -> np.ndarray:
        return np.full(self.n_pre, self.n_out, dtype=np.int64)

    def apply(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, np.float64) @ self.weight.astype(np.float64)


@WEIGHTS.register("sparse")
@dataclass(eq=False)
class Sparse(WeightOperator):
    """CSR weights indexed by pre-synaptic unit.

    Parameters
    ----------
    indptr : ndarray of int, shape (n_pre + 1,)
    indices : ndarray of int, shape (nnz,)
        Port entry (post-synaptic index) of each stored weight.
    data : ndarray of float, shape (nnz,)
    width : int
        Width of the target port (``n_out``).

    Only stored weights are connections: ``fanout_total`` is the stored row length,
    ``fanout_nnz`` the stored non-zero values.
    """

    type: ClassVar[str] = "sparse"
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    width: int = 0

    def __post_init__(self):
        self.indptr = _as_index_array(self.indptr, "sparse indptr")
        self.indices = _as_index_array(self.indices, "sparse indices")
        self.data = np.ascontiguousarray(_as_float_array(self.data, 1, "sparse data"))
        self.width = as_int_param(self.width, "sparse width", 0)
        if self.indptr.ndim != 1 or self.indptr.size < 1 or self.indptr[0] != 0:
            raise ShapeError(
                f"sparse indptr has shape {self.indptr.shape}"
                + (f" and starts at {self.indptr.flat[0]}" if self.indptr.size else "")
                + "; it must be 1-D, start at 0 and have n_pre + 1 entries."
            )
        drops = np.flatnonzero(np.diff(self.indptr) < 0)
        if drops.size:
            i = int(drops[0])
            raise ShapeError(
                f"sparse indptr must be non-decreasing; it decreases from indptr[{i}] == "
                f"{self.indptr[i]} to indptr[{i + 1}] == {self.indptr[i + 1]}."
            )
        if self.indptr[-1] != self.indices.size:
            raise ShapeError(
                f"sparse indptr ends at {self.indptr[-1]}, must end at nnz == "
                f"{self.indices.size} (the number of indices)."
            )
        if self.indices.size != self.data.size:
            raise ShapeError(
                f"sparse indices ({self.indices.size}) and data ({self.data.size}) "
                "differ in length."
            )
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= self.width):
            raise ShapeError(
                f"sparse indices must lie in [0, {self.width}), found "
                f"[{self.indices.min()}, {self.indices.max()}]."
            )

    @classmethod
    def from_matrix(cls, matrix) -> Sparse:
        """Build from a dense array or any scipy.sparse matrix of shape (n_pre, n_out)."""
        import scipy.sparse as sp

        csr = sp.csr_matrix(matrix)
        csr.sort_indices()
        return cls(csr.indptr, csr.indices, csr.data, csr.shape[1])

    def to_scipy(self):
        """The weights as a ``scipy.sparse.csr_matrix`` of shape (n_pre, n_out)."""
        import scipy.sparse as sp

        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=(self.n_pre, self.n_out))

    @property
    def n_pre(self) -> int:
        return self.indptr.size - 1

    @property
    def n_out(self) -> int:
        return self.width

    def fanout_nnz(self) -> np.ndarray:
        rows = np.repeat(np.arange(self.n_pre), np.diff(self.indptr))
        return np.bincount(rows, weights=self.data != 0, minlength=self.n_pre).astype(np.int64)

    def fanout_total(self) -> np.ndarray:
        return np.diff(self.indptr).astype(np.int64)

    def fanout_dense(self) -> np.ndarray:
        """Connections per unit in the dense layer this matrix stores: ``n_out`` each."""
        return np.full(self.n_pre, self.n_out, dtype=np.int64)

    def apply(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.to_scipy().T.astype(np.float64) @ np.asarray(x, np.float64).T).T


@WEIGHTS.register("conv2d")
@dataclass(eq=False)
class Conv2d(WeightOperator):
    """2-D convolution (cross-correlation, as in PyTorch) with stride, padding and groups.

    Parameters
    ----------
    weight : ndarray, shape (C_out, C_in // groups, kh, kw)
        PyTorch layout.
    in_shape : tuple of int
        (C_in, H, W) of the pre-synaptic population.
    stride, padding : int or pair of int
    groups : int

    Notes
    -----
    Port entries are ordered (C_out, H_out, W_out), H_out = (H + 2 p_h − kh) // s_h + 1.
    Dilation is 1.  A bias is given per output channel, shape (C_out,).
    """

    type: ClassVar[str] = "conv2d"
    weight: np.ndarray
    in_shape: tuple
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    groups: int = 1

    def __post_init__(self):
        self.weight = np.ascontiguousarray(_as_float_array(self.weight, 4, "conv2d weight"))
        try:
            self.in_shape = tuple(
                as_int_param(s, "conv2d in_shape entry") for s in np.asarray(self.in_shape).ravel()
            )
        except (ParameterError, ValueError):
            raise ShapeError(
                f"conv2d in_shape == {self.in_shape!r}, must be (C_in, H, W) of ints > 0."
            ) from None
        self.stride = as_int_pair(self.stride, "conv2d stride")
        self.padding = as_int_pair(self.padding, "conv2d padding")
        self.groups = as_int_param(self.groups, "conv2d groups", 1)
        c_out, c_in_g, kh, kw = self.weight.shape
        if len(self.in_shape) != 3 or min(self.in_shape) < 1:
            raise ShapeError(f"conv2d in_shape == {self.in_shape}, must be (C_in, H, W) > 0.")
        if min(self.stride) < 1 or min(self.padding) < 0:
            raise ParameterError(
                f"conv2d stride == {self.stride} and padding == {self.padding}: "
                "stride must be >= 1, padding >= 0."
            )
        if self.groups < 1 or c_out % self.groups or self.in_shape[0] % self.groups:
            raise ShapeError(
                f"conv2d groups == {self.groups} must divide C_out == {c_out} and "
                f"C_in == {self.in_shape[0]}."
            )
        if c_in_g * self.groups != self.in_shape[0]:
            raise ShapeError(
                f"conv2d weight has {c_in_g} input channels per group x {self.groups} groups "
                f"!= C_in == {self.in_shape[0]} of in_shape {self.in_shape}."
            )
        if min(self.out_shape) < 1:
            raise ShapeError(
                f"conv2d kernel {kh}x{kw} does not fit input {self.in_shape[1:]} with padding "
                f"{self.padding}: output shape would be {self.out_shape}."
            )

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """(C_out, H_out, W_out)."""
        c_out, _, kh, kw = self.weight.shape
        _, h, w = self.in_shape
        return (
            c_out,
            (h + 2 * self.padding[0] - kh) // self.stride[0] + 1,
            (w + 2 * self.padding[1] - kw) // self.stride[1] + 1,
        )

    @property
    def n_pre(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def n_out(self) -> int:
        return int(np.prod(self.out_shape))

    def expand_bias(self, bias: np.ndarray) -> np.ndarray:
        bias = np.asarray(bias, dtype=np.float64).ravel()
        c_out, h_out, w_out = self.out_shape
        if bias.shape == (c_out,):
            return np.repeat(bias, h_out * w_out)
        return super().expand_bias(bias)

    def _valid_taps(self, axis: int) -> np.ndarray:
        """valid[k, y] = 1 if tap k of input row/column y lands on an output position."""
        k = self.weight.shape[2 + axis]
        n_in = self.in_shape[1 + axis]
        n_out = self.out_shape[1 + axis]
        s, p = self.stride[axis], self.padding[axis]
        t = np.arange(n_in)[None, :] + p - np.arange(k)[:, None]
        return ((t % s == 0) & (t >= 0) & (t // s < n_out)).astype(np.int64)

    def _fanout(self, per_tap: np.ndarray) -> np.ndarray:
        """Sum per-(c_in, ky, kx) connection counts over valid taps → (n_pre,)."""
        vy, vx = self._valid_taps(0), self._valid_taps(1)
        return np.einsum("ckl,ky,lx->cyx", per_tap, vy, vx).astype(np.int64).ravel()

    def _per_input_channel(self, mask: np.ndarray) -> np.ndarray:
        """(C_out, C_in/g, kh, kw) mask → (C_in, kh, kw) counts over the group's outputs."""
        c_out = self.weight.shape[0]
        g = self.groups
        per_group = mask.reshape(g, c_out // g, *mask.shape[1:]).sum(axis=1)
        return per_group.reshape(-1, *mask.shape[2:]).astype(np.int64)

    def fanout_nnz(self) -> np.ndarray:
        return self._fanout(self._per_input_channel(self.weight != 0))

    def fanout_total(self) -> np.ndarray:
        return self._fanout(self._per_input_channel(np.ones(self.weight.shape, bool)))

    def apply(self, x: np.ndarray) -> np.ndarray:
        c_in, h, w = self.in_shape
        c_out, cg, kh, kw = self.weight.shape
        _, h_out, w_out = self.out_shape
        (sh, sw), (ph, pw) = self.stride, self.padding
        x = np.asarray(x, np.float64).reshape(-1, c_in, h, w)
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        out = np.zeros((x.shape[0], c_out, h_out, w_out))
        og = c_out // self.groups
        wt = self.weight.astype(np.float64)
        for ky in range(kh):
            for kx in range(kw):
                patch = xp[
                    :, :, ky : ky + sh * (h_out - 1) + 1 : sh, kx : kx + sw * (w_out - 1) + 1 : sw
                ]
                for gi in range(self.groups):
                    out[:, gi * og : (gi + 1) * og] += np.einsum(
                        "bchw,oc->bohw",
                        patch[:, gi * cg : (gi + 1) * cg],
                        wt[gi * og : (gi + 1) * og, :, ky, kx],
                    )
        return out.reshape(x.shape[0], -1)
