"""The generic converter for feed-forward PyTorch modules (torch.fx tracing).

``convert_module(model, example_input)`` traces ``model.forward`` with
:mod:`torch.fx` — modules with a registered mapping function (never a subclass that
overrides ``forward``) and torch's own modules are kept as leaves, everything else is
traced through — checks that every operation has a mapping (one error lists all that
have none), propagates the example's shapes, then walks the graph node by node:
placeholders become the :class:`neuro.Input` population, module calls go to the
mapping functions (:mod:`converters.torch_modules`, :mod:`~converters.pooling`,
:mod:`~converters.rearrange`), function and method calls to the handlers
(:mod:`converters.torch_functions`, :mod:`~converters.activations`, ...), calls on
constants only are evaluated by torch, and the output becomes Readout populations (see
:mod:`converters.graph_builder` for how values become populations).  Values nothing
uses are dropped; a computed value read by several operations becomes one population.
"""

from __future__ import annotations

import re
import weakref

import numpy as np
import torch
import torch.fx
from torch.fx.passes.shape_prop import ShapeProp

from neuro.exceptions import ConversionError
from neuro.ir.network import Network

from . import (  # noqa: F401  (register the mappings)
    activations,
    pooling,
    rearrange,
    torch_functions,
    torch_modules,
)
from .graph_builder import GraphBuilder, Value
from .registry import (
    FUNCTION_CONVERTERS,
    MODEL_CONVERTERS,
    MODULE_CONVERTERS,
    find_module_converter,
)
from .torch_functions import function_name, supported_functions

__all__ = ["convert_module", "trace"]


class _LeafTracer(torch.fx.Tracer):
    """Keeps convertible modules (and torch's own modules) as single graph nodes.

    Any other module — including a subclass of a supported module that overrides
    ``forward`` — is traced into, so that what it computes is converted (or named).
    """

    def is_leaf_module(self, m, module_qualified_name: str) -> bool:
        if find_module_converter(m) is not None:
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
    gm = torch.fx.GraphModule(model, graph)
    gm.graph.eliminate_dead_code()  # values the forward computes but never uses
    gm.recompile()
    return gm


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


def _module_path(node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    paths = [str(v[0]) if isinstance(v, tuple) else str(k) for k, v in stack.items()]
    paths = [p for p in paths if p]
    return paths[-1] if paths else ""


def _label(node) -> str:
    """Name of a function call's result: the module path for the last operation of a
    traced module (its output), ``<module path>.<function>`` for the others inside it."""
    path = _module_path(node)
    if not path:
        return node.name
    later = node.next
    while later.op != "root" and later.op not in ("call_function", "call_method"):
        later = later.next
    if later.op == "root" or _module_path(later) != path:
        return path
    base = re.sub(r"_\d+$", "", node.name)
    return f"{path}.{base}"


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
    _check_inputs(gm, model)
    _check_supported(gm)
    with torch.no_grad():
        try:
            ShapeProp(gm).propagate(example)
        except Exception as exc:
            root = exc
            while root.__cause__ is not None:  # ShapeProp wraps the model's own error
                root = root.__cause__
            exc = root
            cause = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ConversionError(
                f"{type(model).__name__} does not accept an example input of shape "
                f"{tuple(example.shape)} (per sample {tuple(example.shape[1:])}): "
                f"{type(exc).__name__}: {cause}; pass an example batch of the shape the "
                "model takes."
            ) from None
    torch_dtype = _model_dtype(model)
    dtype = str(torch_dtype).replace("torch.", "")
    builder = GraphBuilder(
        name or type(model).__name__,
        metadata={"source": "torch", "model": type(model).__name__, "dtype": dtype},
        dtype=torch_dtype,
    )
    env: dict = {}
    names = {}
    for node in gm.graph.nodes:
        env[node] = _shared(builder, node, _convert_node(gm, builder, node, env, names))
    network = builder.network.validate()
    CONVERSIONS[id(network)] = (weakref.ref(network), gm, _population_nodes(gm, env, network))
    return network


# id(network) → (weak reference to it, traced module, {population: node name}) of the
# latest conversions, for converters.verify (bounded; the newest are kept).
CONVERSIONS: dict = {}


def _shared(builder: GraphBuilder, node, value):
    """A computed value used by several operations becomes one population (a relay),
    so its weights run once instead of once per consumer."""
    if not isinstance(value, Value) or len(node.users) < 2 or value.is_population:
        return value
    if any(t.op is not None and t.op.dense_storage for t in value.terms):
        shared = builder.as_population(value, exact_shape=True)
        out = Value(value.shape, shared.terms, None, value.origin, value.materialised)
        out.parts = getattr(value, "parts", None)
        return out
    return value


def _population_nodes(gm, env: dict, network) -> dict:
    """The graph node whose output each population holds (first such node)."""
    found: dict = {}
    for node in gm.graph.nodes:
        v = env.get(node)
        if not isinstance(v, Value) or node.op in ("placeholder", "output"):
            continue
        pop = v.terms[0].source if v.is_population else v.materialised
        if pop in network.populations and pop not in found:
            if network.populations[pop].size == v.size:
                found[pop] = node.name
    while len(CONVERSIONS) > 16:
        CONVERSIONS.pop(next(iter(CONVERSIONS)))
    return found


def conversion_record(network):
    """(traced module, {population: node name}) of a network converted here, or None."""
    record = CONVERSIONS.get(id(network))
    if record is None or record[0]() is not network:
        return None
    return record[1], record[2]


def _check_inputs(gm, model) -> None:
    """One tensor input (the converter's own error otherwise)."""
    inputs = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(inputs) != 1:
        raise ConversionError(
            f"{type(model).__name__}.forward takes {len(inputs)} inputs "
            f"({', '.join(str(n.target) for n in inputs)}); only models with a single "
            "tensor input convert (wrap the model so that forward takes one tensor)."
        )


def _where(node) -> str:
    """Where a node comes from: the module path that called it, if any."""
    stack = node.meta.get("nn_module_stack") or {}
    paths = [str(v[0]) if isinstance(v, tuple) else str(k) for k, v in stack.items()]
    paths = [p for p in paths if p]
    return f" in module {paths[-1]!r}" if paths else ""


# Why some common operations do not convert (appended to their entry in the error).
_HINTS = {
    "Embedding": "token lookups convert only in EGRU language models "
    "(neuro.torch.EGRULanguageModel); a feed-forward model takes dense inputs",
    "EmbeddingBag": "token lookups convert only in EGRU language models",
}
for _name in ("SiLU", "GELU", "LeakyReLU", "Sigmoid", "Tanh", "ELU", "SELU", "Softplus",
              "Mish", "Hardswish", "Hardsigmoid", "PReLU", "Softmax", "LogSoftmax",
              "silu", "gelu", "leaky_relu", "sigmoid", "tanh", "elu", "selu", "softplus",
              "mish", "hardswish", "hardsigmoid", "softmax", "log_softmax"):  # fmt: skip
    _HINTS[_name] = "not zero-preserving (a silent unit would have to send a value)"


def _hint(name: str) -> str:
    hint = _HINTS.get(name.rsplit(".", 1)[-1])
    return f" [{hint}]" if hint else ""


def _check_supported(gm) -> None:
    """Raise one error listing every module and function call without a mapping."""
    missing = []
    for node in gm.graph.nodes:
        if node.op == "call_module":
            module = gm.get_submodule(node.target)
            if find_module_converter(module) is None:
                kind = f"{type(module).__module__}.{type(module).__qualname__}"
                missing.append(f"module {node.target!r} ({kind}){_hint(type(module).__name__)}")
        elif node.op in ("call_function", "call_method"):
            key = node.target if node.op == "call_function" else f"method:{node.target}"
            if key not in FUNCTION_CONVERTERS and not _constant_call(node):
                public = function_name(key)
                missing.append(f"{public} at node {node.name!r}{_where(node)}{_hint(public)}")
    if missing:
        modules = sorted({getattr(t, "__name__", str(t)) for t in MODULE_CONVERTERS})
        whole = sorted(name for name, _, _ in MODEL_CONVERTERS)
        raise ConversionError(
            f"cannot convert {len(missing)} operation(s): {'; '.join(missing)}.\n"
            f"supported modules: {', '.join(modules)}.\n"
            f"supported functions and methods: {', '.join(supported_functions())}.\n"
            f"whole models: {', '.join(whole) or 'none'}.\n"
            "Add a mapping with converters.register_module_converter (modules) or "
            "converters.register_function_converter (functions); see the README section "
            "'Adding a mapping'.  Activations that do not map 0 to 0 (SiLU, GELU, "
            "LeakyReLU, Sigmoid, Tanh) are refused: replace them by ReLU or "
            "neuro.torch.FATReLU and fine-tune, then calibrate thresholds "
            "(converters.calibration.calibrate_thresholds)."
        )


def _constant_call(node) -> bool:
    """Whether a call receives no tensor computed from the input (evaluated as is)."""
    found = []
    torch.fx.node.map_arg((node.args, node.kwargs), lambda n: found.append(n))
    return all(_is_constant_node(n) for n in found)


def _is_constant_node(node) -> bool:
    if node.op == "get_attr":
        return True
    if node.op in ("call_function", "call_method"):
        return _constant_call(node)
    return False


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
        if _constant_call(node):  # no tensor from the input: evaluate it as torch does
            with torch.no_grad():
                if node.op == "call_function":
                    return node.target(*args, **kwargs)
                return getattr(args[0], node.target)(*args[1:], **kwargs)
        handler = FUNCTION_CONVERTERS.get(key)
        value = handler(builder, _label(node), args, kwargs, _out_shape(node))
        _check_shape(node, value)
        return value
    if node.op == "get_attr":  # a parameter or buffer used as a constant
        obj = gm
        for part in str(node.target).split("."):
            obj = getattr(obj, part)
        return obj.detach() if isinstance(obj, torch.Tensor) else obj
    if node.op == "output":
        out = args[0]
        values = list(out) if isinstance(out, (tuple, list)) else [out]
        for v in values:
            if not isinstance(v, Value):
                raise ConversionError("the model's outputs must be tensors.")
        labels = [v.origin for v in values]
        return builder.output(values, labels)
    raise ConversionError(f"node {node.name!r} has unsupported kind {node.op!r}.")
