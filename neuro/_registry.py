"""A small name → class registry used for neuron models, weight operators and backends.

Serialisation is generic because every registered class carries a ``type`` key:
a file stores the key and the class's fields, and the registry finds the class again.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


class Registry:
    """Map names to objects, with optional lazy import paths.

    Parameters
    ----------
    kind : str
        What the registry holds, for error messages (e.g. ``"neuron model"``).
    error : type of Exception
        The exception raised for unknown names.
    """

    def __init__(self, kind: str, error: type[Exception]):
        self.kind = kind
        self.error = error
        self._items: dict[str, Any] = {}
        self._lazy: dict[str, str] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        """Decorator registering an object under ``name``."""

        def decorate(obj):
            self._items[name] = obj
            return obj

        return decorate

    def register_lazy(self, name: str, target: str) -> None:
        """Register ``"package.module:attribute"`` to be imported on first use."""
        self._lazy[name] = target

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return sorted(set(self._items) | set(self._lazy))

    def __contains__(self, name: str) -> bool:
        return name in self._items or name in self._lazy

    def get(self, name: str) -> Any:
        """Return the object registered under ``name``, importing it if needed."""
        if name not in self._items and name in self._lazy:
            module, _, attr = self._lazy[name].partition(":")
            self._items[name] = getattr(importlib.import_module(module), attr)
        try:
            return self._items[name]
        except KeyError:
            raise self.error(
                f"unknown {self.kind} {name!r}; known: {', '.join(self.names()) or 'none'}."
            ) from None
