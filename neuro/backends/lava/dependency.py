"""The check that lava-nc can run here, with the fix in the message."""

from __future__ import annotations

import importlib
import sys

from ...exceptions import MissingDependencyError

__all__ = ["require_lava"]

_FIX = (
    "Use a Python 3.10 environment and install it with: pip install 'neuro[lava]' "
    "(lava-nc==0.10.0 with numpy<2)."
)


def require_lava() -> None:
    """Raise :class:`MissingDependencyError` unless lava-nc 0.10 is importable.

    lava-nc 0.10.0 is the last release; it supports Python 3.10 with numpy < 2 only.
    """
    version = sys.version_info
    if (version[0], version[1]) >= (3, 11):
        raise MissingDependencyError(
            f"backend 'lava' needs lava-nc 0.10.0, which runs on Python 3.10 only; this is "
            f"Python {version[0]}.{version[1]}. {_FIX}"
        )
    try:
        _import_runtime()
        import lava.magma.core.run_configs  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            f"backend 'lava' needs the optional package 'lava-nc', which cannot be imported "
            f"({exc}). {_FIX}"
        ) from exc


def _import_runtime() -> None:
    """Import Lava's message infrastructure, which insists on setting the start method.

    On import it calls ``multiprocessing.set_start_method("fork")`` without ``force``,
    which fails once anything in the process has asked for the start method (numba's
    compilation does).  Lava's runtime needs "fork" anyway, so the method is reset
    before that one import.
    """
    import multiprocessing as mp

    name = "lava.magma.runtime.message_infrastructure.multiprocessing"
    if name not in sys.modules and mp.get_start_method(allow_none=True) is not None:
        mp.set_start_method(None, force=True)
    importlib.import_module(name)
