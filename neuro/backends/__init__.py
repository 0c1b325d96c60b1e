"""Backends, chosen by name: ``reference``, ``cpu``, ``cores``, ``lava``."""

from .base import BACKENDS, Backend, RunInputs, RunResult, prepare_inputs, run

__all__ = ["BACKENDS", "Backend", "RunInputs", "RunResult", "prepare_inputs", "run"]
