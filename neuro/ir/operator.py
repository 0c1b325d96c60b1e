"""The interface every weight operator implements: the facts backends and converters ask.

A weight operator maps ``n_pre`` pre-synaptic units onto ``n_out`` port entries.  What
a backend, a converter or the hardware mapper needs to know about it is a method here
(counts, matrix views, rewrites), answered by each operator kind in
:mod:`neuro.ir.weights` and :mod:`neuro.ir.complementary`, so no code outside the IR
dispatches on the operator's class.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from .._validate import check_finite
from ..exceptions import ParameterError, ShapeError, ValidationError

__all__ = ["WeightOperator"]


class WeightOperator:
    """Interface shared by all weight operators: the facts every backend and converter asks.

    Logical shape: ``(n_pre, n_out)`` whatever the storage.  Views: :meth:`dense`,
    :meth:`csr`, :meth:`matrix`, :meth:`synapses`.  Counts: :meth:`fanout_nnz`,
    :meth:`fanout_total` (cached, see below).  Rewrites: :meth:`scale_outputs`,
    :meth:`scale_inputs`, :meth:`with_stored_weights`, :meth:`compact`.

    Facts are cached while every array field is read-only and owns its memory (as a
    compiled program leaves them, see :class:`neuro.backends.program.NetworkGuard`): the
    cache key holds each array by identity and every other field by value, so replacing
    an array or a field recomputes, and a writeable array is never cached.  Count
    arrays come back as fresh writeable copies (the cache cannot be edited through them,
    and kernels see the same array types as without a cache).
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
        return np.array(self._cached("fanout_nnz", self._fanout_nnz))

    def fanout_total(self) -> np.ndarray:
        """All stored connections per pre-synaptic unit (zero weights included), int64
        array of shape (n_pre,)."""
        return np.array(self._cached("fanout_total", self._fanout_total))

    def _fanout_dense(self) -> np.ndarray:
        return np.full(self.n_pre, self.n_out, dtype=np.int64)

    def fanout_dense(self) -> np.ndarray:
        """Connections per pre-synaptic unit of the equivalent dense layer, whatever the
        storage: ``n_out`` for a matrix (Dense or Sparse alike, as NeuroBench counts a
        Linear layer), the in-bounds taps for a convolution (= :meth:`fanout_total`).
        int64 array of shape (n_pre,)."""
        return np.array(self._cached("fanout_dense", self._fanout_dense))

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
