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

from .exceptions import NeuroError

# name -> (module, one-line help); each module defines configure(parser) and main(args).
SUBCOMMANDS = {
    "convert": ("converters.cli", "convert a saved torch model into a network file"),
    "audit": ("neuro.audit.cli", "run a network and write the audit (JSON, Markdown, CSV, plots)"),
    "train-lm": ("neuro.lm.cli", "train an EGRU language model on Penn Treebank"),
    "eval-lm": ("neuro.lm.eval_cli", "evaluate an EGRU language model event-driven on PTB"),
    "demo": ("neuro.demo", "train, convert and run a FATReLU CNN on digits; print the audit"),
}


def _load_inputs(path: str):
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise NeuroError(f"cannot read inputs {path!r}: {exc}") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        return {k: data[k] for k in data.files}
    return data


def _cmd_run(args) -> int:
    from . import load, run

    network = load(args.model)
    options = {"dtype": args.dtype} if args.backend == "cpu" else {}
    if args.hardware:
        options["hardware"] = args.hardware
    result = run(
        network,
        _load_inputs(args.inputs),
        backend=args.backend,
        steps=args.steps,
        record_steps="last",
        progress=None if args.progress is None else args.progress,
        **options,
    )
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``neuro`` command."""
    parser = argparse.ArgumentParser(
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
        print(f"neuro {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
