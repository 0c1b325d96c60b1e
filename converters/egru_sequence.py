"""EGRU sequence models → event networks: a bare EGRU layer, stacks of EGRU layers, and
EGRU stacks with a Linear readout (at the last step or at every step), on continuous
inputs (T, B, I), or (B, T, I) with ``batch_first``.

Recognised models: a :class:`neuro.torch.EGRU`, or a module whose children are one or
more ``EGRU`` layers followed by at most one ``nn.Linear`` (``Dropout``/``Identity``
children are allowed; eval mode), whose forward chains them.  Which output the forward
returns (the EGRU sequence, the readout at every step, or at the last step) is measured
on a probe input; ``convert_and_run`` then compares the run with the module's forward
(``verify=True``), so a forward that does something else is reported, not hidden.

Network::

    x (Input, I) ──W_0 (bias b_x)──▶ egru0.input
    egru{l} ──R_l (delay 1, bias b_r)──▶ egru{l}.recurrent
    egru{l} ──W_{l+1} (bias)──▶ egru{l+1}.input
    egru{L-1} ──W_out (bias)──▶ readout (Readout)

One step of the network is one time step of the sequence.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

from neuro.backends.base import run
from neuro.exceptions import ConversionError
from neuro.ir import Dense, Network
from neuro.models import Input, Readout
from neuro.models.egru import EGRU

from .api import RUNNERS
from .registry import register_model_converter

__all__ = ["convert_egru_sequence", "run_egru_sequence", "RUNNER"]

RUNNER = "egru_sequence"


def _layers(model):
    """(EGRU layers with their names, Linear readout or None) of a sequence model, or None."""
    from torch import nn

    from neuro.torch import EGRU as TorchEGRU

    if isinstance(model, TorchEGRU):
        return [("egru", model)], None
    if type(model).__name__ == "EGRULanguageModel" or not isinstance(model, nn.Module):
        return None
    layers, readout = [], None
    for name, child in model.named_children():
        if isinstance(child, (nn.Dropout, nn.Identity)):
            continue
        if isinstance(child, TorchEGRU) and readout is None:
            layers.append((name, child))
        elif isinstance(child, nn.Linear) and layers and readout is None:
            readout = (name, child)
        else:
            return None
    return (layers, readout) if layers else None


def _is_egru_sequence(model) -> bool:
    try:
        return _layers(model) is not None
    except ImportError:  # pragma: no cover - torch missing
        return False


def _np(t) -> np.ndarray:
    return t.detach().cpu().double().numpy()


def _probe_mode(model, layers, readout) -> str:
    """What the forward returns: "sequence" (EGRU outputs), "all" or "last" (readout)."""
    import torch

    first = layers[0][1]
    x = torch.zeros((1, 2, first.input_size) if first.batch_first else (2, 1, first.input_size))
    x = x.to(first.kernel.dtype)
    with torch.no_grad():
        out = model(x)
    out = out[0] if isinstance(out, (tuple, list)) else out
    if readout is None:
        return "sequence"
    if out.dim() == 3:
        return "all"
    if out.dim() == 2:
        return "last"
    raise ConversionError(
        f"{type(model).__name__}: the forward returns shape {tuple(out.shape)}; EGRU "
        "sequence models convert with a readout at every step (T, B, O) or the last (B, O)."
    )


@register_model_converter("EGRU sequence model", _is_egru_sequence)
def convert_egru_sequence(model, example_input=None) -> Network:
    """Convert a bare EGRU layer or an EGRU stack with an optional Linear readout.

    Parameters
    ----------
    model : neuro.torch.EGRU or torch.nn.Module
        See the module docstring; eval mode.
    example_input : ignored
        Shapes come from the layers.

    Returns
    -------
    Network
        ``metadata["runner"] == "egru_sequence"``; ``convert_and_run`` feeds it the
        sequence and returns the forward's output layout.
    """
    layers, readout = _layers(model)
    if model.training:
        raise ConversionError(
            f"{type(model).__name__} is in training mode (dropconnect and dropout act); "
            "call model.eval() before converting."
        )
    mode = _probe_mode(model, layers, readout)
    net = Network(name=type(model).__name__)
    net.add_population("x", (layers[0][1].input_size,), Input())
    prev, names = "x", []
    for index, (name, layer) in enumerate(layers):
        thr = _np(layer.thr)
        if thr.min() < 0:
            raise ConversionError(
                f"EGRU layer {name!r}: threshold {thr.min()!r} < 0; thresholds must be >= 0 "
                "(EvNN clamps them to [0, 1]: call layer.clamp_thresholds_())."
            )
        if index and layer.input_size != layers[index - 1][1].hidden_size:
            raise ConversionError(
                f"EGRU layer {name!r} takes {layer.input_size} inputs, the layer before it "
                f"sends {layers[index - 1][1].hidden_size}."
            )
        net.add_population(name, (layer.hidden_size,), EGRU(thr))
        net.connect(prev, name, Dense(_np(layer.kernel)), port="input", bias=_np(layer.bias),
                    name=f"{name}.input")  # fmt: skip
        net.connect(name, name, Dense(_np(layer.recurrent_kernel)), port="recurrent", delay=1,
                    bias=_np(layer.recurrent_bias), name=f"{name}.recurrent")  # fmt: skip
        names.append(name)
        prev = name
    if readout is not None:
        rname, linear = readout
        net.add_population(rname, (linear.out_features,), Readout())
        bias = None if linear.bias is None else _np(linear.bias)
        net.connect(prev, rname, Dense(_np(linear.weight).T), bias=bias, name=rname)
        net.outputs = [rname]
    else:
        net.outputs = [prev]
    net.metadata.update(
        source="EGRU sequence model",
        model=type(model).__name__,
        runner=RUNNER,
        verify="forward",  # convert_and_run compares the outputs with model(inputs)
        readout=mode,
        batch_first=bool(layers[0][1].batch_first),
        egru_layers=names,
        dtype=str(layers[0][1].kernel.dtype).replace("torch.", ""),
    )
    return net.validate()


def run_egru_sequence(network: Network, inputs, backend: str = "cpu", **options):
    """Run a converted EGRU sequence model on (T, B, I) inputs ((B, T, I) if batch_first).

    Returns
    -------
    RunResult
        ``outputs`` in the layout of the module's forward: (T, B, H) / (T, B, O) (batch
        first if the layers are), or (B, O) for a last-step readout.
    """
    x = np.asarray(inputs)
    if x.ndim != 3:
        raise ConversionError(
            f"EGRU sequence input has shape {x.shape}; it must be (T, B, I) "
            "((B, T, I) with batch_first)."
        )
    batch_first = bool(network.metadata.get("batch_first"))
    if batch_first:
        x = x.transpose(1, 0, 2)
    last = network.metadata.get("readout") == "last"
    if last:
        options.setdefault("record_steps", "last")
    result = run(network, x, backend=backend, **options)
    out = np.asarray(result.outputs)
    if not last and batch_first:
        out = out.transpose(1, 0, *range(2, out.ndim))
    return dataclasses.replace(result, outputs=out)


RUNNERS[RUNNER] = run_egru_sequence


def forward_float64(model, inputs) -> np.ndarray:
    """The module's forward in float64 (the output tensor, not the final state)."""
    import torch

    m = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        out = m(torch.as_tensor(np.asarray(inputs, dtype=np.float64)))
    out = out[0] if isinstance(out, (tuple, list)) else out
    return out.detach().cpu().numpy()
