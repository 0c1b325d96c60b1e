"""Building an event network from a traced model, one symbolic value at a time.

A traced ``forward`` is a sequence of operations on tensors.  The converter gives
each tensor a symbolic :class:`Value`: a sum of *terms* — a population's output
seen through a pending weight operator (or none, the identity) — plus a per-unit
bias.  Linear operations (Linear, Conv2d, average pooling, BatchNorm, residual
additions, reshapes) only rewrite the terms; a non-linearity (ReLU, FATReLU) or
the model's output turns a value into a population that receives one projection
per term.  A ResNet block ``relu(bn2(conv2(y)) + shortcut(x))`` therefore becomes
one FATReLU population with two incoming projections: the folded conv from ``y``
and the identity (or folded 1x1 conv) from ``x``.

When an operator cannot be composed exactly with the pending one (a Linear after
a Linear, a pooling after a convolution, ...), the pending value is first
materialised as a :class:`~neuro.models.Readout` population, a linear relay whose
non-zero outputs are events like any other.  Shapes are per sample, channels
first, in the unit order of the tensor (row-major), so a reshape that keeps the
batch axis changes no unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neuro.exceptions import ConversionError
from neuro.ir.network import Network
from neuro.ir.weights import WeightOperator
from neuro.models import Input, Readout
from neuro.models.base import NeuronModel

from .fold import diagonal_values, identity, scale_input, scale_operator

__all__ = ["Term", "Value", "GraphBuilder", "SPARSE_BELOW"]

# Dense weights with a smaller fraction of non-zero entries are stored as CSR.
SPARSE_BELOW = 0.5


@dataclass
class Term:
    """A population's output through a pending weight operator (None: identity);
    ``role`` becomes the projection's (``"pool"``: pooling, not synaptic)."""

    source: str
    op: WeightOperator | None = None
    role: str = "synaptic"


@dataclass(eq=False)
class Value:
    """Symbolic per-sample tensor: ``Σ_k op_k(source_k) + bias``.

    Attributes
    ----------
    shape : tuple of int
        Per-sample shape (channels first).
    terms : list of Term
    bias : ndarray of float64, shape (prod(shape),), or None
    origin : str
        Name of the operation that produced it (names a relay population).
    """

    shape: tuple
    terms: list
    bias: np.ndarray | None = None
    origin: str = "value"
    materialised: str | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        """Units per sample."""
        return int(np.prod(self.shape))

    @property
    def is_population(self) -> bool:
        """True when the value is exactly one population's output (no operator, no bias)."""
        return len(self.terms) == 1 and self.terms[0].op is None and self.bias is None


class GraphBuilder:
    """Accumulates populations and projections while a traced graph is walked.

    Parameters
    ----------
    name : str
        Network name.
    metadata : dict, optional
        Stored in ``network.metadata``.
    """

    def __init__(self, name: str, metadata: dict | None = None, dtype=None):
        self.network = Network(name=name, metadata=metadata)
        self._projection_names: set[str] = set()
        #: floating dtype of the model being converted (a torch dtype, or None)
        self.dtype = dtype
        #: population name → (input value, neuron model) of activations (see activation)
        self.activations: dict[str, tuple] = {}

    # -- naming ---------------------------------------------------------------------
    def unique_population_name(self, name: str) -> str:
        """``name``, or ``name_1``, ``name_2``, ... if taken (and ``/`` replaced)."""
        base = str(name).replace("/", ".") or "layer"
        candidate, k = base, 0
        while candidate in self.network.populations:
            k += 1
            candidate = f"{base}_{k}"
        return candidate

    def _unique_projection_name(self, pre: str, post: str) -> str:
        base = f"{pre}->{post}"
        candidate, k = base, 1
        while candidate in self._projection_names:
            k += 1
            candidate = f"{base}#{k}"
        self._projection_names.add(candidate)
        return candidate

    # -- values -----------------------------------------------------------------------
    def input(self, name: str, shape: tuple) -> Value:
        """Add the input population (dense values, one event per non-zero entry)."""
        pop = self.network.add_population(self.unique_population_name(name), shape, Input())
        return self.of_population(pop.name)

    def of_population(self, name: str) -> Value:
        """The output of population ``name`` as a value."""
        pop = self.network.populations[name]
        return Value(tuple(pop.shape), [Term(name)], None, name, name)

    def population(self, x: Value, model: NeuronModel, name: str, shape=None) -> Value:
        """Turn ``x`` into a new population with neuron ``model``; return its output.

        One projection per term of ``x`` into the ``input`` port; the bias goes on the
        first one.  Dense operators with fewer than :data:`SPARSE_BELOW` non-zero
        weights are stored as :class:`~neuro.ir.weights.Sparse` (same outputs and
        counts, fewer weights).

        Parameters
        ----------
        shape : tuple of int, optional
            Population shape when it differs from ``x.shape`` (a model whose input
            port is narrower or wider than its output, e.g. SAS); default ``x.shape``.
        """
        if not x.terms:
            raise ConversionError(
                f"the input of {name!r} does not depend on the model input; constant "
                "tensors cannot be converted."
            )
        shape = x.shape if shape is None else tuple(int(s) for s in shape)
        post = self.network.add_population(self.unique_population_name(name), shape, model)
        for k, term in enumerate(x.terms):
            op = identity(x.size) if term.op is None else _compact(term.op)
            bias = _compact_bias(op, x.bias) if k == 0 and x.bias is not None else None
            proj = self.network.connect(
                term.source,
                post.name,
                op,
                bias=bias,
                name=self._unique_projection_name(term.source, post.name),
            )
            # an identity term is an element-wise add (a residual connection), not a layer
            proj.role = "shortcut" if term.op is None and term.role == "synaptic" else term.role
        return self.of_population(post.name)

    def activation(self, x: Value, model: NeuronModel, name: str) -> Value:
        """A zero-preserving activation of ``x`` as a new population (remembered, so that
        ``relu(x) * (x > t)`` can be recognised as one thresholded population)."""
        out = self.population(x, model, name)
        self.activations[out.terms[0].source] = (x, model)
        return out

    def prune(self) -> list[str]:
        """Remove populations (and their projections) that reach no output; return them.

        A traced ``forward`` can compute values nothing uses (or that a recognised
        pattern replaced, like the ``relu(x)`` of ``relu(x) * (x > t)``); they would
        only add events and counts.
        """
        net = self.network
        live = set(net.outputs)
        stack = list(live)
        while stack:
            for proj in net.incoming(stack.pop()):
                if proj.pre not in live:
                    live.add(proj.pre)
                    stack.append(proj.pre)
        dead = [n for n, p in net.populations.items() if n not in live and not p.model.is_input]
        for name in dead:
            del net.populations[name]
        for pname in [n for n, p in net.projections.items() if p.pre in dead or p.post in dead]:
            del net.projections[pname]
        return dead

    def as_population(self, x: Value, exact_shape: bool) -> Value:
        """``x`` as one population's output, adding a Readout relay when needed.

        Parameters
        ----------
        exact_shape : bool
            Also require the population's shape to equal ``x.shape`` (convolutions);
            otherwise only the unit count matters (dense operators).
        """
        if not x.is_population:
            if x.materialised is None:  # once per value, however many consumers it has
                x.materialised = self.population(x, Readout(), x.origin).terms[0].source
            x = Value(x.shape, [Term(x.materialised)], None, x.origin, x.materialised)
        pop = self.network.populations[x.terms[0].source]
        shape = tuple(pop.shape)
        one_d = len(shape) == 2 and tuple(x.shape) == (shape[0], 1, shape[1])  # (C, 1, L) view
        if exact_shape and shape != tuple(x.shape) and not one_d:  # a view: relay in this shape
            return self.population(x, Readout(), x.origin)
        return x

    def apply(self, x: Value, op: WeightOperator, bias, out_shape: tuple, name: str) -> Value:
        """The value ``op(x) + bias``.

        Parameters
        ----------
        x : Value
        op : WeightOperator
            Mapping ``x.size`` units onto ``prod(out_shape)`` entries.
        bias : ndarray or None
            One value per output unit.
        out_shape : tuple of int
        name : str
            Path of the operation (names a relay if the result must be materialised).
        """
        folded = self._fold_input_affine(x, op, bias, out_shape, name)
        if folded is not None:
            return folded
        x = self.as_population(x, exact_shape=op.input_shape is not None)
        if op.n_pre != x.size or op.n_out != int(np.prod(out_shape)):
            raise ConversionError(
                f"{name!r}: operator maps {op.n_pre} -> {op.n_out} units, the value has "
                f"{x.size} units and the output shape is {out_shape}."
            )
        if bias is not None:
            bias = np.asarray(bias, dtype=np.float64).ravel()
        return Value(tuple(out_shape), [Term(x.terms[0].source, op)], bias, name)

    def _fold_input_affine(self, x: Value, op, bias, out_shape, name) -> Value | None:
        """``op(s * P + t)`` of a population P as ``op'(P) + op(t)`` (exact), or None.

        A BatchNorm after an activation leaves such a per-unit affine value; folding it
        into the consuming layer avoids a relay population.
        """
        if len(x.terms) != 1 or x.terms[0].op is None or op.n_pre != x.size:
            return None
        source = x.terms[0].source
        pop = self.network.populations[source]
        s = diagonal_values(x.terms[0].op, x.size)
        if s is None or pop.size != x.size:
            return None
        shape = op.input_shape
        if shape is not None and len(pop.shape) == len(shape) and tuple(pop.shape) != shape:
            return None
        scaled = scale_input(op, s)
        if scaled is None:
            return None
        extra = np.zeros(op.n_out)
        if x.bias is not None and np.any(x.bias):
            extra = op.apply(x.bias[None, :])[0]
        if bias is not None:
            extra = extra + np.asarray(bias, dtype=np.float64).ravel()
        total = extra if (bias is not None or np.any(extra)) else None
        return Value(tuple(out_shape), [Term(source, scaled)], total, name)

    def scale(self, x: Value, scale, shift, name: str) -> Value:
        """The value ``scale * x + shift`` (per unit), folded into the pending operators."""
        scale = np.asarray(scale, dtype=np.float64).ravel()
        shift = np.asarray(shift, dtype=np.float64).ravel()
        terms = []
        for term in x.terms:
            op = scale_operator(term.op, scale)
            if op is None:  # no exact folded form: materialise, then a diagonal map
                x = self.as_population(x, exact_shape=False)
                return self.scale(x, scale, shift, name)
            terms.append(Term(term.source, op))
        bias = shift if x.bias is None else x.bias * scale + shift
        return Value(x.shape, terms, bias, name)

    def add(self, a: Value, b: Value, name: str) -> Value:
        """The value ``a + b`` (same shape): the terms of both, the biases summed."""
        if tuple(a.shape) != tuple(b.shape):
            raise ConversionError(
                f"{name!r}: adds per-sample shapes {a.shape} and {b.shape}; only additions of "
                "equal shapes (no broadcasting) convert."
            )
        if a.bias is None:
            bias = b.bias
        else:
            bias = a.bias if b.bias is None else a.bias + b.bias
        return Value(a.shape, a.terms + b.terms, bias, name)

    def reshape(self, x: Value, shape: tuple, name: str) -> Value:
        """The same units under another per-sample shape (unit order unchanged)."""
        shape = tuple(int(s) for s in shape)
        if int(np.prod(shape)) != x.size:
            raise ConversionError(
                f"{name!r}: reshape of {x.shape} to {shape} changes the number of units per "
                "sample; only reshapes that keep the batch axis convert."
            )
        out = Value(shape, list(x.terms), x.bias, x.origin)
        out.materialised = x.materialised
        return out

    def output(self, values: list[Value], names: list[str]) -> list[str]:
        """Mark the model's outputs; values that are not a population become Readouts."""
        outs = []
        for x, name in zip(values, names):
            if x.is_population:
                pop = self.network.populations[x.terms[0].source]
                if not pop.model.is_input and tuple(pop.shape) == tuple(x.shape):
                    outs.append(pop.name)
                    continue
            outs.append(self.population(x, Readout(), name).terms[0].source)
        self.network.outputs = outs
        self.prune()
        return outs


def _compact(op: WeightOperator) -> WeightOperator:
    """Store a mostly-zero Dense operator as CSR."""
    return op.compact(SPARSE_BELOW)


def _compact_bias(op: WeightOperator, bias: np.ndarray) -> np.ndarray:
    """A convolution's bias as one value per channel when it is constant per channel."""
    return op.compact_bias(bias)
