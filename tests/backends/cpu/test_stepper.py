"""The shared step-by-step loop: hooks see every delivery and emission, and a new model
runs on the cpu python engine with only its model and one kernel module."""

import sys
import textwrap
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
from netgen import random_case

import neuro
import neuro.backends.cpu as cpu_pkg
from neuro.backends.base import prepare_inputs
from neuro.backends.cpu.neurons import CPU_NEURONS, cpu_kernel
from neuro.backends.cpu.stepper import StepHooks, Stepper
from neuro.backends.cpu.synapses import build_delivery
from neuro.exceptions import BackendError
from neuro.models.base import MODELS, NeuronModel, StateField
from neuro.models.kwta import KWTA


class Tally(StepHooks):
    def __init__(self, n_proj):
        self.synops = [0] * n_proj
        self.events_in = [0] * n_proj
        self.emitted = {}
        self.starts = self.ends = 0
        self.order = []

    def on_step_start(self, t):
        self.starts += 1

    def on_deliver(self, t, plan, k, events, synops, active):
        self.synops[k] += synops
        self.events_in[k] += events.count

    def on_emit(self, t, plan, events, n):
        self.emitted[plan.name] = self.emitted.get(plan.name, 0) + n
        if t == 0:
            self.order.append(plan.name)

    def on_step_end(self, t):
        self.ends += 1


def _stepper_run(net, x, hooks=None, dtype=np.float64):
    inputs = prepare_inputs(net, x, None)
    deliveries = [build_delivery(p, dtype) for p in net.projections.values()]
    stepper = Stepper(net, inputs.batch, dtype, None, deliveries)
    recs = stepper.run(inputs, list(net.populations), "all", hooks)
    return stepper, recs


@pytest.mark.parametrize("kind", ["mixed", "rnn"])
def test_hooks_see_every_delivery_and_emission(kind):
    net, x, steps = random_case(0, kind)
    hooks = Tally(len(net.projections))
    stepper, recs = _stepper_run(net, x, hooks)
    counts = stepper.counts()
    assert hooks.starts == hooks.ends == steps
    for k, name in enumerate(net.projections):
        assert hooks.synops[k] == counts.projections[name].synops
        assert hooks.events_in[k] == counts.projections[name].events_in
    for name, n in hooks.emitted.items():
        assert n == counts.populations[name].events
    assert hooks.order == net.topological_order()
    ref = neuro.run(net, x, backend="cpu", engine="python", dtype="float64", record=list(recs))
    for name, r in recs.items():
        np.testing.assert_array_equal(r, ref.recordings[name])
    assert counts.totals() == ref.counts.totals()


def test_hook_changes_to_events_reach_the_next_population():
    net = neuro.Network()
    net.add_population("x", (3,), neuro.Input())
    net.add_population("y", (3,), neuro.Readout())
    net.connect("x", "y", neuro.Dense(np.eye(3)))

    class Double(StepHooks):
        def on_emit(self, t, plan, events, n):
            if plan.name == "x":
                events.val[:n] *= 2

    _, recs = _stepper_run(net, np.array([[[1.0, 0.0, 3.0]]]), Double())
    np.testing.assert_array_equal(recs["y"][0, 0], [2.0, 0.0, 6.0])


def test_hooks_set_to_none_are_not_called():
    net, x, _ = random_case(1, "mlp")

    class Off(StepHooks):
        def __init__(self):
            self.on_deliver = None

        def on_deliver(self, *args):  # pragma: no cover - disabled above
            raise AssertionError("called")

    _stepper_run(net, x, Off())


TOY_KERNEL = textwrap.dedent(
    """
    import numpy as np
    from neuro.backends.cpu.neurons import CPU_NEURONS, CpuNeurons

    @CPU_NEURONS.register("toyleak")
    class CpuToyLeak(CpuNeurons):
        def step(self, ports, events):
            self.u *= 0.5
            self.u += ports["input"]
            events.from_dense(self.u)
    """
)


@dataclass(frozen=True)
class ToyLeak(NeuronModel):
    """u_t = u_{t-1} / 2 + input_t, every non-zero u sent."""

    type: ClassVar[str] = "toyleak"
    STATE: ClassVar[tuple] = (StateField("u", "leaky sum of the input"),)

    def step(self, state, inputs):
        u = state["u"] * 0.5 + inputs["input"]
        return u, {"u": u}


def test_a_new_model_needs_its_model_and_one_cpu_kernel_module(tmp_path, monkeypatch):
    (tmp_path / "toyleak.py").write_text(TOY_KERNEL)
    monkeypatch.setattr(cpu_pkg, "__path__", [*cpu_pkg.__path__, str(tmp_path)])
    monkeypatch.setitem(MODELS._items, "toyleak", ToyLeak)
    monkeypatch.setattr(CPU_NEURONS, "_items", dict(CPU_NEURONS._items))
    monkeypatch.delitem(sys.modules, "neuro.backends.cpu.toyleak", raising=False)
    net = neuro.Network()
    net.add_population("x", (4,), neuro.Input())
    net.add_population("u", (4,), ToyLeak())
    net.add_population("k", (4,), KWTA(2))
    net.connect("x", "u", neuro.Dense(np.random.default_rng(0).normal(size=(4, 4))))
    net.connect("u", "k", neuro.Dense(np.eye(4)))
    x = np.random.default_rng(1).normal(size=(5, 2, 4))
    ref = neuro.run(net, x, backend="reference", record=["u", "k"])
    first = neuro.run(net, x[:2], backend="cpu", dtype="float64", record=["u", "k"])
    rest = neuro.run(
        net, x[2:], backend="cpu", dtype="float64", record=["u", "k"],
        initial_state=first.final_state,
    )  # fmt: skip
    assert set(first.final_state["u"]["state"]) == {"u"}
    np.testing.assert_allclose(rest.recordings["k"][-1], ref.recordings["k"][-1], rtol=1e-12)
    np.testing.assert_allclose(
        rest.final_state["u"]["state"]["u"], ref.final_state["u"]["state"]["u"], rtol=1e-12
    )
    sys.modules.pop("neuro.backends.cpu.toyleak", None)


def test_unknown_model_has_no_cpu_kernel():
    with pytest.raises(BackendError, match="unknown neuron model on backend 'cpu' 'nokernel'"):
        cpu_kernel("nokernel")
