"""``convert`` and ``convert_and_run``: from a trained model to a run result."""

from __future__ import annotations

from neuro.exceptions import ConversionError, require
from neuro.ir.network import Network

from .registry import find_model_converter, load_converters

__all__ = ["convert", "convert_and_run", "RUNNERS"]

# network.metadata["runner"] -> callable(network, inputs, backend, **options) -> RunResult.
# Models whose evaluation is more than one neuro.run (e.g. a language model that resets
# its state every K tokens) register a runner here.
RUNNERS: dict = {}


def convert(model, example_input=None, **options) -> Network:
    """Convert a trained model into a :class:`neuro.Network`.

    Parameters
    ----------
    model : torch.nn.Module or Network
        In eval mode.  A Network is returned unchanged.
    example_input : array-like, optional
        An input batch; feed-forward graphs need it to learn shapes.
    **options
        Converter-specific options (documented by each converter).

    Returns
    -------
    Network
    """
    if isinstance(model, Network):
        return model
    func = find_model_converter(model)
    if func is not None:
        return func(model, example_input=example_input, **options)
    require("torch", "torch", "converting a PyTorch model")
    load_converters()
    try:
        from .torch_graph import convert_module
    except ModuleNotFoundError:  # pragma: no cover - graph converter not installed
        raise ConversionError(f"no converter for a {type(model).__name__}.") from None
    return convert_module(model, example_input=example_input, **options)


def convert_and_run(model, inputs, backend="cpu", hardware=None, convert_options=None, **options):
    """Convert ``model`` and run it on ``inputs``; see :func:`neuro.convert_and_run`.

    ``convert_options`` go to :func:`convert`; the remaining ``options`` go to the
    runner (:func:`neuro.run` unless the converted network names another).  ``inputs``
    may be a torch tensor.  On the ``cpu`` backend a network converted from a float64
    model runs in float64 unless ``dtype`` is given.
    """
    from neuro.backends.base import run

    if hasattr(inputs, "detach") and hasattr(inputs, "numpy"):  # a torch tensor
        inputs = inputs.detach().cpu().numpy()
    network = convert(model, example_input=inputs, **(convert_options or {}))
    if hardware is not None:
        options["hardware"] = hardware
    if backend == "cpu" and "dtype" not in options and network.metadata.get("dtype") == "float64":
        options["dtype"] = "float64"  # a float64 model runs in float64 (the default is float32)
    load_converters()  # a network loaded from a file still finds its runner
    runner = RUNNERS.get(network.metadata.get("runner"), run)
    return runner(network, inputs, backend=backend, **options)
