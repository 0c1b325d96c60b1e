"""The ``cpu`` backend: the CPU event scheduler."""

from .neurons import CPU_NEURONS, CpuNeurons
from .scheduler import CpuBackend
from .synapses import CPU_SYNAPSES

__all__ = ["CpuBackend", "CPU_NEURONS", "CPU_SYNAPSES", "CpuNeurons"]
