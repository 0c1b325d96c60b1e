"""The one step-by-step loop of the event semantics, shared by ``cpu`` and ``cores``.

Per step, populations are visited in topological order of the zero-delay
projections.  A population's ports start from their biases; every incoming
projection streams the fan-out rows of the pre-synaptic events of step ``t - delay``
into them (compiled delivery kernels); the model's kernel then writes this step's
events into the population's ring.  The loop keeps the network's raw tallies
(synaptic operations and active MACs per projection, events in per projection,
events out per population) and records the populations asked for.

Backends add their own work through :class:`StepHooks` (per-core accounting,
latency, fixed-point rounding, non-finite checks) without copying the loop.  A hook
that a subclass does not override, or sets to None on the instance, costs nothing:
the loop calls only the others.
"""

from __future__ import annotations

import numpy as np

from ..._progress import progress_bar
from .plan import assemble_counts, build_plans, final_state

__all__ = ["StepHooks", "Stepper"]


class StepHooks:
    """Callbacks of :meth:`Stepper.run`; every method is a no-op here.

    The arguments are the loop's own objects (plans, event buffers, port buffers):
    a hook may read them and, where said, change them in place.
    """

    def on_step_start(self, t: int) -> None:
        """Before the first population of step ``t``."""

    def on_deliver(self, t: int, plan, k: int, events, synops: int, active: int) -> None:
        """After projection ``k`` (index in ``network.projections``) delivered ``events``
        (the pre-synaptic :class:`~.events.EventBuffer` of step ``t - delay``) into the
        port buffers of ``plan``, with the tallies of that delivery."""

    def on_ports(self, t: int, plan) -> None:
        """After every delivery into ``plan.ports``, before the model's update (the
        port buffers may be changed in place)."""

    def on_update(self, t: int, plan) -> None:
        """After the model's kernel of a non-input population ran (its state may be
        read and set through ``plan.neurons``)."""

    def on_emit(self, t: int, plan, events, n: int) -> None:
        """After ``plan`` wrote its ``n`` events of step ``t`` into ``events`` (input
        populations included); the event values may be changed in place before any
        later population reads them."""

    def on_step_end(self, t: int) -> None:
        """After the last population of step ``t``, before recording."""


def _overridden(hooks, name):
    """The bound hook, or None where it is StepHooks' no-op or set to None on the instance."""
    if name not in vars(hooks) and getattr(type(hooks), name) is getattr(StepHooks, name):
        return None
    return getattr(hooks, name)


class Stepper:
    """Plans and running tallies of one step-by-step run.

    Parameters
    ----------
    network : neuro.Network
    batch : int
    dtype : numpy dtype
    initial_state : dict or None
        A previous run's ``final_state`` (see :mod:`neuro.backends.state`).
    deliveries : list of callable
        One delivery kernel per projection, in ``network.projections`` order
        (:func:`~.synapses.build_delivery`).

    Attributes
    ----------
    plans : dict of str → PopulationPlan
        In topological order.
    synops, active, events_in : list of int
        Per projection (``network.projections`` order).
    events_out : dict of str → int
        Per population.
    """

    def __init__(self, network, batch, dtype, initial_state, deliveries):
        self.network = network
        self.batch = batch
        self.dtype = np.dtype(dtype)
        self.plans = build_plans(network, batch, dtype, initial_state)
        for k, proj in enumerate(network.projections.values()):
            pre = self.plans[proj.pre]
            self.plans[proj.post].incoming.append(
                (deliveries[k], pre.ring, proj.delay, proj.port, k)
            )
        n = len(network.projections)
        self.synops, self.active, self.events_in = [0] * n, [0] * n, [0] * n
        self.events_out = dict.fromkeys(self.plans, 0)
        self.steps = 0

    def run(
        self, inputs, record, record_steps, hooks=None, progress=None, label="cpu", quiet=False
    ):
        """Run every step of ``inputs``.

        Parameters
        ----------
        inputs : neuro.backends.base.Inputs
            ``inputs.at(name, t)`` gives an input population's raw input of step t.
        record : list of str
        record_steps : {"all", "last"}
        hooks : StepHooks, optional
        progress : bool or None
            Progress bar (see :func:`neuro._progress.progress_bar`), titled
            ``"{label} {network name}"``.
        quiet : bool
            Encode inputs without numpy's overflow warning (the caller checks the
            events for non-finite values itself).

        Returns
        -------
        dict of str → ndarray, shape (T', B, size)
            Recorded outputs in the run's dtype; T' = T or 1 (last step).
        """
        hooks = hooks or StepHooks()
        on_start = _overridden(hooks, "on_step_start")
        on_deliver = _overridden(hooks, "on_deliver")
        on_ports = _overridden(hooks, "on_ports")
        on_update = _overridden(hooks, "on_update")
        on_emit = _overridden(hooks, "on_emit")
        on_end = _overridden(hooks, "on_step_end")
        B, T = self.batch, inputs.steps
        plans = self.plans
        populations = self.network.populations
        kept = T if record_steps == "all" else 1
        recs = {n: np.zeros((kept, B, populations[n].size), dtype=self.dtype) for n in record}
        syn, act, ev_in, ev_out = self.synops, self.active, self.events_in, self.events_out
        sequence = list(plans.values())
        bar = progress_bar(T, f"{label} {self.network.name}", progress)
        for t in range(T):
            if on_start is not None:
                on_start(t)
            for plan in sequence:
                out = plan.ring[t % len(plan.ring)]
                if plan.is_input:
                    if quiet:
                        with np.errstate(over="ignore"):
                            plan.neurons.inject(inputs.at(plan.name, t), out)
                    else:
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
                        if on_deliver is not None:
                            on_deliver(t, plan, k, ev, s, a)
                    if on_ports is not None:
                        on_ports(t, plan)
                    plan.neurons.step(ports, out)
                    if on_update is not None:
                        on_update(t, plan)
                n = int(out.ptr[B])
                if on_emit is not None:
                    on_emit(t, plan, out, n)
                ev_out[plan.name] += n
            if on_end is not None:
                on_end(t)
            if record_steps == "all" or t == T - 1:
                slot = t if record_steps == "all" else 0
                for name in record:
                    plans[name].ring[t % len(plans[name].ring)].to_dense(recs[name][slot])
            bar.update()
        bar.close()
        self.steps += T
        return recs

    def counts(self):
        """:class:`~neuro.audit.counts.Counts` of the steps run so far."""
        return assemble_counts(
            self.network,
            self.batch,
            self.steps,
            self.synops,
            self.active,
            self.events_in,
            self.events_out,
        )

    def final_state(self) -> dict:
        """The backend-neutral state after the steps run (see :mod:`neuro.backends.state`)."""
        return final_state(self.network, self.plans, self.steps, self.batch)
