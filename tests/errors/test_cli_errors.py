"""The command line on user errors: exit status 2, one line on stderr, no traceback, and
outputs checked before the run starts."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import neuro
from neuro.cli import main

REPO = Path(__file__).resolve().parents[2]


def cli(argv, capsys):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err):
    assert code == 2, err
    assert "Traceback" not in err
    assert err.strip() and "\n" not in err.strip(), err
    return err


@pytest.fixture
def files(tmp_path):
    net = neuro.Network(name="small")
    net.add_population("x", (4,), neuro.Input())
    net.add_population("h", (3,), neuro.FATReLU(0.1))
    net.add_population("y", (2,), neuro.Readout())
    net.connect("x", "h", neuro.Dense(np.ones((4, 3))))
    net.connect("h", "y", neuro.Dense(np.ones((3, 2))))
    model = neuro.save(net, tmp_path / "n.h5")
    np.save(tmp_path / "x.npy", np.ones((3, 4)))
    np.save(tmp_path / "bad.npy", np.ones((3, 5)))
    (tmp_path / "text.npy").write_text("1 2 3 4\n5 6 7 8\n")
    (tmp_path / "empty.npy").write_bytes(b"")
    (tmp_path / "file.txt").write_text("x")
    np.savez(tmp_path / "wrong.npz", q=np.ones((1, 4)))
    return tmp_path, model


def _p(tmp, argv):
    return [str(a).replace("{t}", str(tmp)) for a in argv]


RUN_ERRORS = [
    (
        "missing model",
        ["run", "{t}/absent.h5", "--inputs", "{t}/x.npy"],
        ["absent.h5", "no such file"],
    ),
    ("model is a text file", ["info", "{t}/file.txt"], ["file.txt", "not a readable HDF5 file"]),
    (
        "text file as .npy",
        ["run", "{t}/n.h5", "--inputs", "{t}/text.npy"],
        ["text.npy", "not an .npy or .npz file", "text file"],
    ),
    ("empty inputs", ["run", "{t}/n.h5", "--inputs", "{t}/empty.npy"], ["empty.npy", "empty file"]),
    (
        "missing inputs",
        ["run", "{t}/n.h5", "--inputs", "{t}/nope.npy"],
        ["nope.npy", "does not exist"],
    ),
    ("inputs is a directory", ["run", "{t}/n.h5", "--inputs", "{t}"], ["is a directory"]),
    ("npz with unknown key", ["run", "{t}/n.h5", "--inputs", "{t}/wrong.npz"], ["unknown: ['q']"]),
    (
        "network file as inputs",
        ["run", "{t}/n.h5", "--inputs", "{t}/n.h5"],
        ["not an .npy or .npz file"],
    ),
    (
        "inputs of the wrong shape",
        ["run", "{t}/n.h5", "--inputs", "{t}/bad.npy"],
        ["input 'x'", "(3, 5)"],
    ),
    (
        "json into missing directory",
        ["run", "{t}/n.h5", "--inputs", "{t}/x.npy", "--json", "{t}/nod/c.json"],
        ["--json", "nod/c.json", "does not exist"],
    ),
    (
        "json onto a directory",
        ["run", "{t}/n.h5", "--inputs", "{t}/x.npy", "--json", "{t}"],
        ["--json", "is a directory"],
    ),
    (
        "outputs into missing directory",
        ["run", "{t}/n.h5", "--inputs", "{t}/x.npy", "--outputs", "{t}/nod/o.npz"],
        ["--outputs", "does not exist"],
    ),
    (
        "audit out is a file",
        ["audit", "{t}/n.h5", "--inputs", "{t}/x.npy", "--out", "{t}/file.txt"],
        ["--out", "file.txt", "not a directory"],
    ),
    (
        "audit labels text",
        [
            "audit",
            "{t}/n.h5",
            "--inputs",
            "{t}/x.npy",
            "--out",
            "{t}/a",
            "--labels",
            "{t}/text.npy",
        ],
        ["--labels", "not an .npy"],
    ),
    (
        "audit bits without hardware",
        ["audit", "{t}/n.h5", "--inputs", "{t}/x.npy", "--out", "{t}/a", "--weight-bits", "8"],
        ["--weight-bits", "--hardware"],
    ),
    (
        "threads on another backend",
        ["run", "{t}/n.h5", "--inputs", "{t}/x.npy", "--threads", "2", "--backend", "reference"],
        ["--threads", "'reference'"],
    ),
    (
        "unknown backend",
        ["run", "{t}/n.h5", "--inputs", "{t}/x.npy", "--backend", "gpu"],
        ["'gpu'"],
    ),
    (
        "unknown hardware",
        ["run", "{t}/n.h5", "--inputs", "{t}/x.npy", "--backend", "cores", "--hardware", "nope"],
        ["nope"],
    ),
    ("steps zero", ["run", "{t}/n.h5", "--inputs", "{t}/x.npy", "--steps", "0"], ["steps == 0"]),
    (
        "threads zero",
        ["run", "{t}/n.h5", "--inputs", "{t}/x.npy", "--threads", "0"],
        ["--threads", "'0'", ">= 1"],
    ),
    (
        "threads word",
        ["run", "{t}/n.h5", "--inputs", "{t}/x.npy", "--threads", "many"],
        ["--threads", "'many'"],
    ),
    (
        "steps word",
        ["run", "{t}/n.h5", "--inputs", "{t}/x.npy", "--steps", "ten"],
        ["--steps", "'ten'"],
    ),
    ("missing --inputs", ["run", "{t}/n.h5"], ["--inputs"]),
    ("unknown command", ["frobnicate"], ["frobnicate"]),
    (
        "unknown dtype",
        ["run", "{t}/n.h5", "--inputs", "{t}/x.npy", "--dtype", "int8"],
        ["--dtype", "'int8'"],
    ),
]


@pytest.mark.parametrize("argv, parts", [c[1:] for c in RUN_ERRORS], ids=[c[0] for c in RUN_ERRORS])
def test_user_error_is_one_line(files, capsys, argv, parts):
    tmp, _ = files
    code, out, err = cli(_p(tmp, argv), capsys)
    err = one_line_error(code, err)
    for part in parts:
        assert part in err, f"{part!r} not in {err!r}"
    assert "layer" not in out  # no run happened (or it printed nothing)


def test_memory_budget_error_is_one_line(files, capsys, monkeypatch):
    tmp, _ = files
    monkeypatch.setenv("NEURO_MEMORY_BUDGET", "10")
    code, _, err = cli(["run", tmp / "n.h5", "--inputs", tmp / "x.npy"], capsys)
    assert "NEURO_MEMORY_BUDGET" in one_line_error(code, err)


def test_quiet_threads_and_outputs(files, capsys, monkeypatch):
    tmp, _ = files
    calls = []
    real_run = neuro.run

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(neuro, "run", spy)
    argv = ["run", tmp / "n.h5", "--inputs", tmp / "x.npy", "--quiet", "--threads", "2"]
    code, out, err = cli([*argv, "--json", tmp / "c.json", "--outputs", tmp / "o"], capsys)
    assert code == 0 and out == "" and "Traceback" not in err
    assert calls[-1]["threads"] == 2 and calls[-1]["progress"] is False
    assert (tmp / "c.json").is_file() and (tmp / "o.npz").is_file()
    code, out, _ = cli([*argv[:4], "--progress"], capsys)
    assert code == 0 and "wall time" in out
    assert "threads" not in calls[-1] and calls[-1]["progress"] is True


def _run(argv):
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", "neuro.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
    )


def test_subprocess_text_inputs_and_unwritable_json(files):
    tmp, model = files
    for argv in (
        ["run", model, "--inputs", tmp / "text.npy"],
        ["run", model, "--inputs", tmp / "x.npy", "--json", tmp / "nod" / "c.json"],
        ["audit", model, "--inputs", tmp / "x.npy", "--out", tmp / "file.txt"],
    ):
        proc = _run(argv)
        one_line_error(proc.returncode, proc.stderr)
        assert proc.stdout == ""


@pytest.fixture
def torch_model(tmp_path):
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10), torch.nn.ReLU())
    torch.save(model, tmp_path / "m.pt")
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    return tmp_path


CONVERT_ERRORS = [
    (
        "input shape 0",
        ["{t}/m.pt", "{t}/o.h5", "--input-shape", "0"],
        ["--input-shape", "'0'", ">= 1"],
    ),
    ("input shape negative", ["{t}/m.pt", "{t}/o.h5", "--input-shape", "2", "-3"], ["'-3'"]),
    (
        "wrong input shape",
        ["{t}/m.pt", "{t}/o.h5", "--input-shape", "65"],
        ["m.pt", "(65,)", "cannot be multiplied"],
    ),
    ("state dict", ["{t}/sd.pt", "{t}/o.h5", "--input-shape", "64"], ["state_dict"]),
    (
        "missing model",
        ["{t}/absent.pt", "{t}/o.h5", "--input-shape", "64"],
        ["absent.pt", "does not exist"],
    ),
    (
        "out in missing directory",
        ["{t}/m.pt", "{t}/nod/o.h5", "--input-shape", "64"],
        ["nod/o.h5", "does not exist"],
    ),
    ("out is a directory", ["{t}/m.pt", "{t}", "--input-shape", "64"], ["is a directory"]),
]


@pytest.mark.parametrize(
    "argv, parts", [c[1:] for c in CONVERT_ERRORS], ids=[c[0] for c in CONVERT_ERRORS]
)
def test_convert_user_error_is_one_line(torch_model, capsys, argv, parts):
    code, _, err = cli(["convert", *_p(torch_model, argv)], capsys)
    err = one_line_error(code, err)
    for part in parts:
        assert part in err, f"{part!r} not in {err!r}"
    assert not (torch_model / "o.h5").exists()


def test_convert_wrong_shape_prints_no_torch_traceback(torch_model):
    proc = _run(["convert", torch_model / "m.pt", torch_model / "o.h5", "--input-shape", "8", "9"])
    err = one_line_error(proc.returncode, proc.stderr)
    assert "(8, 9)" in err
