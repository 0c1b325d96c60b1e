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
from .conv_geometry import ConvGeometry

WEIGHTS = Registry("weight operator", ValidationError)
WEIGHTS.register_lazy("complementary", "neuro.ir.complementary:Complementary")

__all__ = ["WEIGHTS", "WeightOperator", "Dense", "Sparse", "Conv2d"]


class WeightOperator:
    """Interface shared by all weight operators: the facts every backend and converter asks.

    Logical shape: ``(n_pre, n_out)`` whatever the storage.  Views: :meth:`dense`,
    :meth:`csr`, :meth:`matrix`, :meth:`synapses`.  Counts: :meth:`fanout_nnz`,
    :meth:`fanout_total` (cached, see below).  Rewrites: :meth:`scale_outputs`,
    :meth:`scale_inputs`, :meth:`with_stored_weights`, :meth:`compact`.

    Facts are cached while every array field is read-only and owns its memory (as a
    compiled program leaves them, see :class:`neuro.backends.program.NetworkGuard`): the
    cache key holds each array by identity and every other field by value, so replacing
    an array or a field recomputes, and a writeable array is never cached.  Cached
    arrays are returned read-only.
    """

    type: ClassVar[str]
    #: Every connection is kept in a full array (a dense matrix, a dense kernel), zero
    #: weights included; False when only listed connections are stored (CSR).
    dense_storage: ClassVar[bool] = False
    #: Name of the field holding the stored weight values (None: not exposed).
    values_field: ClassVar[str | None] = None

    @property
    def n_pre(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def n_out(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, int]:
        """Logical shape (n_pre, n_out), independent of the storage."""
        return (self.n_pre, self.n_out)

    @property
    def input_shape(self) -> tuple | None:
        """Per-sample shape the operator reads its pre-synaptic units in (a convolution's
        (C_in, H, W)), or None when any arrangement of ``n_pre`` units will do."""
        return None

    # -- cache ------------------------------------------------------------------------
    def _cache_key(self):
        key = []
        for name, value in self.to_dict().items():
            if isinstance(value, np.ndarray):
                if value.flags.writeable or value.base is not None:
                    return None  # contents may change unseen: never cache
                key.append((name, id(value), value))
            else:
                key.append((name, value, None))
        return tuple(key)

    def _cached(self, what: str, compute):
        """``compute()`` once per state of the operator's fields (see class notes)."""
        key = self._cache_key()
        cache = self.__dict__.setdefault("_facts", {})
        if key is None:
            cache.clear()
            return compute()
        hit = cache.get(what)
        if hit is not None and _same_key(hit[0], key):
            return hit[1]
        value = compute()
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
        cache[what] = (key, value)
        return value

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_facts", None)
        return state

    # -- counts -----------------------------------------------------------------------
    def _fanout_nnz(self) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def _fanout_total(self) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def fanout_nnz(self) -> np.ndarray:
        """Non-zero weights per pre-synaptic unit, int64 array of shape (n_pre,)."""
        return self._cached("fanout_nnz", self._fanout_nnz)

    def fanout_total(self) -> np.ndarray:
        """All connections per pre-synaptic unit (zero weights included), int64 array of
        shape (n_pre,)."""
        return self._cached("fanout_total", self._fanout_total)

    def nnz(self) -> int:
        """Stored non-zero weights (synaptic memory in weights)."""
        return int(self.fanout_nnz().sum())

    # -- views ------------------------------------------------------------------------
    def apply(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        """Dense reference product: x of shape (B, n_pre) → (B, n_out), float64."""
        raise NotImplementedError

    def dense(self, dtype=np.float64) -> np.ndarray:
        """The weights as a dense (n_pre, n_out) array of ``dtype`` (a new array)."""
        return self.csr(dtype).toarray()

    def csr(self, dtype=np.float64):
        """The weights as a ``scipy.sparse.csr_matrix`` of shape (n_pre, n_out).

        Operators that store a connection list (Sparse, Conv2d) keep every stored
        connection, zero weights included (explicit zeros); Dense keeps its non-zeros.
        The default unrolls :meth:`apply` on blocks of unit vectors.
        """
        import scipy.sparse as sp

        blocks = [sp.csr_matrix(self.apply(eye)) for eye in _unit_blocks(self.n_pre)]
        if not blocks:
            return sp.csr_matrix((self.n_pre, self.n_out), dtype=dtype)
        return sp.vstack(blocks, format="csr").astype(dtype)

    def matrix(self, dtype=np.float64):
        """(n_pre, n_out) weights in the operator's own form: an ndarray when it is a
        full matrix (Dense), else :meth:`csr`."""
        return self.csr(dtype)

    def synapses(self, zeros: bool = False):
        """Stored synapses: 1 where unit ``i`` reaches port entry ``j``.

        Parameters
        ----------
        zeros : bool
            Also count connections whose weight is zero (row sums then equal
            :meth:`fanout_total`; else :meth:`fanout_nnz`).

        Returns
        -------
        scipy.sparse.csr_matrix of int64, shape (n_pre, n_out)

        Notes
        -----
        The default applies a copy of the operator whose float arrays are replaced by
        ``|w| != 0`` (or all ones) to blocks of unit vectors.
        """
        import scipy.sparse as sp

        fields = {
            k: (
                (np.ones_like(v, np.float64) if zeros else np.asarray(v != 0, np.float64))
                if isinstance(v, np.ndarray) and v.dtype.kind == "f"
                else v
            )
            for k, v in self.to_dict().items()
        }
        mask = type(self).from_dict(fields)
        blocks = [sp.csr_matrix(mask.apply(eye) > 0) for eye in _unit_blocks(self.n_pre, 512)]
        if not blocks:
            return sp.csr_matrix((self.n_pre, self.n_out), dtype=np.int64)
        return sp.vstack(blocks, format="csr").astype(np.int64)

    def forward(self, dtype=np.float32):
        """A fast dense product in ``dtype``: a function (B, n_pre) → (B, n_out).

        Weights are converted once; every input, zero or not, is multiplied (the
        dense engine's arithmetic, not the event-driven one).
        """
        m = self.matrix(dtype)
        if isinstance(m, np.ndarray):
            return lambda x: x @ m
        mt = m.T.tocsr()
        return lambda x: (mt @ x.T).T

    # -- rewrites ---------------------------------------------------------------------
    def expand_bias(self, bias: np.ndarray) -> np.ndarray:
        """Expand a bias to one value per port entry, shape (n_out,)."""
        bias = np.asarray(bias, dtype=np.float64).ravel()
        if bias.shape != (self.n_out,):
            raise ShapeError(f"bias has {bias.size} values, the port has {self.n_out} entries.")
        return bias

    def compact_bias(self, bias: np.ndarray) -> np.ndarray:
        """The shortest bias that :meth:`expand_bias` maps back to ``bias`` (n_out,)."""
        return np.asarray(bias, dtype=np.float64).ravel()

    def scale_outputs(self, scale: np.ndarray) -> WeightOperator | None:
        """The operator with port entry ``j`` multiplied by ``scale[j]`` (n_out,), or None
        when it has no exact form of its own kind."""
        return None

    def scale_inputs(self, scale: np.ndarray) -> WeightOperator | None:
        """The operator applied after a per-unit input scale, ``op(scale * x)``, or None
        when it has no exact form of its own kind."""
        return None

    def diagonal(self) -> np.ndarray | None:
        """The per-unit scale this operator is (unit ``i`` → entry ``i`` only), as its
        (n_pre,) values, or None when it is not such a diagonal map."""
        return None

    def stored_weights(self) -> np.ndarray | None:
        """The stored weight values (the array itself), or None if not exposed."""
        return None if self.values_field is None else getattr(self, self.values_field)

    def with_stored_weights(self, values: np.ndarray) -> WeightOperator:
        """A new operator of the same kind and structure holding ``values`` instead."""
        if self.values_field is None:
            raise ValidationError(f"{self.type} weights do not expose their stored values.")
        return dataclasses.replace(self, **{self.values_field: values})

    def compact(self, sparse_below: float) -> WeightOperator:
        """The same weights stored as CSR when a full matrix has a fraction of non-zero
        weights below ``sparse_below``; otherwise the operator itself."""
        return self

    # -- files ------------------------------------------------------------------------
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


def _same_key(a, b) -> bool:
    if len(a) != len(b):
        return False
    for (na, va, arr_a), (nb, vb, arr_b) in zip(a, b):
        if na != nb:
            return False
        if arr_a is not None or arr_b is not None:
            if arr_a is not arr_b:
                return False
        elif not _equal(va, vb):
            return False
    return True


def _equal(a, b) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return False


def _unit_blocks(n: int, chunk: int = 1024):
    """Blocks of the (n, n) identity, float64 rows ``start .. stop``."""
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        eye = np.zeros((stop - start, n))
        eye[np.arange(stop - start), np.arange(start, stop)] = 1.0
        yield eye


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
