"""Converters from trained models (PyTorch modules, EvNN and sparseml checkpoints) to
:class:`neuro.Network`.  PyTorch is imported only when a torch model is converted."""

from .api import RUNNERS, convert, convert_and_run
from .registry import (
    register_function_converter,
    register_model_converter,
    register_module_converter,
)

__all__ = [
    "RUNNERS",
    "convert",
    "convert_and_run",
    "register_function_converter",
    "register_model_converter",
    "register_module_converter",
]
