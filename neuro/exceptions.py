"""Typed errors raised by neuro.

Every error says *what* is wrong, *where* (the population, projection, file or
argument by name) and, where there is one, *what to do*.  All derive from
:class:`NeuroError`, so ``except neuro.NeuroError`` catches everything the
library raises on purpose.
"""

from __future__ import annotations

__all__ = [
    "NeuroError",
    "ValidationError",
    "ShapeError",
    "PortError",
    "CycleError",
    "ParameterError",
    "InputError",
    "FileFormatError",
    "PathError",
    "ConversionError",
    "ConversionMismatchError",
    "CapacityError",
    "ResourceError",
    "BackendError",
    "MissingDependencyError",
    "DataError",
    "NumericalError",
    "NonFiniteWarning",
]


class NeuroError(Exception):
    """Base class of every error raised by neuro."""


class ValidationError(NeuroError, ValueError):
    """A network, population or projection breaks a rule of the IR."""


class ShapeError(ValidationError):
    """Array or population shapes do not fit together."""


class PortError(ValidationError):
    """A projection targets a port its post-synaptic population does not have."""


class CycleError(ValidationError):
    """Zero-delay projections form a cycle (they must form a DAG within a step)."""


class ParameterError(ValidationError):
    """A parameter is out of its allowed range (NaN, inf, negative threshold, ...)."""


class InputError(NeuroError, ValueError):
    """Inputs given to a run do not match the network's input populations."""


class FileFormatError(NeuroError, OSError):
    """A file is missing, truncated, corrupt, of a foreign format or a wrong version."""


class PathError(NeuroError, OSError):
    """A path cannot be written: its directory is missing or read-only, or it is a directory."""


class ConversionError(NeuroError, TypeError):
    """A model (e.g. a torch module) cannot be converted into a network."""


class ConversionMismatchError(ConversionError):
    """A converted network's outputs differ from the source model's forward."""


class CapacityError(NeuroError):
    """A population does not fit on the cores of a hardware profile."""


class ResourceError(NeuroError, MemoryError):
    """A run, a mapping or a buffer would need more memory than the budget allows.

    Raised before anything is allocated; the message says how much is needed, the
    budget, and what to change (``record_steps="last"``, fewer steps per chunk, ...).
    """


class BackendError(NeuroError):
    """A backend name is unknown or a backend cannot run a network."""


class MissingDependencyError(NeuroError, ImportError):
    """An optional dependency is not installed; the message names the extra."""


class DataError(NeuroError, OSError):
    """A data set is missing or damaged; the message says where it is expected."""


class NumericalError(NeuroError, FloatingPointError):
    """A run produced non-finite values (inf, NaN) from finite inputs and weights."""


class NonFiniteWarning(UserWarning):
    """Like :class:`NumericalError`, when a backend is told to warn instead of raising."""


def require(module: str, extra: str, purpose: str):
    """Import an optional dependency or fail with a message naming the extra.

    Parameters
    ----------
    module : str
        Importable module name, e.g. ``"torch"``.
    extra : str
        Name of the ``pip install neuro[extra]`` extra that provides it.
    purpose : str
        What needs the module, for the message (e.g. ``"the torch converter"``).

    Returns
    -------
    module
        The imported module.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised in envs without extras
        raise MissingDependencyError(
            f"{purpose} needs the optional package {module!r}, which is not installed. "
            f"Install it with: pip install 'neuro[{extra}]'"
        ) from exc
