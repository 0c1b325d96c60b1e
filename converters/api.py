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


def convert(model, example_input=None, verify: bool = True, **options) -> Network:
    """Convert a trained model into a :class:`neuro.Network`.

    Parameters
    ----------
    model : torch.nn.Module or Network
        In eval mode.  A Network is returned unchanged.
    example_input : array-like, optional
        An input batch; feed-forward graphs need it to learn shapes.
    verify : bool
        With an ``example_input``, run the network on the ``reference`` backend on its
        first samples and compare with the model's forward (see
        :mod:`converters.verify`); raises :class:`~neuro.exceptions.ConversionMismatchError`
        naming the first diverging layer (feed-forward modules), or comparing the
        outputs with the forward (EGRU sequence models).
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
        network = func(model, example_input=example_input, **options)
        if verify and example_input is not None and network.metadata.get("verify") == "forward":
            from .verify import verify_forward

            runner = RUNNERS[network.metadata["runner"]]
            x = _numpy(example_input)
            result = runner(network, x, backend="reference")
            verify_forward(model, x, result, "float64")
        return network
    require("torch", "torch", "converting a PyTorch model")
    load_converters()
    try:
        from .torch_graph import convert_module
    except ModuleNotFoundError:  # pragma: no cover - graph converter not installed
        raise ConversionError(f"no converter for a {type(model).__name__}.") from None
    network = convert_module(model, example_input=example_input, **options)
    if verify and example_input is not None:
        from .verify import verify_network

        verify_network(network, _numpy(example_input))
    return network


def _numpy(x):
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # a torch tensor
        return x.detach().cpu().numpy()
    return x


def convert_and_run(
    model, inputs, backend="cpu", hardware=None, convert_options=None, verify=True, **options
):
    """Convert ``model`` and run it on ``inputs``; see :func:`neuro.convert_and_run`.

    ``convert_options`` go to :func:`convert`; the remaining ``options`` go to the
    runner (:func:`neuro.run` unless the converted network names another).  ``inputs``
    may be a torch tensor.  On the ``cpu`` backend a network converted from a float64
    model runs in float64 unless ``dtype`` is given.

    ``verify`` (default True): a feed-forward torch module's run is compared with the
    module's forward on ``inputs`` (float64 where possible; tolerances by the run's
    dtype, :data:`converters.verify.TOLERANCES`); a mismatch raises
    :class:`~neuro.exceptions.ConversionMismatchError` naming the first diverging layer.
    Skipped for fixed-point runs (``quantize``) and with ``verify=False``.
    """
    from neuro.backends.base import run

    inputs = _numpy(inputs)
    network = convert(model, example_input=inputs, verify=False, **(convert_options or {}))
    if hardware is not None:
        options["hardware"] = hardware
    if backend == "cpu" and "dtype" not in options and network.metadata.get("dtype") == "float64":
        options["dtype"] = "float64"  # a float64 model runs in float64 (the default is float32)
    load_converters()  # a network loaded from a file still finds its runner
    runner = RUNNERS.get(network.metadata.get("runner"), run)
    result = runner(network, inputs, backend=backend, **options)
    if verify and not isinstance(model, Network) and not options.get("quantize"):
        from .torch_graph import conversion_record

        if conversion_record(network) and runner is run and not options.get("steps"):
            from .verify import verify_run

            def rerun(record, **changes):
                opts = {**options, **changes}
                return run(network, inputs, backend=backend, record=record, **opts)

            def rerun_float64(record):
                return rerun(record, dtype="float64")

            exact = rerun_float64 if backend in ("cpu", "cores") else None
            dtype = result.info.get("dtype", "float64")
            verify_run(network, inputs, result, rerun, dtype, exact)
        elif network.metadata.get("verify") == "forward":
            from .verify import verify_forward

            verify_forward(model, inputs, result, result.info.get("dtype", "float64"))
    return result
