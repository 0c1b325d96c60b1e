"""The CPU event scheduler: only events cost synaptic work.

Per step, populations are visited in topological order of the zero-delay
projections.  A population's ports start from their biases; every incoming
projection streams the fan-out rows of the pre-synaptic events of step
``t - delay`` into them (compiled kernels, no per-event Python); the model's
kernel then writes this step's events.  Each population keeps a ring of
``max_delay + 1`` event buffers, so memory does not grow with the run length;
counters are running totals.

Networks built only from kernels that have compiled counterparts (input, token,
fatrelu, readout and egru populations; dense, sparse and conv2d projections) run
as a whole in one compiled call instead (:mod:`.fastpath`), with identical outputs,
counts and final state; the option ``engine`` chooses explicitly.
"""

from __future__ import annotations

import numpy as np

from ..._progress import progress_bar
from ...exceptions import BackendError
from ..base import BACKENDS, Backend
from .fastpath import run_compiled, supports
from .plan import assemble_counts, build_plans, final_state
from .synapses import build_delivery

__all__ = ["CpuBackend"]


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
        for the python engine).
        Set ``threads`` <= the free cores, and limit BLAS threads around it.
    """

    name = "cpu"
    options = ("dtype", "engine", "threads")

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
        return dtype, engine, int(threads)

    def execute(self, network, inputs, record, record_steps, initial_state, progress):
        dtype, engine, threads = self._settings()
        compiled = supports(network)
        if engine == "compiled" and not compiled:
            raise BackendError(
                f"backend 'cpu': network {network.name!r} has populations or projections "
                "without a compiled kernel (compiled: input, token, fatrelu, readout, egru; "
                "dense, sparse, conv2d); use engine='auto' or 'python'."
            )
        if engine != "python" and compiled:
            return self._run_compiled(
                network, inputs, record, record_steps, initial_state, dtype, threads
            )
        return self._run_stepwise(
            network, inputs, record, record_steps, initial_state, progress, dtype
        )

    @staticmethod
    def _run_compiled(network, inputs, record, record_steps, initial_state, dtype, threads):
        import numba

        previous = numba.get_num_threads()
        threads = min(threads, numba.config.NUMBA_NUM_THREADS)
        numba.set_num_threads(threads)
        try:
            return run_compiled(
                network, inputs, record, record_steps, initial_state, dtype, threads
            )
        finally:
            numba.set_num_threads(previous)

    def _run_stepwise(self, network, inputs, record, record_steps, initial_state, progress, dtype):
        B, T = inputs.batch, inputs.steps
        plans = build_plans(network, B, dtype, initial_state)
        order = list(plans)
        proj_names = list(network.projections)
        for k, proj in enumerate(network.projections.values()):
            pre = plans[proj.pre]
            plans[proj.post].incoming.append(
                (build_delivery(proj, dtype), pre.ring, proj.delay, proj.port, k)
            )

        syn = [0] * len(proj_names)
        act = [0] * len(proj_names)
        ev_in = [0] * len(proj_names)
        ev_out = dict.fromkeys(order, 0)
        kept = T if record_steps == "all" else 1
        recs = {n: np.zeros((kept, B, network.populations[n].size), dtype=dtype) for n in record}
        sequence = [plans[n] for n in order]
        bar = progress_bar(T, f"cpu {network.name}", progress)
        for t in range(T):
            for plan in sequence:
                out = plan.ring[t % len(plan.ring)]
                if plan.is_input:
                    plan.neurons.inject(inputs.at(plan.name, t), out)
                else:
                    ports = plan.ports
                    for port, buf in ports.items():
                        buf[:] = plan.bias[port]
                    for deliver, ring, delay, port, k in plan.incoming:
                        ev = ring[(t - delay) % len(ring)]
                        s, a = deliver(ev.ptr, ev.idx, ev.val, ports[port])
                        syn[k] += s
                        act[k] += a
                        ev_in[k] += int(ev.ptr[B])
                    plan.neurons.step(ports, out)
                ev_out[plan.name] += int(out.ptr[B])
            if record_steps == "all" or t == T - 1:
                slot = t if record_steps == "all" else 0
                for name in record:
                    plans[name].ring[t % len(plans[name].ring)].to_dense(recs[name][slot])
            bar.update()
        bar.close()

        counts = assemble_counts(network, B, T, syn, act, ev_in, ev_out)
        info = {"dtype": str(dtype), "engine": "python", "threads": 1, "schedule": "stepwise"}
        return recs, counts, final_state(network, plans, T, B), info
