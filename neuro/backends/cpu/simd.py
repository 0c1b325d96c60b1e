"""Register-blocked multiply-add of weight rows (a numba intrinsic, explicit vectors).

:func:`add_terms` adds ``n`` terms ``v_t · w[o_t + j0 : o_t + j0 + width]`` to one output
row segment ``row[j0 : j0 + width]``, keeping the segment in vector registers across
all the terms: the row is read once and written once, however many terms it receives.
Written in numba, the same loop re-reads and re-writes the row for each group of
terms, because numba cannot tell the compiler that the row and the weights do not
overlap; here the segment is held in stack slots that the compiler promotes to
registers.

Each element receives its terms one by one, in term order, each as one fused
multiply-add (``llvm.fmuladd``, the operation that the kernels' ``contract`` fast-math
flag produces): ``a = v_0 w_0 + a``, then ``a = v_1 w_1 + a``, ... — the same values, bit
for bit, as a scalar loop ``row[j] = row[j] + v0 * w0[j] + v1 * w1[j] + ...`` compiled
with that flag (:func:`add_terms_grouped`, the rows' tails).
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .views import row_view

__all__ = [
    "VECTOR_BYTES",
    "add_row_terms",
    "add_terms",
    "add_terms_grouped",
    "add_terms_row",
    "add_pixel_terms",
    "add_pixel_terms_rows",
]

# Bytes of one vector register (AVX2); a block of ``vectors`` registers holds the
# segment, at most 8 (the other registers hold the weights and the broadcast value).
VECTOR_BYTES = 32
# Rows of at most this many vectors (two blocks of 8) are held in registers across all
# their terms (:func:`add_terms_row`); wider rows take eight terms per pass
# (:func:`add_terms_grouped`), which measured as fast as more register blocks.
REGISTER_ROW_VECTORS = 16


class _Vectors:
    """LLVM IR for vectors of ``VECTOR_BYTES`` of a float type, shared by the intrinsics'
    code generators: addresses, unaligned loads and stores, broadcasts, fused
    multiply-adds."""

    def __init__(self, context, builder, dtype):
        self.builder = builder
        self.lanes = VECTOR_BYTES // (dtype.bitwidth // 8)
        self.type = ir.VectorType(context.get_value_type(dtype), self.lanes)
        self.align = dtype.bitwidth // 8
        self.fmuladd = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(self.type, [self.type] * 3),
            f"llvm.fmuladd.v{self.lanes}f{dtype.bitwidth}",
        )

    def at(self, base, start, k):
        """Address of vector ``k`` from element ``start`` of the pointer ``base``."""
        b = self.builder
        element = b.add(start, ir.IntType(64)(k * self.lanes))
        return b.bitcast(b.gep(base, [element]), self.type.as_pointer())

    def load(self, address):
        return self.builder.load(address, align=self.align)

    def store(self, value, address):
        self.builder.store(value, address, align=self.align)

    def splat(self, x):
        """The scalar ``x`` in every lane."""
        v = cgutils.get_null_value(self.type)
        for lane in range(self.lanes):
            v = self.builder.insert_element(v, x, ir.IntType(64)(lane))
        return v

    def accumulators(self, rows, start, n):
        """``n`` stack slots holding the vectors ``0..n-1`` from ``rows[start]`` (the
        compiler keeps them in registers)."""
        slots = []
        for k in range(n):
            slot = cgutils.alloca_once(self.builder, self.type)
            self.builder.store(self.load(self.at(rows, start, k)), slot)
            slots.append(slot)
        return slots

    def add_product(self, slot, splat, w):
        """``slot = splat · w + slot``, one fused multiply-add per lane."""
        b = self.builder
        b.store(b.call(self.fmuladd, [splat, w, b.load(slot)]), slot)

    def write_back(self, slots, rows, start):
        for k, slot in enumerate(slots):
            self.store(self.builder.load(slot), self.at(rows, start, k))


@intrinsic
def add_terms(typingctx, row, j0, wt, woff, wv, t0, t1, vectors):
    """``row[j0 : j0 + L] += Σ_{t0 <= t < t1} wv[t] · wt[woff[t] + j0 : ... + L]`` with
    ``L = vectors · VECTOR_BYTES / itemsize``, term by term, in registers.

    Parameters
    ----------
    row : 1-D float array
        Output row (added to); ``j0 + L`` elements at least.
    j0 : int
        First element of the segment (also the offset into every weight row).
    wt : float array (any shape, C-contiguous; read flat)
        Weights: term ``t`` reads ``wt.flat[woff[t] + j0 : woff[t] + j0 + L]``.
    woff : 1-D int64 array
        Flat offset of each term's weight row.
    wv : 1-D float array
        Value of each term.
    t0, t1 : int
        Terms to add.
    vectors : int literal
        Vector registers per segment (1, 2, 4 or 8).
    """
    if not isinstance(vectors, types.IntegerLiteral):
        return None
    dtype = row.dtype
    if dtype not in (types.float32, types.float64) or wt.dtype != dtype or wv.dtype != dtype:
        return None
    n_vec = vectors.literal_value

    def codegen(context, builder, sig, args):
        row_a, j0_v, wt_a, woff_a, wv_a, t0_v, t1_v, _ = args
        vec = _Vectors(context, builder, dtype)

        def data(i, value):
            return context.make_array(sig.args[i])(context, builder, value).data

        row_p, wt_p, off_p, val_p = data(0, row_a), data(2, wt_a), data(3, woff_a), data(4, wv_a)
        acc = vec.accumulators(row_p, j0_v, n_vec)
        with cgutils.for_range_slice(builder, t0_v, t1_v, ir.IntType(64)(1)) as (t, _):
            splat = vec.splat(builder.load(builder.gep(val_p, [t])))
            w_row = builder.gep(wt_p, [builder.load(builder.gep(off_p, [t]))])
            for k in range(n_vec):
                vec.add_product(acc[k], splat, vec.load(vec.at(w_row, j0_v, k)))
        vec.write_back(acc, row_p, j0_v)
        return context.get_dummy_value()

    return types.none(row, j0, wt, woff, wv, t0, t1, vectors), codegen


@intrinsic
def add_pixel_terms(
    typingctx, rows, c_out, j0, wt, woff, xp, bases, toff, n_terms, pixels, vectors
):
    """For ``P = pixels`` output pixels at once (rows ``p`` of ``rows``, ``c_out`` apart):
    ``rows[p c_out + j0 : ... + L] += Σ_t xp[bases[p] + toff[t]] · wt.flat[woff[t] + j0 :
    ... + L]``, ``L = vectors · VECTOR_BYTES / itemsize``, term by term, in registers:
    each weight segment is read once for the ``P`` pixels.

    Parameters
    ----------
    rows : 1-D float array
        ``P`` output rows of ``c_out`` elements, one after another (added to).
    c_out : int
        Row length.
    j0 : int
        First element of the segment.
    wt : float array (C-contiguous; read flat)
    woff : 1-D int64 array
        Flat offset of each term's weight row.
    xp : 1-D float array
        Input values: term ``t`` of pixel ``p`` is ``xp[bases[p] + toff[t]]``.
    bases : 1-D int64 array, length >= P
    toff : 1-D int64 array
    n_terms : int
    pixels, vectors : int literals
        ``P`` (1 to 4) and vector registers per pixel (``P · vectors`` <= 8).
    """
    if not isinstance(vectors, types.IntegerLiteral) or not isinstance(
        pixels, types.IntegerLiteral
    ):
        return None
    dtype = rows.dtype
    if dtype not in (types.float32, types.float64) or wt.dtype != dtype or xp.dtype != dtype:
        return None
    n_vec, n_pix = vectors.literal_value, pixels.literal_value

    def codegen(context, builder, sig, args):
        rows_a, c_out_v, j0_v, wt_a, woff_a, xp_a, bases_a, toff_a, n_v = args[:9]
        vec = _Vectors(context, builder, dtype)
        i64 = ir.IntType(64)

        def data(i, value):
            return context.make_array(sig.args[i])(context, builder, value).data

        rows_p, wt_p, off_p = data(0, rows_a), data(3, wt_a), data(4, woff_a)
        xp_p, bases_p, toff_p = data(5, xp_a), data(6, bases_a), data(7, toff_a)
        bases = [builder.load(builder.gep(bases_p, [i64(p)])) for p in range(n_pix)]
        starts = [builder.add(builder.mul(c_out_v, i64(p)), j0_v) for p in range(n_pix)]
        acc = [vec.accumulators(rows_p, starts[p], n_vec) for p in range(n_pix)]
        with cgutils.for_range(builder, n_v) as loop:
            t = loop.index
            w_row = builder.gep(wt_p, [builder.load(builder.gep(off_p, [t]))])
            w = [vec.load(vec.at(w_row, j0_v, k)) for k in range(n_vec)]
            shift = builder.load(builder.gep(toff_p, [t]))
            for p in range(n_pix):
                splat = vec.splat(builder.load(builder.gep(xp_p, [builder.add(bases[p], shift)])))
                for k in range(n_vec):
                    vec.add_product(acc[p][k], splat, w[k])
        for p in range(n_pix):
            vec.write_back(acc[p], rows_p, starts[p])
        return context.get_dummy_value()

    sig = types.none(rows, c_out, j0, wt, woff, xp, bases, toff, n_terms, pixels, vectors)
    return sig, codegen


@njit(cache=True, nogil=True, inline="always", fastmath={"contract"})
def add_row_terms(row, n, wt, woff, wv, n_terms):
    """``row[:n] += Σ_{t < n_terms} wv[t] · wt.flat[woff[t] : woff[t] + n]``, term by term:
    in registers for rows up to ``REGISTER_ROW_VECTORS`` vectors, else eight terms per
    pass (the same values either way)."""
    if n * row.itemsize <= REGISTER_ROW_VECTORS * VECTOR_BYTES:
        add_terms_row(row, n, wt, woff, wv, 0, n_terms)
    else:
        add_terms_grouped(row, n, wt, woff, wv, n_terms)


@njit(cache=True, nogil=True, inline="always", fastmath={"contract"})
def add_terms_row(row, n, wt, woff, wv, t0, t1):
    """``row[:n] += Σ_{t0 <= t < t1} wv[t] · wt.flat[woff[t] : woff[t] + n]``, term by term:
    segments of 8, 4, 2 and 1 vector registers, then the last elements one by one."""
    lanes = VECTOR_BYTES // row.itemsize
    j0 = 0
    while j0 + 8 * lanes <= n:
        add_terms(row, j0, wt, woff, wv, t0, t1, 8)
        j0 += 8 * lanes
    if j0 + 4 * lanes <= n:
        add_terms(row, j0, wt, woff, wv, t0, t1, 4)
        j0 += 4 * lanes
    if j0 + 2 * lanes <= n:
        add_terms(row, j0, wt, woff, wv, t0, t1, 2)
        j0 += 2 * lanes
    if j0 + lanes <= n:
        add_terms(row, j0, wt, woff, wv, t0, t1, 1)
        j0 += lanes
    for j in range(j0, n):
        a = row[j]
        for t in range(t0, t1):
            a = a + wv[t] * row_view(wt, woff[t] + j, 1)[0]
        row[j] = a


@njit(cache=True, nogil=True, inline="always", fastmath={"contract"})
def add_terms_grouped(row, n, wt, woff, wv, n_terms):
    """``row[:n] += Σ_{t < n_terms} wv[t] · wt.flat[woff[t] : woff[t] + n]``, eight terms
    per pass over the row (then four, then one): for rows wider than the registers hold
    (the same values as :func:`add_terms_row`)."""
    t = 0
    while t + 8 <= n_terms:
        w0 = row_view(wt, woff[t], n)
        w1 = row_view(wt, woff[t + 1], n)
        w2 = row_view(wt, woff[t + 2], n)
        w3 = row_view(wt, woff[t + 3], n)
        w4 = row_view(wt, woff[t + 4], n)
        w5 = row_view(wt, woff[t + 5], n)
        w6 = row_view(wt, woff[t + 6], n)
        w7 = row_view(wt, woff[t + 7], n)
        v0, v1, v2, v3 = wv[t], wv[t + 1], wv[t + 2], wv[t + 3]
        v4, v5, v6, v7 = wv[t + 4], wv[t + 5], wv[t + 6], wv[t + 7]
        for j in range(n):
            row[j] = (
                row[j]
                + v0 * w0[j]
                + v1 * w1[j]
                + v2 * w2[j]
                + v3 * w3[j]
                + v4 * w4[j]
                + v5 * w5[j]
                + v6 * w6[j]
                + v7 * w7[j]
            )
        t += 8
    while t + 4 <= n_terms:
        w0 = row_view(wt, woff[t], n)
        w1 = row_view(wt, woff[t + 1], n)
        w2 = row_view(wt, woff[t + 2], n)
        w3 = row_view(wt, woff[t + 3], n)
        v0, v1, v2, v3 = wv[t], wv[t + 1], wv[t + 2], wv[t + 3]
        for j in range(n):
            row[j] = row[j] + v0 * w0[j] + v1 * w1[j] + v2 * w2[j] + v3 * w3[j]
        t += 4
    while t < n_terms:
        w0 = row_view(wt, woff[t], n)
        v0 = wv[t]
        for j in range(n):
            row[j] = row[j] + v0 * w0[j]
        t += 1


@njit(cache=True, nogil=True, inline="always", fastmath={"contract"})
def add_pixel_terms_rows(rows, c_out, wt, woff, xp, bases, toff, n_terms):
    """:func:`add_pixel_terms` over whole rows of four pixels: segments of 2 and 1 vector
    registers per pixel, then the last elements one by one (same values, term order)."""
    lanes = VECTOR_BYTES // rows.itemsize
    j0 = 0
    while j0 + 2 * lanes <= c_out:
        add_pixel_terms(rows, c_out, j0, wt, woff, xp, bases, toff, n_terms, 4, 2)
        j0 += 2 * lanes
    if j0 + lanes <= c_out:
        add_pixel_terms(rows, c_out, j0, wt, woff, xp, bases, toff, n_terms, 4, 1)
        j0 += lanes
    for p in range(4):
        for j in range(j0, c_out):
            a = rows[p * c_out + j]
            for t in range(n_terms):
                a = a + xp[bases[p] + toff[t]] * row_view(wt, woff[t] + j, 1)[0]
            rows[p * c_out + j] = a
