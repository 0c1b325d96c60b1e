"""Operations that move units without arithmetic: concatenation, transposes (channel
shuffle), slices and chunks, nearest upsampling — and ConvTranspose2d.

Which input unit lands where is found by running the torch operation itself on a tensor
of unit indices (float64, exact below 2**53), so every rearrangement torch can express
converts exactly.  The result composes with the value's pending operators: a
population's output becomes a selection projection (one weight 1 per output unit), a
pending Dense/Sparse/Conv2d operator gets its output columns selected or placed.
``torch.cat`` places each input's terms in its slice of one value; a Linear or Conv2d
that consumes a concatenation of populations splits its weights instead (one projection
per part, no relay).
"""

from __future__ import annotations

import operator

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from neuro.exceptions import ConversionError
from neuro.ir.weights import Dense, Sparse, WeightOperator

from .graph_builder import GraphBuilder, Term, Value
from .registry import register_function_converter, register_module_converter
from .torch_modules import _np

__all__ = ["operator_matrix", "place", "unit_map"]

# Dense operators with at least this fraction of non-zero weights stay Dense.
_DENSE_FROM = 0.5


def operator_matrix(op: WeightOperator | None, n_pre: int) -> sp.csr_matrix:
    """The (n_pre, n_out) matrix of a weight operator (None: the identity)."""
    if op is None:
        return sp.identity(n_pre, format="csr", dtype=np.float64)
    m = op.csr(np.float64)
    m.eliminate_zeros()  # placed weights: zero weights are no connections
    return m


def _operator(m: sp.csr_matrix) -> WeightOperator:
    m = m.tocsr()
    m.eliminate_zeros()
    m.sort_indices()
    if m.shape[0] * m.shape[1] and m.nnz / (m.shape[0] * m.shape[1]) >= _DENSE_FROM:
        return Dense(m.toarray())
    return Sparse(m.indptr.astype(np.int64), m.indices.astype(np.int64), m.data, m.shape[1])


def unit_map(fn, shapes: list[tuple]) -> np.ndarray:
    """Global input unit of every output unit of ``fn`` applied to index tensors.

    Input k's units are numbered after those of inputs 0..k-1.
    """
    tensors, offset = [], 0
    for shape in shapes:
        n = int(np.prod(shape))
        t = torch.arange(offset, offset + n, dtype=torch.float64).reshape(1, *shape)
        tensors.append(t)
        offset += n
    out = fn(*tensors)
    if isinstance(out, (tuple, list)):
        return [o.reshape(-1).numpy().astype(np.int64) for o in out]
    return out.reshape(-1).numpy().astype(np.int64)


def place(ctx: GraphBuilder, parts: list[Value], idx: np.ndarray, out_shape, name: str):
    """The value whose output unit j is unit ``idx[j]`` of the concatenated ``parts``."""
    sizes = [p.size for p in parts]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    terms = []
    n_out = idx.size
    bias = np.zeros(n_out)
    has_bias = False
    for k, part in enumerate(parts):
        mask = (idx >= starts[k]) & (idx < starts[k + 1])
        if not mask.any():
            continue
        cols = np.flatnonzero(mask)
        local = idx[cols] - starts[k]
        # selection S: part unit local[i] -> output column cols[i]
        sel = sp.csr_matrix((np.ones(cols.size), (local, cols)), shape=(part.size, n_out))
        if part.bias is not None:
            bias[cols] = part.bias[local]
            has_bias = True
        for term in part.terms:
            n_pre = ctx.network.populations[term.source].size
            if term.op is None and part.size != n_pre:
                raise ConversionError(f"{name!r}: a term's size does not match its source.")
            m = operator_matrix(term.op, n_pre) @ sel
            terms.append(Term(term.source, _operator(m)))
    return Value(tuple(out_shape), terms, bias if has_bias else None, name)


def _rearranged(ctx, parts, fn, out_shape, name):
    idx = unit_map(fn, [p.shape for p in parts])
    return place(ctx, parts, idx, out_shape, name)


@register_function_converter(torch.cat, torch.concat, torch.concatenate)
def cat(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``torch.cat(tensors, dim)`` along a non-batch axis: each part placed in its slice."""
    tensors = args[0] if args else kwargs["tensors"]
    dim = args[1] if len(args) > 1 else kwargs.get("dim", kwargs.get("axis", 0))
    parts = [t for t in tensors]
    if not all(isinstance(p, Value) for p in parts):
        raise ConversionError(f"{name!r}: torch.cat with constant tensors does not convert.")
    nd = len(parts[0].shape) + 1
    if dim % nd == 0:
        raise ConversionError(f"{name!r}: torch.cat along the batch axis does not convert.")
    return concatenate(ctx, parts, dim % nd, name)


def concatenate(ctx: GraphBuilder, parts: list[Value], dim: int, name: str) -> Value:
    """The concatenation of ``parts`` along axis ``dim`` of (B, *shape) (remembers them)."""
    shape = tuple(torch.cat([torch.zeros(1, *p.shape) for p in parts], dim).shape[1:])
    out = _rearranged(ctx, parts, lambda *ts: torch.cat(ts, dim), shape, name)
    out.parts = (parts, dim)
    return out


@register_function_converter(torch.transpose, "method:transpose")
def transpose(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``x.transpose(a, b)`` of two non-batch axes (channel shuffle)."""
    x = args[0]
    dims = tuple(args[1:3]) or (kwargs["dim0"], kwargs["dim1"])
    nd = len(x.shape) + 1
    if 0 in {d % nd for d in dims}:
        raise ConversionError(f"{name!r}: a transpose that moves the batch axis does not convert.")
    return _rearranged(ctx, [x], lambda t: t.transpose(*dims), out_shape, name)


@register_function_converter(torch.permute, "method:permute")
def permute(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``x.permute(0, ...)``: permutations that keep the batch axis first."""
    x = args[0]
    rest = tuple(args[1:]) or tuple(kwargs["dims"])
    dims = tuple(rest[0]) if len(rest) == 1 and isinstance(rest[0], (tuple, list)) else rest
    if dims[0] % (len(x.shape) + 1) != 0:
        raise ConversionError(f"{name!r}: a permute that moves the batch axis does not convert.")
    return _rearranged(ctx, [x], lambda t: t.permute(*dims), out_shape, name)


@register_function_converter(operator.getitem)
def getitem(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """Indexing a size tuple or a chunk list; slicing a tensor (batch axis kept whole)."""
    x, key = args[0], args[1]
    if not isinstance(x, Value):
        return x[key]
    keys = key if isinstance(key, tuple) else (key,)
    first = keys[0]
    if not (isinstance(first, slice) and first == slice(None)) and first is not Ellipsis:
        raise ConversionError(
            f"{name!r}: indexing the batch axis does not convert; slice it whole (x[:, ...])."
        )
    return _rearranged(ctx, [x], lambda t: t[key], out_shape, name)


def _pieces(ctx, name, x: Value, fn):
    idx_list = unit_map(fn, [x.shape])
    shapes = [tuple(o.shape[1:]) for o in fn(torch.zeros(1, *x.shape))]
    return tuple(place(ctx, [x], idx, shape, f"{name}.{k}")
                 for k, (idx, shape) in enumerate(zip(idx_list, shapes)))  # fmt: skip


@register_function_converter(torch.chunk, "method:chunk")
def chunk(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``x.chunk(n, dim)`` along a non-batch axis → a tuple of selections."""
    x, n = args[0], args[1] if len(args) > 1 else kwargs["chunks"]
    dim = args[2] if len(args) > 2 else kwargs.get("dim", 0)
    if dim % (len(x.shape) + 1) == 0:
        raise ConversionError(f"{name!r}: chunks along the batch axis do not convert.")
    return _pieces(ctx, name, x, lambda t: torch.chunk(t, n, dim))


@register_function_converter(torch.split, "method:split")
def split(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``x.split(size, dim)`` along a non-batch axis → a tuple of selections."""
    x, size = args[0], args[1] if len(args) > 1 else kwargs["split_size_or_sections"]
    dim = args[2] if len(args) > 2 else kwargs.get("dim", 0)
    if dim % (len(x.shape) + 1) == 0:
        raise ConversionError(f"{name!r}: splits along the batch axis do not convert.")
    return _pieces(ctx, name, x, lambda t: torch.split(t, size, dim))


def _nearest(ctx, x: Value, size, scale, mode, name):
    if mode != "nearest":
        raise ConversionError(
            f"{name!r}: upsampling mode {mode!r} does not convert; only 'nearest' (a copy "
            "of each unit) does."
        )

    def fn(t):
        return F.interpolate(t, size=size, scale_factor=scale, mode="nearest")

    shape = tuple(fn(torch.zeros(1, *x.shape)).shape[1:])
    return _rearranged(ctx, [x], fn, shape, name)


@register_module_converter(nn.Upsample, nn.UpsamplingNearest2d)
def upsample(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """Nearest upsampling → a selection (each unit copied to its block)."""
    return _nearest(ctx, x, module.size, module.scale_factor, module.mode, name)


@register_function_converter(F.interpolate)
def interpolate(ctx: GraphBuilder, name, args, kwargs, out_shape):
    """``F.interpolate(x, size | scale_factor, mode='nearest')``."""
    given = dict(zip(("input", "size", "scale_factor", "mode"), args)) | kwargs
    return _nearest(ctx, given["input"], given.get("size"), given.get("scale_factor"),
                    given.get("mode", "nearest"), name)  # fmt: skip


@register_module_converter(nn.ConvTranspose2d)
def conv_transpose2d(ctx: GraphBuilder, module, x: Value, name: str) -> Value:
    """``ConvTranspose2d`` → a Sparse (or Dense) projection computed from the module."""
    if len(x.shape) != 3:
        raise ConversionError(
            f"module {name!r} (ConvTranspose2d) needs (C, H, W) inputs, got {x.shape}."
        )
    src = ctx.as_population(x, exact_shape=False)
    n_pre = x.size
    weight = module.weight.detach().double()
    blocks, out_shape = [], None
    with torch.no_grad():
        for start in range(0, n_pre, 1024):
            stop = min(n_pre, start + 1024)
            basis = torch.zeros(stop - start, n_pre, dtype=torch.float64)
            basis[torch.arange(stop - start), torch.arange(start, stop)] = 1.0
            y = F.conv_transpose2d(basis.reshape(-1, *x.shape), weight, None, module.stride,
                                   module.padding, module.output_padding, module.groups,
                                   module.dilation)  # fmt: skip
            out_shape = tuple(y.shape[1:])
            blocks.append(sp.csr_matrix(y.reshape(stop - start, -1).numpy()))
    m = sp.vstack(blocks, format="csr")
    bias = None
    if module.bias is not None:
        bias = np.repeat(_np(module.bias), out_shape[1] * out_shape[2])
    return ctx.apply(src, _operator(m), bias, out_shape, name)


def split_consumer(ctx: GraphBuilder, x: Value, make, name: str):
    """Apply a weight layer to a concatenation of populations part by part.

    ``make(part, lo, hi)`` returns the layer's value on one part, using the weights of
    input channels ``lo:hi``.  Returns None when ``x`` is not such a concatenation (the
    caller then converts it whole).
    """
    info = getattr(x, "parts", None)
    if info is None:
        return None
    parts, dim = info
    if dim != 1:
        return None
    out, lo = None, 0
    for k, part in enumerate(parts):
        hi = lo + part.shape[0]
        v = make(part, lo, hi, k)
        out = v if out is None else ctx.add(out, v, name)
        lo = hi
    out.origin = name
    return out
