"""Neuron models as Lava processes: one builder per model type.

A builder turns a population run on ``B`` samples into one process of ``B n`` units
(see :mod:`neuro.backends.lava.layout`), knows the order of its ports, and reads
the model state back.  Lava is imported inside the methods only.
"""

from __future__ import annotations

import numpy as np

from ..._registry import Registry
from ...exceptions import BackendError
from ...models.fatrelu import event_threshold

LAVA_NEURONS = Registry("neuron model on backend 'lava'", BackendError)

__all__ = ["LAVA_NEURONS", "LavaNeurons"]


class LavaNeurons:
    """Base: builds and reads the process of one population.

    Parameters
    ----------
    population : neuro.ir.Population
    batch : int
    """

    def __init__(self, population, batch: int):
        self.pop = population
        self.batch = batch

    def port_order(self, port: str) -> np.ndarray | None:
        """Process index of port entry ``j`` of sample ``b`` at ``b * width + j``.

        None means the plain sample-major order.
        """
        return None

    def folded_bias(self, port: str, bias: np.ndarray) -> np.ndarray:
        """A per-sample port bias (width,) as a (B * width,) vector in process order."""
        tiled = np.tile(bias, self.batch)
        order = self.port_order(port)
        if order is None:
            return tiled
        out = np.empty_like(tiled)
        out[order] = tiled
        return out

    def tiled(self, values: np.ndarray) -> np.ndarray:
        """A per-unit vector (n,) repeated for every sample: (B * n,)."""
        return np.tile(np.asarray(values, dtype=np.float64), self.batch)

    def build(self, biases: dict, state: dict, timing: dict):  # pragma: no cover - interface
        """Create the process.

        Parameters
        ----------
        biases : dict of str → ndarray
            Per port, the summed projection biases in process order, (B * width,).
        state : dict of str → ndarray
            Model state to start from, each (B, ...); empty for a fresh run.
        timing : dict
            ``delay``, ``num_steps``, ``stride``, ``trace_steps`` and ``name`` for the
            process constructor.
        """
        raise NotImplementedError

    def in_port(self, process, port: str):
        """The process's InPort for ``port``."""
        return process.a_in

    def read_state(self, process) -> dict:
        """Model state read from the process's Vars: one Var per declared state field,
        of the same name, holding the ``B n`` units sample-major (see
        :meth:`neuro.models.base.NeuronModel.state_fields`).

        Returns
        -------
        dict of str → ndarray, shapes ``field.shape(n, B)``, in the declared dtypes
        """
        size = self.pop.size
        return {
            f.name: np.asarray(getattr(process, f.name).get(), dtype=f.dtype).reshape(
                f.shape(size, self.batch)
            )
            for f in self.pop.model.state_fields()
        }


@LAVA_NEURONS.register("fatrelu")
class LavaFATReLU(LavaNeurons):
    """FATReLU as :class:`~neuro.backends.lava.processes.FATReLUNeuron` (``v >= θ``)."""

    def build(self, biases, state, timing):
        from .processes import FATReLUNeuron

        if self.pop.model.clip is not None:
            raise BackendError(
                f"population {self.pop.name!r}: backend 'lava' has no FATReLU with an upper "
                "clip (ReLU6 / Hardtanh); run it on 'cpu', 'cores' or 'reference'."
            )
        theta = event_threshold(self.pop.model, self.pop.shape, np.float64)  # strict: next θ
        return FATReLUNeuron(
            shape=self.batch * self.pop.size,
            theta=self.tiled(theta),
            bias=biases["input"],
            **timing,
        )


@LAVA_NEURONS.register("maxpool")
class LavaMaxPool(LavaNeurons):
    """Max pooling has no Lava process: refused by name."""

    def build(self, biases, state, timing):
        raise BackendError(
            f"population {self.pop.name!r}: backend 'lava' has no max-pooling process; run "
            "networks with max pooling on 'cpu', 'cores' or 'reference'."
        )


@LAVA_NEURONS.register("readout")
class LavaReadout(LavaNeurons):
    """Readout as :class:`~neuro.backends.lava.processes.ReadoutNeuron`."""

    def build(self, biases, state, timing):
        from .processes import ReadoutNeuron

        accumulate = self.pop.model.accumulate
        v = state.get("v") if accumulate else None
        return ReadoutNeuron(
            shape=self.batch * self.pop.size,
            bias=biases["input"],
            accumulate=accumulate,
            v_init=None if v is None else np.asarray(v, dtype=np.float64).reshape(-1),
            **timing,
        )


@LAVA_NEURONS.register("egru")
class LavaEGRU(LavaNeurons):
    """EGRU as :class:`~neuro.backends.lava.processes.EGRUNeuron`.

    The process holds ``B H`` units and splits each ``3 B H`` port into the gate
    blocks z | r | g, so the entry of sample ``b`` that the model declares to feed gate
    ``gate`` of unit ``u`` (:meth:`~neuro.models.base.NeuronModel.port_entries`) sits at
    ``gate * B H + b H + u``.
    """

    def port_order(self, port):
        h, b = self.pop.size, self.batch
        unit, gate = self.pop.model.port_entries(port, h)
        sample = np.repeat(np.arange(b), unit.size)
        return np.tile(gate, b) * b * h + sample * h + np.tile(unit, b)

    def build(self, biases, state, timing):
        from .processes import EGRUNeuron

        c = state.get("c")
        return EGRUNeuron(
            hidden_size=self.batch * self.pop.size,
            theta=self.tiled(self.pop.model.threshold),
            bias_x=biases["input"],
            bias_r=biases["recurrent"],
            c_init=None if c is None else np.asarray(c, dtype=np.float64).reshape(-1),
            **timing,
        )

    def in_port(self, process, port):
        return process.a_in_input if port == "input" else process.a_in_recurrent
