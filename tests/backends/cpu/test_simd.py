"""The register-blocked multiply-adds of ``cpu/simd.py``: every segment width (8, 4, 2,
1 vectors and the scalar tail) gives the values of the eight-terms scalar loop bit for
bit, and the sum of the terms to float rounding of an independent float64 sum."""

import numpy as np
import pytest

from neuro.backends.cpu.simd import (
    add_pixel_terms_rows,
    add_row_terms,
    add_terms_grouped,
    add_terms_row,
)

# Widths that reach each segment size of float32 (8 lanes) and float64 (4 lanes) and a tail.
WIDTHS = [1, 3, 4, 5, 8, 9, 15, 16, 24, 33, 37, 64, 100, 128, 131]


def _terms(width, n_terms, dtype, seed):
    """Weights (rows of ``width`` at scattered offsets), term offsets, values, a row."""
    rng = np.random.default_rng(seed)
    n_rows = n_terms + 3
    wt = rng.standard_normal((n_rows, width)).astype(dtype)
    woff = rng.permutation(n_rows)[:n_terms].astype(np.int64) * width
    wv = rng.standard_normal(n_terms).astype(dtype)
    row = rng.standard_normal(width).astype(dtype)
    return row, wt, woff, wv


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("n_terms", [0, 1, 7, 13])
def test_add_terms_row_equals_the_scalar_loop(dtype, width, n_terms):
    row, wt, woff, wv = _terms(width, n_terms, dtype, seed=width * 31 + n_terms)
    want = row.copy()
    add_terms_grouped(want, width, wt, woff, wv, n_terms)
    got = row.copy()
    add_terms_row(got, width, wt, woff, wv, 0, n_terms)
    np.testing.assert_array_equal(got, want)
    either = row.copy()  # registers or eight terms per pass, by width: the same values
    add_row_terms(either, width, wt, woff, wv, n_terms)
    np.testing.assert_array_equal(either, want)
    exact = row.astype(np.float64) + sum(
        float(wv[t]) * wt.reshape(-1)[woff[t] : woff[t] + width].astype(np.float64)
        for t in range(n_terms)
    )
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(got, exact, rtol=tol, atol=tol * (1 + n_terms))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width", WIDTHS)
def test_add_terms_row_takes_a_range_of_terms(dtype, width):
    row, wt, woff, wv = _terms(width, 9, dtype, seed=width)
    got = row.copy()
    add_terms_row(got, width, wt, woff, wv, 3, 7)
    want = row.copy()
    add_terms_grouped(want, width, wt, woff[3:7].copy(), wv[3:7].copy(), 4)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width", WIDTHS)
def test_four_pixel_rows_equal_one_pixel_at_a_time(dtype, width):
    """``add_pixel_terms_rows``: four output rows share each weight segment; each row
    gets the values that adding its own terms one row at a time gives."""
    rng = np.random.default_rng(width + 7)
    n_terms = 11
    wt = rng.standard_normal((n_terms + 2, width)).astype(dtype)
    woff = rng.permutation(n_terms + 2)[:n_terms].astype(np.int64) * width
    xp = rng.standard_normal(200).astype(dtype)
    toff = rng.integers(0, 40, n_terms).astype(np.int64)
    bases = np.array([0, 37, 80, 150], dtype=np.int64)
    rows = rng.standard_normal(4 * width).astype(dtype)
    want = rows.copy()
    for p in range(4):
        values = xp[bases[p] + toff]
        add_terms_grouped(want[p * width : (p + 1) * width], width, wt, woff, values, n_terms)
    got = rows.copy()
    add_pixel_terms_rows(got, width, wt, woff, xp, bases, toff, n_terms)
    np.testing.assert_array_equal(got, want)
