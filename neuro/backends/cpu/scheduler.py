"""The CPU event scheduler: only events cost synaptic work.

Per step, populations are visited in topological order of the zero-delay
projections.  A population's ports start from their biases; every incoming
projection streams the fan-out rows of the pre-synaptic events of step
``t - delay`` into them (compiled kernels, no per-event Python); the model's
kernel then writes this step's events.  Each population keeps a ring of
``max_delay + 1`` event buffers, so memory does not grow with the run length;
counters are running totals.  That loop is :class:`~.stepper.Stepper`, shared with the
``cores`` backend; this engine adds only its non-finite checks as hooks.

Networks built only from kernels that have compiled counterparts (input, token,
fatrelu, readout and egru populations; dense, sparse and conv2d projections) run
as a whole in one compiled call instead (:mod:`.fastpath`), with identical outputs,
counts and final state; the option ``engine`` chooses explicitly.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

import numpy as np

from ...exceptions import BackendError, NonFiniteWarning, NumericalError
from ..base import BACKENDS, Backend
from .fastpath import compile_network, supports, warn_user
from .plaincall import plain_call
from .stepper import StepHooks, Stepper
from .synapses import build_delivery

__all__ = ["CpuBackend", "ThreadsWarning"]


class ThreadsWarning(UserWarning):
    """The threads asked for cannot all run (numba's pool is smaller)."""


@BACKENDS.register("cpu")
class CpuBackend(Backend):
    """Event-driven execution with compiled kernels.

    Options
    -------
    dtype : {"float32", "float64"}
        Arithmetic precision (default float32).
    engine : {"auto", "compiled", "python"}
        ``"compiled"`` runs the whole run in one compiled call (networks of input,
        token, fatrelu, readout and egru populations with dense, sparse and conv2d
        projections); ``"python"`` drives compiled kernels step by step and runs
        every registered kernel; ``"auto"`` (default) picks ``"compiled"`` when the
        network allows it.  Results and counts are identical.
    threads : int
        Threads of the compiled engine (default 1): samples of a batch run in
        parallel (in lockstep per population and step when the weights exceed
        ``fastpath.LOCKSTEP_WEIGHT_BYTES``, so rows read for one sample are reused
        from cache by the others); a single sample splits large dense deliveries
        over column blocks.  ``result.info["schedule"]`` tells which ran (``"stepwise"``
        for the python engine).  More threads than numba's pool holds
        (``NUMBA_NUM_THREADS``, by default the machine's cores) run on the pool's
        threads, with a warning; the schedule is the one of the threads asked for.
        Set ``threads`` <= the free cores, and limit BLAS threads around it.
    nonfinite : {"raise", "warn", "ignore"}
        A value that is not finite (inf, NaN) in a step's port inputs or events, or
        a weight, bias or threshold beyond the dtype's range (float32 overflows
        above 3.4e38), raises :class:`~neuro.exceptions.NumericalError` naming the
        population and step (default), warns (:class:`~neuro.exceptions.NonFiniteWarning`)
        or is ignored.
    """

    name = "cpu"
    options = ("dtype", "engine", "threads", "nonfinite")
    _plain = None  # the compiled network of prepare() when plain calls can use it

    def _settings(self):
        dtype = np.dtype(self.config.get("dtype", "float32"))
        if dtype not in (np.float32, np.float64):
            raise BackendError(
                f"backend 'cpu': dtype == {str(dtype)!r}, must be float32 or float64."
            )
        engine = self.config.get("engine", "auto")
        if engine not in ("auto", "compiled", "python"):
            raise BackendError(
                f"backend 'cpu': engine == {engine!r}, must be 'auto', 'compiled' or 'python'."
            )
        threads = self.config.get("threads", 1)
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
            raise BackendError(f"backend 'cpu': threads == {threads!r}, must be an int >= 1.")
        nonfinite = self.config.get("nonfinite", "raise")
        if nonfinite not in ("raise", "warn", "ignore"):
            raise BackendError(
                f"backend 'cpu': nonfinite == {nonfinite!r}, must be 'raise', 'warn' or 'ignore'."
            )
        return dtype, engine, int(threads), nonfinite

    def prepare(self, network):
        """Choose the engine and build its network tables (weights in the run's dtype
        and layout, fan-out and counting tables) once."""
        dtype, engine, threads, nonfinite = self._settings()
        compiled = supports(network)
        if engine == "compiled" and not compiled:
            raise BackendError(
                f"backend 'cpu': network {network.name!r} has populations or projections "
                "without a compiled kernel (compiled: input, token, fatrelu, readout, egru; "
                "dense, sparse, conv2d); use engine='auto' or 'python'."
            )
        if engine != "python" and compiled:
            pool = _pool_threads(threads)
            tables = compile_network(network, dtype, nonfinite)
            self._plain = tables if threads == 1 else None
            return ("compiled", tables, threads, pool)
        deliveries = [build_delivery(proj, dtype) for proj in network.projections.values()]
        return ("python", deliveries, 1, 1)

    def plain_run(self, network, name, x, outputs):
        """The plain call in one compiled entry when the compiled engine runs on one
        thread (:func:`.plaincall.plain_call`); else None."""
        tables = self._plain
        if tables is None:
            return None
        return plain_call(tables, x, outputs)

    def execute(self, network, inputs, record, record_steps, initial_state, progress):
        prepared = self.prepared if self.prepared is not None else self.prepare(network)
        kind, tables, threads, pool = prepared
        if kind == "compiled":
            return self._run_compiled(
                tables, inputs, record, record_steps, initial_state, threads, pool, progress
            )
        return self._run_stepwise(
            network, tables, inputs, record, record_steps, initial_state, progress
        )

    @staticmethod
    def _run_compiled(tables, inputs, record, record_steps, initial_state, threads, pool, progress):
        if threads == 1:  # the serial schedule: no parallel region, no thread count to set
            recs, counts, final, info = tables.run(
                inputs, record, record_steps, initial_state, threads, progress
            )
        else:
            import numba

            with torch_threads_kept():
                previous = numba.get_num_threads()
                if previous != pool:
                    numba.set_num_threads(pool)
                try:
                    recs, counts, final, info = tables.run(
                        inputs, record, record_steps, initial_state, threads, progress
                    )
                finally:
                    if previous != pool:
                        numba.set_num_threads(previous)
        info["threads"] = pool
        return recs, counts, final, info

    def _run_stepwise(
        self, network, deliveries, inputs, record, record_steps, initial_state, progress
    ):
        dtype, _, _, nonfinite = self._settings()
        stepper = Stepper(network, inputs.batch, dtype, initial_state, deliveries)
        hooks = None
        if nonfinite != "ignore":
            hooks = _FiniteCheck(self, network, dtype, nonfinite)
        recs = stepper.run(inputs, record, record_steps, hooks, progress, label="cpu", quiet=True)
        info = {"dtype": str(dtype), "engine": "python", "threads": 1, "schedule": "stepwise"}
        return recs, stepper.counts(), stepper.final_state(), info

    @staticmethod
    def _nonfinite(network, name, t, dtype, mode):
        hint = (
            "float32 arithmetic overflowed (largest finite 3.4e38) or met inf - inf; run with "
            'dtype="float64"'
            if dtype == np.float32
            else "float64 arithmetic overflowed; rescale the inputs or weights"
        )
        message = (
            f"population {name!r} of network {network.name!r}: non-finite values (inf or NaN) "
            f"at step {t} on backend 'cpu' ({dtype}); {hint}.  Option nonfinite='warn' or "
            "'ignore' lets such runs finish."
        )
        if mode == "warn":
            warn_user(message, NonFiniteWarning)
        else:
            raise NumericalError(message)


class _FiniteCheck(StepHooks):
    """Raise or warn at the first non-finite port input or event value (once a run)."""

    def __init__(self, backend, network, dtype, mode):
        self.backend, self.network, self.dtype, self.mode = backend, network, dtype, mode
        self.check = True

    def on_ports(self, t, plan):
        if self.check and not all(np.isfinite(p).all() for p in plan.ports.values()):
            self.backend._nonfinite(self.network, plan.name, t, self.dtype, self.mode)
            self.check = False

    def on_emit(self, t, plan, events, n):
        if self.check and not np.isfinite(events.val[:n]).all():
            self.backend._nonfinite(self.network, plan.name, t, self.dtype, self.mode)
            self.check = False


@contextmanager
def torch_threads_kept():
    """Put torch's thread count back after numba's thread calls inside the block.

    numba's OpenMP threading layer and torch share one OpenMP runtime: starting numba's
    threads, or setting their number, sets the runtime's thread count, and a torch model
    run afterwards would silently use it.
    """
    torch = sys.modules.get("torch")
    kept = torch.get_num_threads() if torch is not None else None
    try:
        yield
    finally:
        if kept is not None and torch.get_num_threads() != kept:
            torch.set_num_threads(kept)


def _pool_threads(threads: int) -> int:
    """Threads numba can give ``threads`` (its pool's size caps it), with a warning
    that says why when it is fewer."""
    import numba

    with torch_threads_kept():
        numba.get_num_threads()  # starts numba's threading layer, which the compiled loop links
    pool = numba.config.NUMBA_NUM_THREADS
    if threads <= pool:
        return threads
    warn_user(
        f"backend 'cpu': threads == {threads} but numba's thread pool has {pool} "
        f"thread{'s' if pool != 1 else ''} (NUMBA_NUM_THREADS, by default the number of "
        f"cores); running on {pool}. Set NUMBA_NUM_THREADS before importing neuro to "
        "allow more.",
        ThreadsWarning,
    )
    return pool
