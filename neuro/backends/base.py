"""What every backend shares: the registry, input preparation and the run result."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .._registry import Registry
from .._validate import as_int_param
from ..audit.counts import Counts
from ..exceptions import BackendError, InputError, ParameterError
from ..ir.network import Network

BACKENDS = Registry("backend", BackendError)
BACKENDS.register_lazy("reference", "neuro.backends.reference:ReferenceBackend")
BACKENDS.register_lazy("cpu", "neuro.backends.cpu:CpuBackend")
BACKENDS.register_lazy("cores", "neuro.backends.cores:CoresBackend")
BACKENDS.register_lazy("lava", "neuro.backends.lava:LavaBackend")

__all__ = [
    "BACKENDS",
    "Backend",
    "LazyRunResult",
    "RunInputs",
    "RunResult",
    "prepare_inputs",
    "run",
]


@dataclass
class RunInputs:
    """Validated inputs of a run.

    Attributes
    ----------
    arrays : dict of str → ndarray
        Per input population: (T, B, *sample_shape), or (B, *sample_shape) when
        ``static`` (the same input at every step).
    static : dict of str → bool
    steps, batch : int
    time_axis : bool
        Whether recordings keep a leading time axis.
    """

    arrays: dict
    static: dict
    steps: int
    batch: int
    time_axis: bool

    def at(self, name: str, t: int) -> np.ndarray:
        """Raw input of population ``name`` at step ``t``, shape (B, *sample_shape)."""
        x = self.arrays[name]
        return x if self.static[name] else x[t]


def input_layout(network: Network) -> list[tuple]:
    """(name, population, sample shape) of each input population, in order."""
    layout = []
    for name in network.inputs:
        pop = network.populations[name]
        layout.append((name, pop, tuple(pop.model.sample_shape(pop.shape))))
    return layout


def prepare_inputs(
    network: Network, inputs, steps: int | None = None, layout: list | None = None
) -> RunInputs:
    """Check ``inputs`` against the network's input populations.

    Parameters
    ----------
    network : Network
    inputs : ndarray or dict of str → ndarray
        One array per input population (a bare array when there is one input
        population).  (B, *sample_shape) is one static sample batch, held for
        ``steps`` steps (default 1); (T, B, *sample_shape) is a time series.
    steps : int, optional
    layout : list, optional
        :func:`input_layout` of the network, when known.

    Returns
    -------
    RunInputs
    """
    layout = input_layout(network) if layout is None else layout
    if steps is None and len(layout) == 1 and not isinstance(inputs, dict):
        # the common call: one static batch for one input population
        name, pop, sample = layout[0]
        if type(inputs) is np.ndarray and _dense_and_finite(inputs, pop.model):
            x = inputs  # checked in one compiled pass, as the model's check would
        else:
            x = pop.model.check(_as_input_array(inputs, name), name, pop.shape)
        if x.ndim == len(sample) + 1 and x.shape[1:] == sample and x.shape[0] > 0:
            return RunInputs({name: x}, {name: True}, 1, x.shape[0], False)
        inputs = {name: x}
    names = [name for name, _, _ in layout]
    if not isinstance(inputs, dict):
        if len(names) != 1:
            raise InputError(
                f"network {network.name!r} has {len(names)} input populations {names}; "
                "pass inputs as a dict {population name: array}."
            )
        inputs = {names[0]: inputs}
    if len(inputs) != len(names) or any(name not in inputs for name in names):
        unknown = set(inputs) - set(names)
        missing = set(names) - set(inputs)
        raise InputError(
            f"inputs given for {sorted(inputs)}, the network's input populations are {names}"
            + (f"; unknown: {sorted(unknown)}" if unknown else "")
            + (f"; missing: {sorted(missing)}" if missing else "")
            + "."
        )
    if steps is not None:
        try:
            steps = as_int_param(steps, "steps", 1)
        except ParameterError:
            raise InputError(f"steps == {steps!r}, must be an int >= 1.") from None
    arrays, static, lengths, batches = {}, {}, set(), set()
    for name, pop, sample in layout:
        x = pop.model.check(_as_input_array(inputs[name], name), name, pop.shape)
        if x.ndim == len(sample) + 1 and x.shape[1:] == sample:
            static[name] = True
            batches.add(x.shape[0])
        elif x.ndim == len(sample) + 2 and x.shape[2:] == sample:
            static[name] = False
            lengths.add(x.shape[0])
            batches.add(x.shape[1])
        else:
            raise InputError(
                f"input {name!r} has shape {x.shape}; expected (batch, *{sample}) or "
                f"(steps, batch, *{sample}) for population shape {pop.shape}."
            )
        arrays[name] = x
    if len(batches) != 1 or 0 in batches:
        raise InputError(f"inputs disagree on (or have zero) batch size: {sorted(batches)}.")
    if len(lengths) > 1 or 0 in lengths:
        raise InputError(
            f"time-series inputs must agree on a length >= 1, got lengths {sorted(lengths)}."
        )
    if lengths:
        t = lengths.pop()
        if steps is not None and steps != t:
            raise InputError(f"steps == {steps} but the inputs have {t} steps.")
        steps = t
    time_axis = not all(static.values()) or (steps or 1) > 1
    return RunInputs(arrays, static, int(steps or 1), batches.pop(), time_axis)


def _dense_and_finite(x: np.ndarray, model) -> bool:
    """Whether ``x`` passes the check of a dense :class:`~neuro.models.input.Input`
    (a numeric array of finite values), tested in one compiled pass over contiguous
    floats; False for anything else (the model's own check then decides and names
    the problem)."""
    global _INPUT_CHECK, _ALL_FINITE
    if _INPUT_CHECK is None:
        from ..models.input import Input
        from .cpu.kernels import all_finite

        _INPUT_CHECK, _ALL_FINITE = Input.check, all_finite
    if type(model).check is not _INPUT_CHECK or not x.flags.c_contiguous:
        return False
    kind = x.dtype.kind
    if kind in "iu":
        return True
    if kind != "f" or x.dtype.itemsize not in (4, 8):
        return False
    return bool(_ALL_FINITE(x.reshape(-1)))


_INPUT_CHECK = _ALL_FINITE = None


def _as_input_array(value, name: str) -> np.ndarray:
    """``value`` as an ndarray, or an :class:`InputError` naming the input (ragged lists...)."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"input {name!r} is not an array: {type(value).__name__} that numpy cannot turn "
            f"into one ({str(exc).split('.')[0]}); give a rectangular array, e.g. every "
            "sample of the same length."
        ) from None


@dataclass
class RunResult:
    """What a run returns.

    Attributes
    ----------
    outputs : ndarray or dict of str → ndarray
        The recording of the network's output population, (B, *shape) for a
        single-step run or (T, B, *shape); a dict when the network has several.
    recordings : dict of str → ndarray
        Every recorded population.
    counts : Counts
    final_state : dict
        Pass as ``initial_state`` to continue the run (e.g. the next chunk of a
        token stream).  Backend-neutral: model state and recent outputs, dense.
    backend : str
    network : Network
    wall_time_s : float
        Seconds the backend spent in the run.
    info : dict
        Backend-specific details (e.g. extra steps Lava ran).
    program : Program or None
        The compiled program that ran (:mod:`neuro.backends.program`):
        ``result.program.run(new_inputs)`` runs the same network again without
        compiling it again.
    """

    outputs: Any
    recordings: dict
    counts: Counts
    final_state: dict
    backend: str
    network: Network
    wall_time_s: float = 0.0
    info: dict = field(default_factory=dict)
    program: Any = None

    def audit(self, **options):
        """Per-layer audit of the run; see :class:`neuro.audit.report.Audit`."""
        from ..audit.report import Audit

        return Audit.from_result(self, **options)


class LazyRunResult(RunResult):
    """A :class:`RunResult` whose ``counts`` and ``final_state`` are built on first read
    (a call that only wants the outputs does not pay for them).

    ``_count_source`` is ``(make, *args)``: ``counts`` is ``make(*args)``.
    ``_stateless`` names the populations of a network without model state or delays:
    ``final_state`` gives each an empty state and history, as a run would.  Copies and
    pickles carry the built counts and final state.
    """

    @property
    def counts(self):
        counts = self._counts
        if counts is None:
            make, *args = self._count_source
            counts = self._counts = make(*args)
            self._count_source = None
        return counts

    @counts.setter
    def counts(self, value) -> None:
        self._counts, self._count_source = value, None

    @property
    def final_state(self) -> dict:
        state = self._final
        if state is None:
            state = {name: {"state": {}, "history": []} for name in self._stateless}
            self._final = state
        return state

    @final_state.setter
    def final_state(self, value) -> None:
        self._final = value

    def __getstate__(self):
        _ = self.counts, self.final_state
        return self.__dict__.copy()


class Backend:
    """Base class of backends: subclasses implement :meth:`execute`.

    Parameters
    ----------
    **options
        Backend-specific options; unknown ones raise :class:`BackendError`.

    Attributes
    ----------
    prepared : object or None
        What :meth:`prepare` returned for the network this instance runs (set by
        :class:`~neuro.backends.program.Program`); :meth:`execute` uses it when set.
    """

    name: ClassVar[str]
    options: ClassVar[tuple[str, ...]] = ()
    prepared: Any = None

    def __init__(self, **options):
        unknown = set(options) - set(self.options)
        if unknown:
            raise BackendError(
                f"backend {self.name!r} has no option(s) {sorted(unknown)}; "
                f"its options are {list(self.options) or 'none'}."
            )
        self.config = options

    def prepare(self, network: Network) -> Any:
        """Work that depends on the network and options only, done once per program
        (layouts, tables, a mapping); the default prepares nothing."""
        return None

    def execute(
        self,
        network: Network,
        inputs: RunInputs,
        record: list[str],
        record_steps: str,
        initial_state: dict | None,
        progress: bool | None,
    ) -> tuple[dict, Counts, dict, dict]:  # pragma: no cover - interface
        """Run; return (recordings as (T', B, n) arrays, counts, final state, info)."""
        raise NotImplementedError

    def run(
        self, network, inputs, record, record_steps, initial_state, progress, outputs=None
    ) -> RunResult:
        """Execute and shape the result (``outputs``: ``network.outputs``, when known)."""
        start = time.perf_counter()
        recs, counts, state, info = self.execute(
            network, inputs, record, record_steps, initial_state, progress
        )
        elapsed = time.perf_counter() - start
        return self.result(
            network, inputs, record_steps, recs, counts, state, info, elapsed, outputs
        )

    def plain_run(self, network, name: str, x: np.ndarray, outputs: list) -> RunResult | None:
        """The plain call, when this backend has a shorter path for it: one static batch
        ``x`` (B, *sample_shape), already checked for shape, for the one input
        population ``name``; default options; recording ``outputs`` (one population).
        Returns the same result as :meth:`run`, or None to let :meth:`run` do it (the
        default)."""
        return None

    def result(
        self, network, inputs, record_steps, recs, counts, state, info, elapsed, outputs=None
    ) -> RunResult:
        """The :class:`RunResult` of an execution: recordings shaped (T', B, *shape) or
        (B, *shape), the outputs picked, the counts' AC/MAC split decided from ``inputs``
        now (one compiled pass over each input array)."""
        counts.decide_ac(network, inputs)
        shaped = {}
        for name, arr in recs.items():
            shape = network.populations[name].shape
            if inputs.time_axis and record_steps == "all":
                shaped[name] = arr.reshape(arr.shape[0], inputs.batch, *shape)
            else:
                shaped[name] = arr[-1].reshape(inputs.batch, *shape)
        outs = [n for n in (network.outputs if outputs is None else outputs) if n in shaped]
        outputs = shaped[outs[0]] if len(outs) == 1 else {n: shaped[n] for n in outs}
        return RunResult(outputs, shaped, counts, state, self.name, network, elapsed, info)


def run(
    network: Network,
    inputs,
    backend: str = "cpu",
    steps: int | None = None,
    record: list[str] | None = None,
    record_steps: str = "all",
    initial_state: dict | None = None,
    progress: bool | None = None,
    memory_budget=None,
    cache: bool = True,
    **options,
) -> RunResult:
    """Run an event network.

    The network is compiled for the backend and options on the first call and the
    compiled program is reused by later calls while the network is unchanged (see
    :func:`neuro.compile` and :mod:`neuro.backends.program`: the network's arrays
    become read-only; assign new arrays to change it).

    Parameters
    ----------
    network : Network
    inputs : ndarray or dict of str → ndarray
        See :func:`prepare_inputs`.
    backend : str
        ``"reference"``, ``"cpu"``, ``"cores"`` or ``"lava"``.
    steps : int, optional
        Steps to run for static inputs (default 1).
    record : list of str, optional
        Populations whose outputs to record (default: the network's outputs).
    record_steps : {"all", "last"}
        Keep every step's output or only the last one (memory stays flat).
    initial_state : dict, optional
        ``final_state`` of a previous run to continue from.
    progress : bool, optional
        Show a progress bar (default: on a terminal, for long runs).
    memory_budget : int or str, optional
        Refuse runs whose buffers and recordings would exceed it (bytes or ``"4GB"``);
        default ``$NEURO_MEMORY_BUDGET``, else 80 % of free memory; see :mod:`neuro.limits`.
    cache : bool
        Reuse (and keep) the network's compiled program; False compiles for this
        call only and leaves the network's arrays writeable.
    **options
        Backend options (e.g. ``dtype`` for ``cpu``).  ``client=`` a
        ``dask.distributed.Client`` splits the batch across its workers
        (:func:`neuro.distributed.run`, same result).

    Returns
    -------
    RunResult
        ``result.program`` runs the network again on new inputs.
    """
    if not isinstance(network, Network):
        raise InputError(
            f"neuro.run expects a neuro.Network, got a {type(network).__name__}; convert torch "
            "models with neuro.convert_and_run or converters.convert."
        )
    if "client" in options:
        client = options.pop("client")
        if client is not None:
            from ..distributed import run as distributed_run

            return distributed_run(
                network,
                inputs,
                steps=steps,
                record=record,
                record_steps=record_steps,
                initial_state=initial_state,
                progress=progress,
                backend=backend,
                client=client,
                **options,
            )
    program_module = _PROGRAM_MODULE or _program_module()
    if cache:
        program = program_module.cached_program(network, backend, options)
    else:
        program = program_module.Program(network, backend, guard=False, **options)
    return program.run(
        inputs, steps, initial_state, record, record_steps, progress, memory_budget=memory_budget
    )


_PROGRAM_MODULE = None


def _program_module():
    """:mod:`neuro.backends.program`, imported on first use (it imports this module)."""
    global _PROGRAM_MODULE
    from . import program

    _PROGRAM_MODULE = program
    return program
