"""The generic converter for feed-forward PyTorch modules (torch.fx tracing).

``convert_module(model, example_input)`` traces ``model.forward`` with
:mod:`torch.fx` — modules with a registered mapping function (and modules without
children) are kept as leaves, containers are traced through — propagates the
example's shapes, then walks the graph node by node: placeholders become the
:class:`neuro.Input` population, module calls go to the mapping functions of
:mod:`converters.torch_modules`, function and method calls to the handlers of
:mod:`converters.torch_functions`, and the output to Readout populations (see
:mod:`converters.graph_builder` for how values become populations).

Anything without a mapping raises a :class:`~neuro.exceptions.ConversionError`
naming the module's path and type and listing what is supported.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.fx
from torch.fx.passes.shape_prop import ShapeProp

from neuro.exceptions import ConversionError
from neuro.ir.network import Network

from . import torch_functions, torch_modules  # noqa: F401  (register the mappings)
from .graph_builder import GraphBuilder, Value
from .registry import FUNCTION_CONVERTERS, find_module_converter, unsupported
from .torch_functions import function_name, supported_functions

__all__ = ["convert_module", "trace"]


class _LeafTracer(torch.fx.Tracer):
    """Keeps convertible modules (and modules without children) as single graph nodes."""

    def is_leaf_module(self, m, module_qualified_name: str) -> bool:
        if find_module_converter(m) is not None:
            return True
        if not any(True for _ in m.children()):
            return True
        return super().is_leaf_module(m, module_qualified_name)


def trace(model) -> torch.fx.GraphModule:
    """Symbolically trace ``model`` with convertible modules as leaves."""
    try:
        graph = _LeafTracer().trace(model)
    except Exception as exc:  # torch.fx raises many types for untraceable code
        raise ConversionError(
            f"cannot trace {type(model).__name__} with torch.fx ({type(exc).__name__}: {exc}); "
            "the graph converter needs a forward without data-dependent control flow."
        ) from exc
    return torch.fx.GraphModule(model, graph)


def _model_dtype(model) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


def _example(model, example_input, input_shape) -> torch.Tensor:
    dtype = _model_dtype(model)
    if example_input is None:
        if input_shape is None:
            raise ConversionError(
                f"converting a {type(model).__name__} needs example_input (a batch) or "
                "input_shape (the per-sample shape, e.g. (1, 28, 28)) to learn the shapes."
            )
        return torch.zeros((2, *[int(s) for s in input_shape]), dtype=dtype)
    if isinstance(example_input, torch.Tensor):
        x = example_input.detach().cpu()
    else:
        x = torch.as_tensor(np.asarray(example_input))
    if x.ndim < 2:
        raise ConversionError(
            f"example_input has shape {tuple(x.shape)}; it must be a batch (B, *sample_shape)."
        )
    x = x[:2].to(dtype)
    return torch.cat([x, x]) if x.shape[0] == 1 else x


def _out_shape(node) -> tuple | None:
    meta = node.meta.get("tensor_meta")
    shape = getattr(meta, "shape", None)
    return None if shape is None else tuple(int(s) for s in shape[1:])


def _check_shape(node, value) -> None:
    expected = _out_shape(node)
    if isinstance(value, Value) and expected is not None and tuple(value.shape) != expected:
        raise ConversionError(
            f"node {node.name!r} ({node.target}): converted per-sample shape {value.shape} "
            f"differs from the model's {expected}; this operation is not supported as used."
        )


def convert_module(
    model,
    example_input=None,
    input_shape=None,
    name: str | None = None,
) -> Network:
    """Convert a feed-forward ``torch.nn.Module`` (eval mode) into a network.

    Parameters
    ----------
    model : torch.nn.Module
        Built from the supported modules (see :mod:`converters.torch_modules`) and
        functions (see :mod:`converters.torch_functions`), in eval mode.
    example_input : array-like or torch.Tensor, optional
        A batch (B, *sample_shape); its first samples are run to record shapes.
    input_shape : tuple of int, optional
        Per-sample input shape, instead of ``example_input``.
    name : str, optional
        Network name (default: the model's class name).

    Returns
    -------
    Network
        Validated.  ``metadata`` holds ``source`` ("torch"), ``model`` (class name)
        and ``dtype`` (the model's floating dtype, used by ``convert_and_run`` for the
        ``cpu`` backend).

    Raises
    ------
    ConversionError
        The model is in training mode, cannot be traced, or uses a module or function
        without a mapping (the message names it and lists the supported ones).
    """
    if not isinstance(model, torch.nn.Module):
        raise ConversionError(f"expected a torch.nn.Module, got a {type(model).__name__}.")
    if model.training:
        raise ConversionError(
            f"{type(model).__name__} is in training mode (BatchNorm and Dropout behave "
            "differently); call model.eval() before converting."
        )
    example = _example(model, example_input, input_shape)
    gm = trace(model)
    with torch.no_grad():
        try:
            ShapeProp(gm).propagate(example)
        except Exception as exc:
            raise ConversionError(
                f"running {type(model).__name__} on an example of shape "
                f"{tuple(example.shape)} failed: {type(exc).__name__}: {exc}"
            ) from exc
    dtype = str(_model_dtype(model)).replace("torch.", "")
    builder = GraphBuilder(
        name or type(model).__name__,
        metadata={"source": "torch", "model": type(model).__name__, "dtype": dtype},
    )
    env: dict = {}
    names = {}
    for node in gm.graph.nodes:
        env[node] = _convert_node(gm, builder, node, env, names)
    return builder.network.validate()


def _convert_node(gm, builder: GraphBuilder, node, env: dict, names: dict):
    args = torch.fx.node.map_arg(node.args, lambda n: env[n])
    kwargs = torch.fx.node.map_arg(node.kwargs, lambda n: env[n])
    if node.op == "placeholder":
        if builder.network.inputs:
            raise ConversionError(
                f"forward argument {node.target!r}: only models with a single input convert."
            )
        shape = _out_shape(node)
        return builder.input(str(node.target), shape)
    if node.op == "call_module":
        module = gm.get_submodule(node.target)
        func = find_module_converter(module)
        if func is None:
            raise unsupported(str(node.target), module)
        values = [a for a in args if isinstance(a, Value)]
        if len(values) != 1 or len(args) != 1 or kwargs:
            raise ConversionError(
                f"module {node.target!r} ({type(module).__name__}) is called with "
                f"{len(args)} arguments; converted modules take exactly one tensor."
            )
        count = names.get(node.target, 0)
        names[node.target] = count + 1
        label = str(node.target) if count == 0 else f"{node.target}_{count}"
        value = func(builder, module, values[0], label)
        _check_shape(node, value)
        return value
    if node.op in ("call_function", "call_method"):
        key = node.target if node.op == "call_function" else f"method:{node.target}"
        handler = FUNCTION_CONVERTERS.get(key)
        if handler is None:
            raise ConversionError(
                f"cannot convert the call to {function_name(key)} at node {node.name!r}; "
                f"supported functions and methods: {', '.join(supported_functions())}."
            )
        value = handler(builder, node.name, args, kwargs, _out_shape(node))
        _check_shape(node, value)
        return value
    if node.op == "get_attr":
        if not node.users:  # an attribute read while tracing, used by nothing
            return None
        raise ConversionError(
            f"node {node.name!r} reads the tensor attribute {node.target!r} directly; "
            "parameters must be used through supported modules."
        )
    if node.op == "output":
        out = args[0]
        values = list(out) if isinstance(out, (tuple, list)) else [out]
        for v in values:
            if not isinstance(v, Value):
                raise ConversionError("the model's outputs must be tensors.")
        labels = [v.origin for v in values]
        return builder.output(values, labels)
    raise ConversionError(f"node {node.name!r} has unsupported kind {node.op!r}.")
