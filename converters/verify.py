"""Verification of a converted network against the source model's forward.

``convert_and_run`` (and ``convert`` given an example input) compares the event
network's outputs with the torch module's forward on the same inputs, computed in
float64 where the model's parameters are floating point.  A network *matches* when,
for every output,

    max |event − torch| <= rtol · max(max |torch|, 1e-30)

with ``rtol`` set by the precision the network ran in (:data:`TOLERANCES`): 1e-9 for
float64 runs, 1e-4 for float32, 1e-2 for float16/bfloat16.  On a mismatch every
population that holds the output of a traced graph node is recorded (a second run on
the same backend) and compared with that node's output (torch.fx interpreter, in
float64); :class:`~neuro.exceptions.ConversionMismatchError` names the first diverging
population in topological order, its graph node and the error.

Thresholds make the comparison discontinuous: a pre-activation within rounding of a
FATReLU threshold may fall on the other side in float32.  When a float32 run differs
but the same run in float64 matches, :class:`RoundingWarning` says so instead of an
error; pass ``verify=False`` to skip the check.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import torch
import torch.fx

from neuro.exceptions import ConversionMismatchError

__all__ = [
    "TOLERANCES",
    "RoundingWarning",
    "relative_error",
    "verify_run",
    "verify_network",
    "verify_forward",
]

#: relative tolerance by the dtype the network ran in
TOLERANCES = {"float64": 1e-9, "float32": 1e-4, "float16": 1e-2, "bfloat16": 1e-2}


class RoundingWarning(UserWarning):
    """A float32 run differs from the forward only by rounding at thresholds."""


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """``max |got − want| / max(max |want|, 1e-30)`` over all entries."""
    got = np.asarray(got, dtype=np.float64).ravel()
    want = np.asarray(want, dtype=np.float64).ravel()
    if got.size != want.size:
        return float("inf")
    if not got.size:
        return 0.0
    scale = max(float(np.max(np.abs(want))), 1e-30)
    return float(np.max(np.abs(got - want))) / scale


class _Recorder(torch.fx.Interpreter):
    """Runs a traced module and keeps the tensor output of every node."""

    def __init__(self, gm):
        super().__init__(gm)
        self.values = {}

    def run_node(self, n):
        out = super().run_node(n)
        if isinstance(out, torch.Tensor):
            self.values[n.name] = out.detach()
        return out


def _float64(gm, x: np.ndarray):
    """A float64 copy of the traced module (when its parameters allow it) and the input."""
    floating = all(t.is_floating_point() for t in gm.parameters()) and any(
        True for _ in gm.parameters()
    )
    gm = copy.deepcopy(gm)
    if floating:
        gm = gm.double()
        xt = torch.as_tensor(np.asarray(x, dtype=np.float64))
    else:
        dtype = next((p.dtype for p in gm.parameters() if p.is_floating_point()), torch.float32)
        xt = torch.as_tensor(np.asarray(x)).to(dtype)
    return gm, xt


def torch_reference(gm, x: np.ndarray) -> tuple[dict, list]:
    """Every node's output and the model's outputs, in float64 where possible."""
    gm, xt = _float64(gm, x)
    rec = _Recorder(gm)
    with torch.no_grad():
        out = rec.run(xt)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return rec.values, [o.detach().cpu().double().numpy() for o in outs]


def _outputs_of(result, network) -> list:
    outs = result.outputs
    if isinstance(outs, dict):
        return [outs[n] for n in network.outputs]
    return [outs]


def verify_run(network, x, result, rerun, dtype: str, rerun_float64=None) -> None:
    """Compare a run of a converted network with the traced model's forward.

    Parameters
    ----------
    network : Network
        Converted by :func:`converters.torch_graph.convert_module` in this process.
    x : ndarray, shape (B, *input_shape)
        The run's input.
    result : RunResult
    rerun : callable
        ``rerun(record: list[str]) -> RunResult``: the same run recording more
        populations (called only on a mismatch).
    dtype : str
        Precision the network ran in (a key of :data:`TOLERANCES`).
    rerun_float64 : callable, optional
        ``rerun_float64(record) -> RunResult``: the same run in float64.  When a
        lower-precision run differs but the float64 run matches, the difference comes
        from rounding at thresholds: a :class:`RoundingWarning` is issued instead of an
        error.

    Raises
    ------
    ConversionMismatchError
        Names the first diverging population, its graph node and the error.
    """
    from .torch_graph import conversion_record

    record = conversion_record(network)
    if record is None:
        return
    gm, pop_nodes = record
    rtol = TOLERANCES.get(str(dtype), 1e-4)
    values, want = torch_reference(gm, x)
    got = _outputs_of(result, network)
    errors = [relative_error(g, w) for g, w in zip(got, want)]
    if len(got) == len(want) and all(e <= rtol for e in errors):
        return
    worst = max(errors) if errors else float("inf")
    if rerun_float64 is not None and str(dtype) != "float64" and len(got) == len(want):
        again = _outputs_of(rerun_float64(None), network)
        if all(relative_error(g, w) <= TOLERANCES["float64"] for g, w in zip(again, want)):
            warnings.warn(
                f"the {dtype} run of {network.name!r} differs from the model's forward by "
                f"{worst:.3g} (relative) while its float64 run matches: values within "
                f"{dtype} rounding of a FATReLU threshold fell on the other side.  Run with "
                "dtype='float64' for exact thresholds.",
                RoundingWarning,
                stacklevel=3,
            )
            return
    order = network.topological_order()
    names = [n for n in order if n in pop_nodes and pop_nodes[n] in values]
    full = rerun(names)
    b = np.asarray(x).shape[0]
    nodes = {n.name: n for n in gm.graph.nodes}
    for name in names:
        rec = np.asarray(full.recordings[name]).reshape(b, -1)
        ref = values[pop_nodes[name]].cpu().double().numpy().reshape(b, -1)
        err = relative_error(rec, ref)
        if err > rtol:
            raise ConversionMismatchError(
                f"population {name!r} ({_describe(nodes[pop_nodes[name]])}) differs from the "
                f"model's forward: relative error {err:.3g} > {rtol:g} (the tolerance of a "
                f"{dtype} run); it is the first diverging layer (outputs: {worst:.3g}). "
                "Pass verify=False to skip this check."
            )
    raise ConversionMismatchError(
        f"the outputs {network.outputs} differ from the model's forward: relative error "
        f"{worst:.3g} > {rtol:g} (the tolerance of a {dtype} run); no recorded layer "
        "diverges before them.  Pass verify=False to skip this check."
    )


def verify_forward(model, inputs, result, dtype: str) -> None:
    """Compare a run's outputs with ``model(inputs)`` (float64) for whole-model converters
    whose networks map the same inputs to the same outputs (``metadata["verify"]``)."""
    from .egru_sequence import forward_float64

    rtol = TOLERANCES.get(str(dtype), 1e-4)
    want = forward_float64(model, inputs)
    err = relative_error(result.outputs, want)
    if err > rtol:
        raise ConversionMismatchError(
            f"the outputs {result.network.outputs} differ from {type(model).__name__}'s "
            f"forward: relative error {err:.3g} > {rtol:g} (the tolerance of a {dtype} run). "
            "Pass verify=False to skip this check."
        )


def _describe(node) -> str:
    if node.op == "call_module":
        return f"torch module {str(node.target)!r}"
    from .torch_functions import function_name

    key = node.target if node.op == "call_function" else f"method:{node.target}"
    return f"torch call {function_name(key)} at node {node.name!r}"


def verify_network(network, example, max_samples: int = 8) -> None:
    """Run ``network`` on the reference backend (float64) on the first samples of
    ``example`` and compare with the traced model (see :func:`verify_run`)."""
    from neuro.backends.base import run

    x = np.asarray(example)[:max_samples]
    result = run(network, x, backend="reference")

    def rerun(record):
        return run(network, x, backend="reference", record=record)

    verify_run(network, x, result, rerun, "float64")
