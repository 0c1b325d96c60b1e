"""``neuro convert MODEL.pt OUT.h5 --input-shape C H W``: a saved torch model to a network file.

``MODEL.pt`` is a whole module saved with ``torch.save(model, path)`` (not a state
dict); loading it unpickles Python objects, so only convert files you trust.  The
module is put in eval mode, converted with :func:`converters.convert` and written
with :func:`neuro.save`.
"""

from __future__ import annotations

from neuro.exceptions import ConversionError, FileFormatError, require

__all__ = ["configure", "main"]


def configure(parser) -> None:
    """Add the arguments of ``neuro convert``."""
    parser.add_argument("model", help="torch module saved whole with torch.save (trusted file)")
    parser.add_argument("out", help="network file to write (.h5)")
    parser.add_argument(
        "--input-shape",
        type=int,
        nargs="+",
        required=True,
        metavar="N",
        help="per-sample input shape, e.g. 1 8 8 for images or 64 for vectors",
    )
    parser.add_argument("--name", default=None, help="network name (default: the model class)")


def main(args) -> int:
    """Entry point of ``neuro convert``."""
    torch = require("torch", "torch", "neuro convert")
    import neuro
    from converters import convert

    try:
        model = torch.load(args.model, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise FileFormatError(f"model file {args.model!r} does not exist.") from None
    except Exception as exc:
        raise FileFormatError(
            f"cannot load {args.model!r} with torch.load: {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(model, torch.nn.Module):
        raise ConversionError(
            f"{args.model!r} holds a {type(model).__name__}, not a torch.nn.Module; save the "
            "whole module with torch.save(model, path), not its state_dict."
        )
    network = convert(model.eval(), input_shape=tuple(args.input_shape), name=args.name)
    path = neuro.save(network, args.out)
    print(network.summary())
    print(f"wrote {path}")
    return 0
