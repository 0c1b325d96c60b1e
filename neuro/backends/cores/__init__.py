"""The ``cores`` backend: simulated neuromorphic cores with per-core counts, latency
and energy from a hardware profile (see :mod:`neuro.hardware`)."""

from .backend import CoresBackend
from .counters import COUNTERS
from .quantize import Quantization

__all__ = ["CoresBackend", "COUNTERS", "Quantization"]
