"""Weight operators of projections: dense, CSR-sparse and 2-D convolution.

Every operator maps ``n_pre`` pre-synaptic units onto ``n_out`` port entries and
is stored *pre-synaptic major*: the fan-out of unit ``i`` is one contiguous row
(dense), one CSR row (sparse) or one kernel slice (conv), which is what the
event scheduler streams for each event.

Counting vocabulary (per delivered event from unit ``i``):

* ``fanout_nnz()[i]`` — non-zero weights in the fan-out of ``i`` (a synaptic op each);
* ``fanout_total()[i]`` — all stored connections of ``i``, zero weights included (a
  Sparse operator stores only its listed entries);
* ``fanout_dense()[i]`` — connections of the equivalent dense layer, whatever the
  storage (what a dense layer multiplies).

For a convolution these are exact at the borders: a kernel tap that falls on padding is
not a connection (the geometry lives in :mod:`neuro.ir.conv_geometry`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._registry import Registry
from .._validate import as_int_pair, as_int_param
from ..exceptions import ParameterError, ShapeError, ValidationError
from .conv_geometry import ConvGeometry
from .operator import WeightOperator, _as_float_array, _as_index_array

WEIGHTS = Registry("weight operator", ValidationError)
WEIGHTS.register_lazy("complementary", "neuro.ir.complementary:Complementary")

__all__ = ["WEIGHTS", "WeightOperator", "Dense", "Sparse", "Conv2d"]


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
    dense_storage: ClassVar[bool] = True
    values_field: ClassVar[str] = "weight"
    weight: np.ndarray

    def __post_init__(self):
        self.weight = np.ascontiguousarray(_as_float_array(self.weight, 2, "dense weight"))

    @property
    def n_pre(self) -> int:
        return self.weight.shape[0]

    @property
    def n_out(self) -> int:
        return self.weight.shape[1]

    def _fanout_nnz(self) -> np.ndarray:
        return np.count_nonzero(self.weight, axis=1).astype(np.int64)

    def _fanout_total(self) -> np.ndarray:
        return np.full(self.n_pre, self.n_out, dtype=np.int64)

    def apply(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, np.float64) @ self.weight.astype(np.float64)

    def dense(self, dtype=np.float64) -> np.ndarray:
        return self.weight.astype(dtype)

    def csr(self, dtype=np.float64):
        import scipy.sparse as sp

        return sp.csr_matrix(np.asarray(self.weight, dtype=dtype))

    def matrix(self, dtype=np.float64):
        return self.dense(dtype)

    def synapses(self, zeros: bool = False):
        import scipy.sparse as sp

        w = self.weight
        return sp.csr_matrix(np.ones(w.shape, bool) if zeros else w != 0).astype(np.int64).tocsr()

    def scale_outputs(self, scale: np.ndarray) -> Dense:
        scale = np.asarray(scale, dtype=np.float64).ravel()
        return Dense(self.weight.astype(np.float64) * scale[None, :])

    def scale_inputs(self, scale: np.ndarray) -> Dense:
        scale = np.asarray(scale, dtype=np.float64).ravel()
        return Dense(self.weight.astype(np.float64) * scale[:, None])

    def compact(self, sparse_below: float) -> WeightOperator:
        if self.weight.size and np.count_nonzero(self.weight) / self.weight.size < sparse_below:
            return Sparse.from_matrix(self.weight)
        return self


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
    values_field: ClassVar[str] = "data"
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

    def _rows(self) -> np.ndarray:
        """Pre-synaptic unit of each stored weight, shape (nnz,)."""
        return np.repeat(np.arange(self.n_pre), np.diff(self.indptr))

    def _fanout_nnz(self) -> np.ndarray:
        rows = self._rows()
        return np.bincount(rows, weights=self.data != 0, minlength=self.n_pre).astype(np.int64)

    def _fanout_total(self) -> np.ndarray:
        return np.diff(self.indptr).astype(np.int64)

    def fanout_dense(self) -> np.ndarray:
        """Connections per unit in the dense layer this matrix stores: ``n_out`` each."""
        return np.full(self.n_pre, self.n_out, dtype=np.int64)

    def apply(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.to_scipy().T.astype(np.float64) @ np.asarray(x, np.float64).T).T

    def dense(self, dtype=np.float64) -> np.ndarray:
        return self.to_scipy().toarray().astype(dtype, copy=False)

    def csr(self, dtype=np.float64):
        return self.to_scipy().tocsr().astype(dtype)

    def synapses(self, zeros: bool = False):
        import scipy.sparse as sp

        values = np.ones(self.indices.size) if zeros else (self.data != 0).astype(np.float64)
        m = sp.csr_matrix((values, self.indices, self.indptr), shape=self.shape)
        m.eliminate_zeros()
        m.sum_duplicates()
        m.data[:] = 1.0
        return m.astype(np.int64).tocsr()

    def scale_outputs(self, scale: np.ndarray) -> Sparse:
        scale = np.asarray(scale, dtype=np.float64).ravel()
        return Sparse(self.indptr, self.indices, self.data * scale[self.indices], self.width)

    def scale_inputs(self, scale: np.ndarray) -> Sparse:
        scale = np.asarray(scale, dtype=np.float64).ravel()
        return Sparse(self.indptr, self.indices, self.data * scale[self._rows()], self.width)

    def diagonal(self) -> np.ndarray | None:
        """The values of a square one-weight-per-row identity pattern (a per-unit
        scale), else None."""
        n = self.n_pre
        if (
            self.width == n
            and np.array_equal(self.indptr, np.arange(n + 1))
            and np.array_equal(self.indices, np.arange(n))
        ):
            return np.asarray(self.data, dtype=np.float64)
        return None


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
    dense_storage: ClassVar[bool] = True
    values_field: ClassVar[str] = "weight"
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
    def geometry(self) -> ConvGeometry:
        """The convolution's :class:`~neuro.ir.conv_geometry.ConvGeometry` (no weights)."""
        c_out, _, kh, kw = self.weight.shape
        return ConvGeometry(self.in_shape, c_out, (kh, kw), self.stride, self.padding, self.groups)

    def geometry_array(self) -> np.ndarray:
        """``[H, W, H_out, W_out, s_h, s_w, p_h, p_w]`` (int64) for the cpu event kernels."""
        return self.geometry.as_array()

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """(C_out, H_out, W_out)."""
        return self.geometry.out_shape

    @property
    def input_shape(self) -> tuple:
        return self.in_shape

    @property
    def n_pre(self) -> int:
        return self.geometry.n_pre

    @property
    def n_out(self) -> int:
        return self.geometry.n_out

    def expand_bias(self, bias: np.ndarray) -> np.ndarray:
        bias = np.asarray(bias, dtype=np.float64).ravel()
        c_out, h_out, w_out = self.out_shape
        if bias.shape == (c_out,):
            return np.repeat(bias, h_out * w_out)
        return super().expand_bias(bias)

    def compact_bias(self, bias: np.ndarray) -> np.ndarray:
        bias = np.asarray(bias, dtype=np.float64).ravel()
        per_channel = bias.reshape(self.out_shape[0], -1)
        if np.all(per_channel == per_channel[:, :1]):
            return per_channel[:, 0].copy()
        return bias

    def _fanout_nnz(self) -> np.ndarray:
        return self.geometry.fanout(self.weight != 0)

    def _fanout_total(self) -> np.ndarray:
        return self.geometry.fanout(np.ones(self.weight.shape, bool))

    def _fanout_dense(self) -> np.ndarray:
        return self.fanout_total()

    def connections(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pre, post, flat kernel index) of every connection (cached), see
        :meth:`ConvGeometry.connections`."""
        return self._cached("connections", self.geometry.connections)

    def apply(self, x: np.ndarray) -> np.ndarray:
        geo = self.geometry
        c_out, cg, kh, kw = self.weight.shape
        _, h_out, w_out = geo.out_shape
        xp = geo.pad(np.asarray(x, np.float64))
        out = np.zeros((xp.shape[0], c_out, h_out, w_out))
        og = c_out // self.groups
        wt = self.weight.astype(np.float64)
        for ky in range(kh):
            for kx in range(kw):
                patch = geo.tap_patch(xp, ky, kx)
                for gi in range(self.groups):
                    out[:, gi * og : (gi + 1) * og] += np.einsum(
                        "bchw,oc->bohw",
                        patch[:, gi * cg : (gi + 1) * cg],
                        wt[gi * og : (gi + 1) * og, :, ky, kx],
                    )
        return out.reshape(xp.shape[0], -1)

    def csr(self, dtype=np.float64):
        import scipy.sparse as sp

        pre, post, widx = self.connections()
        values = self.weight.reshape(-1)[widx].astype(dtype)
        return sp.coo_matrix((values, (pre, post)), shape=self.shape).tocsr()

    def dense(self, dtype=np.float64) -> np.ndarray:
        pre, post, widx = self.connections()
        out = np.zeros(self.shape, dtype=dtype)
        out[pre, post] = self.weight.reshape(-1)[widx]
        return out

    def synapses(self, zeros: bool = False):
        import scipy.sparse as sp

        pre, post, widx = self.connections()
        if not zeros:
            keep = self.weight.reshape(-1)[widx] != 0
            pre, post = pre[keep], post[keep]
        m = sp.csr_matrix((np.ones(pre.size, np.int64), (pre, post)), shape=self.shape)
        m.sum_duplicates()
        return m

    def forward(self, dtype=np.float32):
        weight = self.weight.astype(dtype)
        geo = self.geometry
        return lambda x: geo.correlate(x, weight)

    def _replace(self, weight: np.ndarray) -> Conv2d:
        return Conv2d(weight, self.in_shape, self.stride, self.padding, self.groups)

    def scale_outputs(self, scale: np.ndarray) -> Conv2d | None:
        scale = np.asarray(scale, dtype=np.float64).ravel()
        per_channel = scale.reshape(self.out_shape[0], -1)
        if not np.all(per_channel == per_channel[:, :1]):
            return None
        return self._replace(self.weight.astype(np.float64) * per_channel[:, 0, None, None, None])

    def scale_inputs(self, scale: np.ndarray) -> Conv2d | None:
        scale = np.asarray(scale, dtype=np.float64).ravel()
        per_channel = scale.reshape(self.in_shape[0], -1)
        if not np.all(per_channel == per_channel[:, :1]):
            return None
        s = per_channel[:, 0]
        channel = self.geometry.input_channel()
        return self._replace(self.weight.astype(np.float64) * s[channel][:, :, None, None])
