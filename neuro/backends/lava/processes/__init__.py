"""Lava Processes and floating-point ProcessModels used by neuro's Lava backend.

Needs ``lava-nc`` (0.10.0, Python 3.10, numpy < 2).  Every class here is
parameterised by plain numpy / scipy arrays and depends on nothing else in neuro.
Run them with ``Loihi2SimCfg(select_tag="floating_pt")``.

Timing (Lava's ``LoihiProtocol``, time steps numbered from 1): the source sends row
``k`` of its data at time step ``k + 1``; every synapse hop (``Dense``, ``Sparse``,
:class:`CountingDense`, :class:`CountingSparse`) adds one time step, plus its
``latency``.  A neuron ``d`` hops away from the source is created with ``delay=d``
and handles logical step ``k`` at time step ``k * stride + 1 + d`` (``stride`` 1 by
default); a sink connected straight to it stores that value at buffer index
``k + d``.  Run ``T + D`` steps for a network of depth ``D`` (``stride = 1``).
``neuro.backends.lava.schedule`` works these numbers out for a whole network.

This directory must contain only Lava process modules: when Lava searches for a
Process's models it executes every ``.py`` file of the directory.
"""

from neuro.backends.lava.processes.egru import EGRUNeuron, PyEGRUNeuronModel
from neuro.backends.lava.processes.fatrelu import FATReLUNeuron, PyFATReLUNeuronModel
from neuro.backends.lava.processes.readout import PyReadoutNeuronModel, ReadoutNeuron
from neuro.backends.lava.processes.source import GradedSource, PyGradedSourceModel
from neuro.backends.lava.processes.synapse import (
    CountingDense,
    CountingSparse,
    PyCountingDenseModel,
    PyCountingSparseModel,
)

__all__ = [
    "CountingDense",
    "CountingSparse",
    "EGRUNeuron",
    "FATReLUNeuron",
    "GradedSource",
    "PyCountingDenseModel",
    "PyCountingSparseModel",
    "PyEGRUNeuronModel",
    "PyFATReLUNeuronModel",
    "PyGradedSourceModel",
    "PyReadoutNeuronModel",
    "ReadoutNeuron",
]
