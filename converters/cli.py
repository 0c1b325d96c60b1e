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
        type=_dimension,
        nargs="+",
        required=True,
        metavar="N",
        help="per-sample input shape, e.g. 1 8 8 for images or 64 for vectors",
    )
    parser.add_argument("--name", default=None, help="network name (default: the model class)")


def _dimension(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size: every entry of --input-shape must be an int >= 1"
        )
    return value


def _check_forward(torch, model, shape, path) -> None:
    """Run the module once on zeros of ``shape``; a failure names the shape in one line."""
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    try:
        with torch.no_grad():
            model(torch.zeros((2, *shape), dtype=dtype))
    except Exception as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ConversionError(
            f"{path!r} ({type(model).__name__}) cannot run on inputs of per-sample shape "
            f"{tuple(shape)} (--input-shape {' '.join(map(str, shape))}): {reason}; give the "
            "shape of one sample without the batch axis, e.g. 1 28 28 or 784."
        ) from None


def main(args) -> int:
    """Entry point of ``neuro convert``."""
    torch = require("torch", "torch", "neuro convert")
    import neuro
    from converters import convert
    from converters.registry import find_model_converter
    from neuro.io.paths import check_writable_file

    check_writable_file(args.out, "network file", replace=True)  # before converting

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
    model.eval()
    if find_model_converter(model) is None:  # the graph converter traces a forward pass
        _check_forward(torch, model, tuple(args.input_shape), args.model)
    network = convert(model, input_shape=tuple(args.input_shape), name=args.name)
    path = neuro.save(network, args.out)
    print(network.summary())
    print(f"wrote {path}")
    return 0
