"""The ``neuro`` command line."""

import json
import subprocess
import sys

import numpy as np
import pytest
from netgen import random_case

import neuro
from neuro.cli import main


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "run" in out and "info" in out


def test_run_prints_counts(tmp_path, capsys):
    net, x, steps = random_case(2)
    model = neuro.save(net, tmp_path / "net.h5")
    np.save(tmp_path / "x.npy", x)
    status = main(
        [
            "run",
            str(model),
            "--inputs",
            str(tmp_path / "x.npy"),
            "--json",
            str(tmp_path / "c.json"),
            "--outputs",
            str(tmp_path / "o.npz"),
        ]
    )
    assert status == 0
    out = capsys.readouterr().out
    expected = neuro.run(net, x)
    assert f"{expected.counts.synops}" in out and "reductions vs dense" in out
    saved = json.loads((tmp_path / "c.json").read_text())
    assert saved["totals"]["synops"] == expected.counts.synops
    np.testing.assert_allclose(np.load(tmp_path / "o.npz")["outputs"], expected.outputs[-1])


def test_info(tmp_path, capsys):
    net, _, _ = random_case(3)
    assert main(["info", str(neuro.save(net, tmp_path / "n.h5"))]) == 0
    assert "population" in capsys.readouterr().out


def test_bad_file_is_an_error_not_a_traceback(tmp_path, capsys):
    (tmp_path / "x.npy").write_bytes(b"nope")
    assert main(["run", str(tmp_path / "missing.h5"), "--inputs", str(tmp_path / "x.npy")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_console_script_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "neuro.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "Event-driven" in out.stdout


def test_import_neuro_imports_no_optional_package():
    code = (
        "import sys, neuro; bad = [m for m in ('torch', 'numba', 'h5py', 'matplotlib', 'lava', "
        "'tqdm', 'scipy') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
