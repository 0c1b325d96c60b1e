"""The ``neuro`` command line.

``neuro run MODEL.h5 --inputs X.npy`` runs a saved network and prints its counts;
``neuro info MODEL.h5`` describes it.  Further subcommands live beside the code
they drive and are listed in :data:`SUBCOMMANDS` (imported only when used).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

import numpy as np

from .exceptions import InputError, NeuroError

# name -> (module, one-line help); each module defines configure(parser) and main(args).
SUBCOMMANDS = {
    "convert": ("converters.cli", "convert a saved torch model into a network file"),
    "audit": (
        "neuro.apps.audit_cli",
        "run a network and write the audit (JSON, Markdown, CSV, plots)",
    ),
    "train-lm": ("neuro.apps.lm.cli", "train an EGRU language model on Penn Treebank"),
    "eval-lm": ("neuro.apps.lm.eval_cli", "evaluate an EGRU language model event-driven on PTB"),
    "export-lm": ("neuro.apps.lm.export_cli", "write compact (.npz) copies of LM checkpoints"),
    "demo": ("neuro.apps.demo", "train, convert and run a FATReLU CNN on digits; print the audit"),
}


def _load_inputs(path: str, what: str = "--inputs"):
    """An .npy array or a dict of the arrays of an .npz file, or an :class:`InputError`."""
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        reason = "is a directory" if file.is_dir() else "does not exist"
        raise InputError(f"{what} {path!r} {reason}; give an .npy or .npz file.")
    try:
        with open(file, "rb") as f:
            head = f.read(6)
    except OSError as exc:
        raise InputError(f"cannot read {what} {path!r}: {exc.strerror or exc}.") from None
    if not (head.startswith(b"\x93NUMPY") or head.startswith(b"PK")):
        kind = "an empty file" if not head else f"a file starting with {head!r}"
        hint = (
            " (a text file? load it with np.loadtxt and write it with np.save)"
            if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head)
            else ""
        )
        raise InputError(
            f"{what} {path!r} is not an .npy or .npz file: {kind}{hint}; save arrays with "
            "np.save (one input) or np.savez (one array per input population)."
        )
    try:
        data = np.load(file, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                return {k: data[k] for k in data.files}
        return data
    except Exception as exc:  # damaged or truncated file, object arrays
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read {what} {path!r}: {reason}.") from None


def _outputs_path(path: str) -> str:
    """Where ``np.savez`` writes ``path`` (it appends .npz)."""
    return path if path.endswith(".npz") else path + ".npz"


def _cmd_run(args) -> int:
    from . import load, run
    from .io.paths import check_writable_file

    if args.outputs:  # refuse unwritable outputs before the run, not after it
        check_writable_file(_outputs_path(args.outputs), "--outputs")
    if args.json:
        check_writable_file(args.json, "--json")
    if args.threads is not None and args.backend != "cpu":
        raise InputError(f"--threads applies to --backend cpu, not {args.backend!r}.")
    network = load(args.model)
    options = {"dtype": args.dtype} if args.backend == "cpu" else {}
    if args.threads is not None:
        options["threads"] = args.threads
    if args.hardware:
        options["hardware"] = args.hardware
    result = run(
        network,
        _load_inputs(args.inputs),
        backend=args.backend,
        steps=args.steps,
        record_steps="last",
        progress=False if args.quiet and args.progress is None else args.progress,
        **options,
    )
    if not args.quiet:
        print(result.counts.table())
        print(f"wall time: {result.wall_time_s:.4f} s on backend {result.backend!r}")
    if args.outputs:
        out = result.outputs
        np.savez(args.outputs, **(out if isinstance(out, dict) else {"outputs": out}))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result.counts.to_dict(), f, indent=2)
    return 0


def _cmd_info(args) -> int:
    from . import load

    network = load(args.model)
    print(network.summary())
    print(f"inputs: {network.inputs}  outputs: {network.outputs}")
    print(f"stored non-zero weights: {network.n_synapses()}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an int >= 1")
    return value


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``neuro`` command."""
    parser = _Parser(
        prog="neuro",
        description="Event-driven execution of activation-sparse neural networks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("run", help="run a saved network and print its op counts")
    p.add_argument("model", help="network file (.h5) written by neuro.save")
    p.add_argument("--inputs", required=True, help=".npy array or .npz of arrays per input")
    p.add_argument("--backend", default="cpu", help="reference, cpu, cores or lava")
    p.add_argument("--steps", type=int, default=None, help="steps for static inputs")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--hardware", default=None, help="hardware profile for --backend cores")
    p.add_argument("--outputs", default=None, help="write the outputs of the last step (.npz)")
    p.add_argument("--json", default=None, help="write the counts as JSON")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--threads", type=_positive_int, default=None, help="threads of the cpu backend")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("info", help="describe a saved network")
    p.add_argument("model")
    p.set_defaults(func=_cmd_info)

    for name, (module, help_text) in SUBCOMMANDS.items():
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue  # that part of neuro is not installed / not written yet
        p = sub.add_parser(name, help=help_text, description=mod.__doc__)
        mod.configure(p)
        p.set_defaults(func=mod.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``neuro`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except NeuroError as exc:
        print(f"neuro {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file the command writes or reads failed at the OS
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        reason = exc.strerror or _one_line(exc)
        print(f"neuro {args.command}: error: {reason}{where}", file=sys.stderr)
        return 2
    except MemoryError as exc:
        print(
            f"neuro {args.command}: error: out of memory ({_one_line(exc)}); run fewer steps "
            "or a smaller batch, or set NEURO_MEMORY_BUDGET to refuse such runs up front",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"neuro {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
