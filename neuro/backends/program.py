"""Compiled programs: a network prepared once for a backend, then run many times.

``program = neuro.compile(network, backend="cpu", **options)`` does once what every run
of the network needs and does not depend on the inputs: validation of every weight,
layout and dtype conversion, fan-out and counting tables, kernel selection (the
``cores`` backend: the mapping onto cores).  ``program.run(inputs)`` then costs the
events' work plus a small fixed overhead.  :func:`neuro.run` keeps such programs in a
cache on the network and reuses one while the network is unchanged.

Never stale: a program holds a :class:`NetworkGuard`.  Compiling makes every array of
the network (weights, biases, thresholds, other model parameters) read-only, so an
in-place edit (``w[0, 0] = 1``, ``w *= 2``) raises numpy's "assignment destination is
read-only" instead of silently changing a compiled network.  To change a network,
assign a new array or object (``proj.weights.weight = w2``, ``pop.model =
FATReLU(0.2)``, ``net.connect(...)``), or make the array writeable again
(``w.flags.writeable = True``) and edit it.  Before every run (the first one too) the
guard compares the network's structure (population and projection names in order, each
entry by identity, every dataclass field of each), the fields of models and weight
operators and the identity of every array with the compiled ones and checks that each
array is still read-only: one straight-line expression generated at compile time, tens
of nanoseconds per kept attribute (about a tenth of a microsecond per array, for its
flag), whatever the weights' size; on any difference the program compiles again, so a
run always uses the network as it is.  Arrays that do not own their memory (views of
another array, arrays sharing memory with a torch tensor) are first replaced in the
network by read-only copies, so nothing outside numpy's write protection can change
them.  ``neuro.run(...,
cache=False)`` compiles for the one call and leaves the network's arrays as they are.
"""

from __future__ import annotations

import dataclasses
import keyword
import threading
from collections import OrderedDict

import numpy as np

from ..exceptions import InputError
from ..ir.network import Network
from ..limits import (
    ALWAYS_FITS,
    budget_in_environment,
    check_run_memory,
    delay_depths,
    run_memory_total,
    skips_budget_check,
)
from ..models.input import Input
from .base import input_layout, prepare_inputs

__all__ = ["Program", "NetworkGuard", "compile", "cached_program", "clear_cache"]

# Programs kept per network by neuro.run (one per backend and options).
CACHE_SIZE = 4
# Memory estimates a program keeps (one per batch size, steps and recording asked for).
MEMORY_KEYS = 16


# What a guard check raises when the network changed under it: a value that no longer
# compares (e.g. an array), a removed name or attribute.
_CHANGED = (ValueError, TypeError, KeyError, AttributeError)


def _never() -> bool:
    return False


def _first_call_only():
    """A check that is True on its first call only (an unguarded program's first run)."""
    first = [True]

    def check() -> bool:
        if first:
            return bool(first.pop())
        return False

    return check


def _fields(obj) -> dict:
    """Attributes of a model or weight operator (dataclass fields, else ``vars``)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    return dict(getattr(obj, "__dict__", {}))


class NetworkGuard:
    """Proof that a network is unchanged since it was compiled.

    Parameters
    ----------
    network : Network
    lock : bool
        Make the network's arrays read-only (copying those that do not own their
        memory into the network first).  Without it the guard cannot vouch for array
        contents and :meth:`current` is always False.

    Notes
    -----
    The guard keeps the network's populations and projections (by identity), every
    attribute a run reads (names, shapes, ports, delays: by value; models, weight
    operators, biases and arrays: by identity) and the arrays, read-only.  A check
    reads these attributes again: microseconds, whatever the size of the weights.
    """

    def __init__(self, network: Network, lock: bool = True):
        self.network = network
        self.locked = lock
        self.arrays: list[np.ndarray] = []
        self.same: list[tuple] = []  # (object, attribute, expected object)
        self.equal: list[tuple] = []  # (object, attribute, expected value)
        self.sequences: list[tuple] = []  # (object, attribute, ids of its arrays)
        self.pops = list(network.populations.items())
        self.projs = list(network.projections.items())
        outputs = network.__dict__.get("_outputs")
        self.outputs = None if outputs is None else list(outputs)
        self.check = _never  # one straight-line check of everything kept (locked only)
        if not lock:
            return
        for pop in network.populations.values():
            for name, value in _fields(pop).items():  # name, shape (by value), model
                if name == "model":
                    self.same.append((pop, "model", value))
                else:
                    self.equal.append((pop, name, value))
            self._fields(pop.model)
        for p in network.projections.values():
            # name, pre, post, port, delay, role (by value), bias, weights (by identity)
            for name, value in _fields(p).items():
                if name == "bias" and isinstance(value, np.ndarray):
                    self._lock(p, "bias", value)
                elif name in ("bias", "weights"):
                    self.same.append((p, name, value))
                else:
                    self.equal.append((p, name, value))
            self._fields(p.weights)
        self.check = self._checker()

    def _lock(self, obj, name: str, value: np.ndarray) -> None:
        if not (value.flags.owndata and value.base is None):
            value = np.array(value, copy=True)
            object.__setattr__(obj, name, value)  # models are frozen dataclasses
        value.flags.writeable = False
        self.arrays.append(value)
        self.same.append((obj, name, value))

    def _fields(self, obj) -> None:
        for name, value in _fields(obj).items():
            if isinstance(value, np.ndarray):
                self._lock(obj, name, value)
            elif isinstance(value, (list, tuple)) and any(isinstance(v, np.ndarray) for v in value):
                for v in value:
                    if isinstance(v, np.ndarray):
                        v.flags.writeable = False
                        self.arrays.append(v)
                self.same.append((obj, name, value))
                self.sequences.append((obj, name, tuple(id(v) for v in value)))
            else:
                self.equal.append((obj, name, value))

    def _checker(self):
        """One straight-line function of the network that is True while nothing changed.

        Generated once per compile: every identity, value and read-only flag the
        guard keeps is one expression of a single ``and`` chain (no loops, no
        temporaries), so a check costs a few tens of nanoseconds per kept attribute.
        """
        consts, lines = {}, []

        def ref(value):
            key = f"c{len(consts)}"
            consts[key] = value
            return key

        def attr(obj, name):
            if name.isidentifier() and not keyword.iskeyword(name):
                return f"{ref(obj)}.{name}"
            return f"getattr({ref(obj)}, {name!r})"

        net = ref(self.network)
        for table, entries in (("populations", self.pops), ("projections", self.projs)):
            # the names in order, then each entry by identity (not ==, which a class
            # may define as it likes)
            lines.append(f"tuple({net}.{table}) == {ref(tuple(n for n, _ in entries))}")
            lines += [f"{net}.{table}[{n!r}] is {ref(v)}" for n, v in entries]
        lines.append(f"{net}.__dict__.get('_outputs') == {ref(self.outputs)}")
        for obj, name, value in self.same:
            lines.append(f"{attr(obj, name)} is {ref(value)}")
        for a in self.arrays:
            lines.append(f"not {ref(a)}.flags.writeable")
        for obj, name, value in self.equal:
            lines.append(f"{attr(obj, name)} == {ref(value)}")
        for obj, name, ids in self.sequences:
            lines.append(f"tuple(map(id, {attr(obj, name)})) == {ref(ids)}")
        body = " and\n        ".join(f"({line})" for line in lines)
        code = f"def check():\n    return bool(\n        {body}\n    )\n"
        namespace = dict(consts)
        exec(code, namespace)  # noqa: S102 - generated from the guard's own names only
        return namespace["check"]

    def current(self) -> bool:
        """Whether the network still has the compiled structure, arrays and values."""
        try:
            return self.check()
        except _CHANGED:
            return False  # a value that no longer compares (e.g. an array), a removed name


class Program:
    """A network compiled for one backend and options; call :meth:`run` on new inputs.

    Parameters
    ----------
    network : Network
    backend : str
        ``"reference"``, ``"cpu"``, ``"cores"`` or ``"lava"``.
    guard : bool
        Lock the network's arrays and re-compile when the network changes (see the
        module notes).  False: the arrays stay writeable and every run after the
        first compiles again.
    **options
        Backend options, as for :func:`neuro.run`.

    Notes
    -----
    What compiling does per backend: ``cpu`` validates, converts weights to the run's
    dtype and layout, builds the fan-out and counting tables and chooses the engine
    (per call remain only the buffers sized by the batch, cached per batch size, with
    the runner's arguments; the memory estimate is kept per batch, steps and recording);
    ``cores`` maps the network onto cores once (routing and simulation run per call);
    ``reference`` counts fan-outs and sums biases once (its products stay dense);
    ``lava`` validates once and builds its processes per call (they are sized by the
    run's steps and inputs).
    A program runs one call at a time (calls from several threads take turns).
    """

    def __init__(self, network: Network, backend: str = "cpu", guard: bool = True, **options):
        from .base import BACKENDS

        if not isinstance(network, Network):
            raise InputError(
                f"compile expects a neuro.Network, got a {type(network).__name__}; convert "
                "torch models with converters.convert first."
            )
        self.network = network
        self.backend = backend
        self.options = dict(options)
        self._engine_class = BACKENDS.get(backend)
        self._engine_class(**options)  # unknown options fail here, before any work
        self._guarded = guard
        self._lock = threading.Lock()
        self.compiles = 0
        self._compile()
        if not guard:  # the first run uses this compile; every later one compiles again
            self._check = _first_call_only()

    def _compile(self) -> None:
        self.network.validate()
        # lock first: the tables are built from the arrays the guard keeps (views and
        # foreign memory are replaced by copies before anything reads them)
        self._guard = NetworkGuard(self.network, lock=self._guarded)
        engine = self._engine_class(**self.options)
        engine.prepared = engine.prepare(self.network)
        self._engine = engine
        self._outputs = self.network.outputs
        self._layout = input_layout(self.network)
        self._depths = delay_depths(self.network)  # for the memory check of every run
        self._memory = {}  # (batch, steps, record, record_steps) -> estimated bytes
        # the plain call (one static batch of the one dense input, default options,
        # the one output recorded): (input name, sample shape), or None
        self._plain = None
        self._plain_shapes = {}  # input shape -> whether its plain call may be taken
        if len(self._layout) == 1 and len(self._outputs) == 1:
            name, pop, sample = self._layout[0]
            if type(pop.model).check is Input.check:
                self._plain = (name, sample)
        self._check = self._guard.check
        self.compiles += 1

    def _estimate(self, batch: int, steps: int, record: list, record_steps: str) -> int:
        """Estimated bytes of a run's buffers and recordings (kept per shape of run)."""
        key = (batch, steps, tuple(record), record_steps)
        total = self._memory.get(key)
        if total is None:
            total = run_memory_total(self.network, batch, steps, record, record_steps, self._depths)
            if len(self._memory) >= MEMORY_KEYS:
                self._memory.clear()
            self._memory[key] = total
        return total

    def _plain_shape(self, shape: tuple) -> bool:
        """Whether inputs of ``shape`` may take the plain call: one static batch of the
        one dense input whose run's estimated memory is small enough to skip the
        budget check when no budget is set (kept per shape)."""
        plain = self._plain
        ok = (
            plain is not None
            and len(shape) >= 1
            and shape[1:] == plain[1]
            and shape[0] > 0
            and self._estimate(shape[0], 1, self._outputs, "all") <= ALWAYS_FITS
        )
        if len(self._plain_shapes) >= MEMORY_KEYS:
            self._plain_shapes.clear()
        self._plain_shapes[shape] = ok
        return ok

    @property
    def current(self) -> bool:
        """Whether the network is unchanged since the last compile."""
        return self._guard.current()

    def run(
        self,
        inputs,
        steps: int | None = None,
        initial_state: dict | None = None,
        record: list[str] | None = None,
        record_steps: str = "all",
        progress: bool | None = None,
        memory_budget=None,
    ):
        """Run the compiled network on ``inputs``; arguments as for :func:`neuro.run`.

        The network is compiled again first if it changed since the last run.

        Returns
        -------
        RunResult
            With ``program`` set to this program.
        """
        with self._lock:
            # guarded: compile again when the network changed, also before the first run
            # (edits between compile and run); unguarded: compile every run after the first
            try:
                current = self._check()
            except _CHANGED:  # a value that no longer compares (e.g. an array), a removed name
                current = False
            if not current:
                self._compile()
            network = self.network
            if (
                type(inputs) is np.ndarray
                and steps is None
                and initial_state is None
                and record is None
                and record_steps == "all"
                and progress is None
                and memory_budget is None
                and not budget_in_environment()
            ):
                plain = self._plain_shapes.get(inputs.shape)
                if plain is None:
                    plain = self._plain_shape(inputs.shape)
                if plain:
                    result = self._engine.plain_run(network, self._plain[0], inputs, self._outputs)
                    if result is not None:
                        result.program = self
                        return result
            prepared = prepare_inputs(network, inputs, steps, self._layout)
            if record is None:
                record = self._outputs
            else:
                record = list(record)
                for name in record:
                    if name not in network.populations:
                        raise InputError(
                            f"cannot record {name!r}: no such population; known: "
                            f"{sorted(network.populations)}."
                        )
            if record_steps not in ("all", "last"):
                raise InputError(f"record_steps == {record_steps!r}, must be 'all' or 'last'.")
            # before any allocation: delay buffers and recordings must fit the budget
            # (the estimate depends on the shapes only: kept per batch, steps, recording)
            total = self._estimate(prepared.batch, prepared.steps, record, record_steps)
            if not skips_budget_check(total, memory_budget):
                check_run_memory(
                    network,
                    prepared.batch,
                    prepared.steps,
                    record,
                    record_steps,
                    memory_budget,
                    self._depths,
                    total,
                )
            result = self._engine.run(
                network, prepared, record, record_steps, initial_state, progress, self._outputs
            )
        result.program = self
        return result

    __call__ = run

    def __reduce__(self):
        # copies and pickles compile again (the tables hold addresses of this process)
        return (_rebuild, (self.network, self.backend, self._guarded, self.options))

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        opts = f", {opts}" if opts else ""
        return f"Program({self.network.name!r}, backend={self.backend!r}{opts})"


def _rebuild(network, backend, guard, options) -> Program:
    return Program(network, backend, guard=guard, **options)


def compile(network: Network, backend: str = "cpu", **options) -> Program:  # noqa: A001
    """Compile ``network`` for ``backend`` once; run it with ``program.run(inputs)``.

    Parameters
    ----------
    network : Network
    backend : str
        ``"reference"``, ``"cpu"``, ``"cores"`` or ``"lava"``.
    **options
        Backend options (e.g. ``dtype``, ``threads`` for ``cpu``).

    Returns
    -------
    Program

    Notes
    -----
    The network's arrays become read-only; a changed network is compiled again by
    the next run (see :mod:`neuro.backends.program`).

    Examples
    --------
    >>> program = neuro.compile(net, backend="cpu", dtype="float32")   # doctest: +SKIP
    >>> program.run(x).outputs                                         # doctest: +SKIP
    """
    return Program(network, backend, **options)


class _ProgramCache(OrderedDict):
    """The programs :func:`neuro.run` keeps on a network; copies and pickles start empty."""

    def __deepcopy__(self, memo):
        return _ProgramCache()

    def __copy__(self):
        return _ProgramCache()

    def __reduce__(self):
        return (_ProgramCache, ())


_CACHE_ATTR = "_neuro_programs"


def cached_program(network: Network, backend: str, options: dict) -> Program:
    """The cached program of ``network`` for ``backend`` and ``options``, compiled on
    first use (and again whenever the network changed)."""
    cache = network.__dict__.get(_CACHE_ATTR)
    if cache is None:
        cache = _ProgramCache()
        network.__dict__[_CACHE_ATTR] = cache
    try:
        key = (backend, tuple(sorted(options.items()))) if options else (backend, ())
        program = cache.get(key)
    except TypeError:  # options that cannot be compared: no caching
        return Program(network, backend, guard=False, **options)
    if program is None or program.network is not network:
        program = Program(network, backend, **options)
        cache[key] = program
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return program


def clear_cache(network: Network) -> None:
    """Drop the programs :func:`neuro.run` keeps for ``network`` (their memory)."""
    network.__dict__.pop(_CACHE_ATTR, None)
