"""The event network: populations, projections, and the rules they obey."""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np

from ..exceptions import CycleError, PortError, ShapeError, ValidationError
from ..models.base import NeuronModel
from .population import Population
from .projection import Projection
from .weights import WeightOperator

__all__ = ["Network"]


def _check_json(network: str, key, value) -> None:
    if not isinstance(key, str):
        raise ValidationError(
            f"network {network!r}: metadata key {key!r} is a {type(key).__name__}, must be a str "
            "(metadata is stored as JSON)."
        )
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"network {network!r}: metadata[{key!r}] is a {type(value).__name__}, which JSON "
            f"cannot store ({exc}); use str, int, float, bool, None, lists and dicts of them "
            "(e.g. array.tolist())."
        ) from None


class Metadata(dict):
    """A dict whose entries must be JSON-serialisable, checked when they are set."""

    def __init__(self, network: str, items=()):
        super().__init__()
        self._network = network
        self.update(items)

    def __setitem__(self, key, value):
        _check_json(self._network, key, value)
        super().__setitem__(key, value)

    def update(self, *args, **kwargs):
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def __ior__(self, other):
        self.update(other)
        return self

    def __reduce__(self):
        return (Metadata, (self._network, dict(self)))


class Network:
    """A graph of populations connected by projections.

    Parameters
    ----------
    populations : iterable of Population
    projections : iterable of Projection
    outputs : list of str, optional
        Populations whose outputs a run returns.  Default: every non-input
        population without outgoing projections (else the last non-input one).
    name : str
    metadata : dict, optional
        JSON-serialisable information carried along (source model, encoding, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from neuro import Network, Dense, FATReLU, Input, Readout
    >>> net = Network(name="mlp")
    >>> _ = net.add_population("x", (4,), Input())
    >>> _ = net.add_population("h", (3,), FATReLU(threshold=0.1))
    >>> _ = net.add_population("y", (2,), Readout())
    >>> _ = net.connect("x", "h", Dense(np.ones((4, 3))))
    >>> _ = net.connect("h", "y", Dense(np.ones((3, 2))), bias=np.zeros(2))
    >>> net.validate().outputs
    ['y']
    """

    def __init__(
        self,
        populations: Iterable[Population] = (),
        projections: Iterable[Projection] = (),
        outputs: list[str] | None = None,
        name: str = "network",
        metadata: dict | None = None,
    ):
        self.name = name
        self.populations: dict[str, Population] = {}
        self.projections: dict[str, Projection] = {}
        self._outputs = None if outputs is None else list(outputs)
        self.metadata = metadata
        for pop in populations:
            self._add(self.populations, pop, "population")
        for proj in projections:
            self._add(self.projections, proj, "projection")

    @property
    def metadata(self) -> dict:
        """JSON-serialisable information carried along; checked as it is set."""
        return self._metadata

    @metadata.setter
    def metadata(self, value: dict | None):
        if value is not None and not isinstance(value, dict):
            raise ValidationError(
                f"network {self.name!r}: metadata is a {type(value).__name__}, must be a dict."
            )
        self._metadata = Metadata(self.name, value or {})

    @staticmethod
    def _add(table: dict, item, kind: str):
        if item.name in table:
            raise ValidationError(f"{kind} name {item.name!r} is used twice; names must be unique.")
        table[item.name] = item
        return item

    # -- building -------------------------------------------------------------------
    def add_population(self, name: str, shape, model: NeuronModel) -> Population:
        """Add a population; see :class:`~neuro.ir.population.Population`."""
        return self._add(self.populations, Population(name, shape, model), "population")

    def connect(
        self,
        pre: str,
        post: str,
        weights: WeightOperator,
        port: str = "input",
        delay: int = 0,
        bias=None,
        name: str | None = None,
    ) -> Projection:
        """Add a projection ``pre`` → ``post.port``; see :class:`~neuro.ir.projection.Projection`.

        The default name is ``"pre->post"`` (``"pre->post.port"`` for a port other than
        ``"input"``).
        """
        if name is None:
            name = f"{pre}->{post}" + ("" if port == "input" else f".{port}")
        proj = Projection(name, pre, post, weights, port=port, delay=delay, bias=bias)
        return self._add(self.projections, proj, "projection")

    # -- queries ----------------------------------------------------------------------
    @property
    def inputs(self) -> list[str]:
        """Names of input populations, in insertion order."""
        return [n for n, p in self.populations.items() if p.model.is_input]

    @property
    def outputs(self) -> list[str]:
        """Names of the populations a run returns."""
        if self._outputs is not None:
            return list(self._outputs)
        has_out = {p.pre for p in self.projections.values()}
        internal = [n for n, p in self.populations.items() if not p.model.is_input]
        sinks = [n for n in internal if n not in has_out]
        return sinks or internal[-1:]

    @outputs.setter
    def outputs(self, names: list[str] | None):
        self._outputs = None if names is None else list(names)

    def incoming(self, population: str) -> list[Projection]:
        """Projections into ``population``, in insertion order."""
        return [p for p in self.projections.values() if p.post == population]

    def outgoing(self, population: str) -> list[Projection]:
        """Projections out of ``population``, in insertion order."""
        return [p for p in self.projections.values() if p.pre == population]

    def max_delay(self, population: str) -> int:
        """Largest delay on the projections leaving ``population`` (0 if none)."""
        return max((p.delay for p in self.outgoing(population)), default=0)

    def topological_order(self) -> list[str]:
        """Population names ordered so that zero-delay projections point forward.

        Raises
        ------
        CycleError
            If zero-delay projections form a cycle; the message names them.
        """
        deps = {name: set() for name in self.populations}
        for proj in self.projections.values():
            if proj.delay == 0 and proj.pre in deps and proj.post in deps:
                deps[proj.post].add(proj.pre)
        order, done = [], set()
        pending = list(self.populations)
        while pending:
            ready = [n for n in pending if deps[n] <= done]
            if not ready:
                cycle = [
                    p.name
                    for p in self.projections.values()
                    if p.delay == 0 and p.pre in pending and p.post in pending
                ]
                raise CycleError(
                    f"network {self.name!r}: zero-delay projections form a cycle through "
                    f"{sorted(cycle)}; give at least one of them delay >= 1."
                )
            order.extend(ready)
            done.update(ready)
            pending = [n for n in pending if n not in done]
        return order

    # -- validation ---------------------------------------------------------------------
    def validate(self) -> Network:
        """Check every rule of the IR; return ``self`` so calls can chain.

        Raises
        ------
        ValidationError
            (or a subclass: ShapeError, PortError, CycleError, ParameterError) naming the
            offending population or projection, the value and the rule.
        """
        if not self.populations:
            raise ValidationError(f"network {self.name!r} has no populations.")
        for key, value in self.metadata.items():  # entries mutated in place after being set
            _check_json(self.name, key, value)
        for pop in self.populations.values():
            pop.validate()
        for proj in self.projections.values():
            self._validate_projection(proj)
        for name in self.outputs:
            if name not in self.populations:
                raise ValidationError(
                    f"network {self.name!r}: output {name!r} is not a population; "
                    f"known: {sorted(self.populations)}."
                )
        if not self.inputs:
            raise ValidationError(
                f"network {self.name!r} has no input population (model Input or TokenInput)."
            )
        self.topological_order()
        return self

    def _validate_projection(self, proj: Projection) -> None:
        where = f"projection {proj.name!r}"
        for end in ("pre", "post"):
            if getattr(proj, end) not in self.populations:
                raise ValidationError(
                    f"{where}: {end} population {getattr(proj, end)!r} does not exist; "
                    f"known: {sorted(self.populations)}."
                )
        pre, post = self.populations[proj.pre], self.populations[proj.post]
        ports = post.ports
        if proj.port not in ports:
            raise PortError(
                f"{where}: population {post.name!r} ({post.model.type}) has no port "
                f"{proj.port!r}; its ports are {sorted(ports) or 'none (an input population)'}."
            )
        if proj.weights.n_pre != pre.size:
            raise ShapeError(
                f"{where}: weights expect {proj.weights.n_pre} pre-synaptic units, "
                f"population {pre.name!r} has {pre.size} (shape {pre.shape}); they must be equal."
            )
        in_shape = proj.weights.input_shape
        if in_shape is not None and len(pre.shape) == len(in_shape):
            if tuple(pre.shape) != in_shape:
                raise ShapeError(
                    f"{where}: {proj.weights.type} in_shape {in_shape} != shape {pre.shape} of "
                    f"population {pre.name!r}."
                )
        if proj.weights.n_out != ports[proj.port]:
            raise ShapeError(
                f"{where}: weights produce {proj.weights.n_out} values, port {proj.port!r} of "
                f"population {post.name!r} is {ports[proj.port]} wide; they must be equal."
            )
        proj.validate()
        if proj.bias is not None:
            try:
                proj.port_bias()
            except ShapeError as exc:
                raise ShapeError(f"{where}: {exc}") from None

    # -- summaries -----------------------------------------------------------------------
    def n_synapses(self) -> int:
        """Stored non-zero weights over all projections."""
        return int(sum(p.weights.nnz() for p in self.projections.values()))

    def summary(self) -> str:
        """A plain-text table of populations and projections."""
        lines = [f"Network {self.name!r}"]
        for pop in self.populations.values():
            lines.append(f"  population {pop.name:<20} {pop.model.type:<9} shape={pop.shape}")
        for p in self.projections.values():
            dens = p.weights.nnz() / max(1, int(np.sum(p.weights.fanout_total())))
            lines.append(
                f"  projection {p.name:<20} {p.weights.type:<9} {p.pre} -> {p.post}.{p.port} "
                f"delay={p.delay} weight density={dens:.3f}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"Network(name={self.name!r}, populations={len(self.populations)}, "
            f"projections={len(self.projections)})"
        )
