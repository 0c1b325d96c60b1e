"""A cpu run on two threads leaves torch's thread count as it found it.

numba's OpenMP threading layer and torch share one OpenMP runtime: when numba starts
its threads (its first thread call, in a run on two threads) it sets the runtime's
thread count, torch's too, so a model timed or trained after ``neuro.run`` would
silently run on another number of threads.  The test runs in a fresh process, where
numba's threads have not started yet.
"""

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")

SCRIPT = textwrap.dedent(
    """
    import torch

    torch.set_num_threads(3)  # numba's threads start in the run: torch keeps its count

    import numpy as np

    import neuro
    from neuro.models import FATReLU, Input

    assert torch.get_num_threads() == 3
    net = neuro.Network(name="threads")
    net.add_population("in", (512,), Input())
    net.add_population("h", (512,), FATReLU(0.1))
    rng = np.random.default_rng(0)
    net.connect("in", "h", neuro.Dense(rng.normal(size=(512, 512))))
    x = rng.normal(size=(4, 512))
    result = neuro.run(net, x, backend="cpu", threads=2)
    print(result.info["threads"], torch.get_num_threads())
    """
)


def test_two_thread_run_keeps_torch_threads():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=600
    ).stdout.split()
    pool, torch_threads = int(out[-2]), int(out[-1])
    if pool < 2:
        pytest.skip("no free second core: the run used one thread and set no thread count")
    assert torch_threads == 3
