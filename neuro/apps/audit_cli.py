"""Run a saved network and write its audit: JSON, Markdown, CSV tables and figures.

Example::

    neuro audit model.h5 --inputs x.npy --hardware loihi2 --out audit/ --labels y.npy \\
        --weight-bits 8 --payload-bits 8 --state-bits 16

Without ``--hardware`` the network runs on the ``cpu`` backend and the audit has no
hardware section; with it, on the ``cores`` backend with that profile (a built-in name
or a JSON profile file).  With ``--scheduler ADDRESS`` the batch is split over the
workers of that Dask scheduler (same audit).
"""

from __future__ import annotations

from neuro.exceptions import InputError

__all__ = ["configure", "main"]


def configure(parser) -> None:
    """Add the arguments of ``neuro audit`` to ``parser``."""
    parser.add_argument("model", help="network file (.h5) written by neuro.save")
    parser.add_argument("--inputs", required=True, help=".npy array or .npz of arrays per input")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument(
        "--hardware", default=None, help="hardware profile name or JSON file (backend 'cores')"
    )
    parser.add_argument("--labels", default=None, help=".npy of integer labels / next tokens")
    parser.add_argument(
        "--metric",
        default="accuracy",
        choices=["accuracy", "cross_entropy", "perplexity"],
        help="task metric computed with --labels",
    )
    parser.add_argument("--steps", type=int, default=None, help="steps for static inputs")
    parser.add_argument("--weight-bits", type=int, default=None)
    parser.add_argument("--payload-bits", type=int, default=None)
    parser.add_argument("--state-bits", type=int, default=None)
    parser.add_argument("--max-chips", type=int, default=None, help="chips available")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    parser.add_argument(
        "--scheduler", default=None, help="Dask scheduler ADDRESS: split the batch over its workers"
    )


def main(args) -> int:
    """Run ``neuro audit``; returns the exit status."""
    from neuro import load, run
    from neuro.audit.export import write_all
    from neuro.cli import _load_inputs
    from neuro.io.paths import check_writable_dir

    check_writable_dir(args.out, "--out directory")  # before the run, not after it
    network = load(args.model)
    inputs = _load_inputs(args.inputs)
    labels = _load_inputs(args.labels, "--labels") if args.labels else None
    if isinstance(labels, dict):
        raise InputError(f"--labels {args.labels!r} is an .npz; give one .npy array of labels.")
    options = {}
    if args.hardware:
        quantize = {
            "weight_bits": args.weight_bits,
            "payload_bits": args.payload_bits,
            "state_bits": args.state_bits,
        }
        options = {"hardware": args.hardware, "quantize": quantize, "max_chips": args.max_chips}
    elif any(v is not None for v in (args.weight_bits, args.payload_bits, args.state_bits)):
        raise InputError("--weight-bits/--payload-bits/--state-bits need --hardware.")
    if args.scheduler:  # neuro.run splits the batch over the cluster (pip install neuro[dask])
        from neuro.distributed import connect

        options["client"] = connect(args.scheduler)
    result = run(
        network,
        inputs,
        backend="cores" if args.hardware else "cpu",
        steps=args.steps,
        **options,
    )
    if args.scheduler:
        options["client"].close()
    audit = result.audit(labels=labels, metric=args.metric)
    written = write_all(audit, args.out, plots=not args.no_plots)
    print(audit.table())
    for kind, paths in written.items():
        for p in paths:
            print(f"wrote {kind}: {p}")
    return 0
