"""Work space for the cpu convolution kernels, filled with guard values (NaN, -7) so a
kernel that reads an entry it did not write gives a wrong or non-finite result."""

import numpy as np

from neuro.backends.cpu.conv import work_sizes


def guarded_work(geom, dtype):
    """(scratch, bucket starts, bucket channels, bucket values) for ``geom``, guard-filled."""
    n_s, n_start, n_c, n_v = work_sizes(geom)
    return (
        np.full(n_s, np.nan, dtype),  # stale values must not leak into results
        np.full(n_start, -7, np.int64),
        np.full(n_c, -7, np.int64),
        np.full(n_v, np.nan, dtype),
    )
