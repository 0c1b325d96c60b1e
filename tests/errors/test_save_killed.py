"""``kill -9`` during a save: the file is the old or the new network, never damaged, and the
next save leaves no temporary file behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import neuro

REPO = Path(__file__).resolve().parents[2]

WRITER = """
import sys, numpy as np, neuro
from neuro import Dense, Input, Network, Readout

def net(tag):
    n = Network(name=f"net-{tag}")
    n.add_population("x", (600,), Input())
    n.add_population("y", (500,), Readout())
    n.connect("x", "y", Dense(np.full((600, 500), float(tag))))
    return n

path = sys.argv[1]
nets = [net(0), net(1)]
print("ready", flush=True)
i = 0
while True:
    neuro.save(nets[i % 2], path)
    i += 1
"""


def network_ok(net):
    tag = float(net.name.split("-")[1])
    w = net.projections["x->y"].weights.weight
    return net.name in ("net-0", "net-1") and w.shape == (600, 500) and np.all(w == tag)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs kill -9")
def test_kill_during_save_keeps_a_whole_file(tmp_path):
    path = tmp_path / "net.h5"
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    rng = np.random.default_rng(0)
    killed_with_temp = 0
    for _trial in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], env=env, stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.2 + 0.6 * rng.random())  # somewhere inside one of many saves
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        killed_with_temp += (tmp_path / ".net.h5.tmp").exists()
        if path.exists():  # the first save may not have finished
            assert network_ok(neuro.load(path))
        leftovers = [p.name for p in tmp_path.iterdir() if p.name != "net.h5"]
        assert leftovers in ([], [".net.h5.tmp"])  # one deterministic name, never one per process
    assert killed_with_temp >= 1  # at least one kill landed inside a write
    neuro.save(neuro.load(path), path)  # the next save removes what a killed one left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.h5"]
    assert network_ok(neuro.load(path))


def test_next_save_removes_old_per_process_temp_files(tmp_path):
    """Temporary files named by an older neuro (``.NAME.tmp-<pid>``) of dead processes go too."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (tmp_path / f".net.h5.tmp-{dead}").write_bytes(b"x" * 100)
    (tmp_path / ".net.h5.tmp").write_bytes(b"y" * 100)
    net = neuro.Network(name="n")
    net.add_population("x", (2,), neuro.Input())
    net.add_population("y", (2,), neuro.Readout())
    net.connect("x", "y", neuro.Dense(np.eye(2)))
    neuro.save(net, tmp_path / "net.h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.h5"]
