"""Which converter handles which model.

Two tables:

* model converters — whole models with their own structure (e.g. an EGRU language
  model), matched by a predicate on the model object, tried first;
* module converters — one small mapping function per module type, used by the
  generic graph converter (``converters.torch_graph``) for feed-forward models.

Converters register themselves with the decorators below; ``converters`` imports
the modules that hold them lazily, so ``import neuro`` never imports torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from neuro.exceptions import ConversionError

__all__ = [
    "MODEL_CONVERTERS",
    "MODULE_CONVERTERS",
    "CONVERTER_MODULES",
    "register_model_converter",
    "register_module_converter",
    "find_model_converter",
    "load_converters",
]

# (name, predicate(model) -> bool, convert(model, **options) -> Network)
MODEL_CONVERTERS: list[tuple[str, Callable, Callable]] = []
# module class (or a predicate name) -> mapping function; filled by converters.torch_graph
MODULE_CONVERTERS: dict = {}
# modules imported on first use so that their converters register themselves
CONVERTER_MODULES = [
    "converters.torch_graph",
    "converters.egru",
    "converters.kwta",
    "converters.sas",
]
_loaded = False


def register_model_converter(name: str, predicate: Callable[[object], bool]):
    """Decorator: ``convert(model, **options) -> Network`` for models matching ``predicate``."""

    def decorate(func):
        MODEL_CONVERTERS.append((name, predicate, func))
        return func

    return decorate


def register_module_converter(*module_types):
    """Decorator: mapping function for the given module classes (graph converter)."""

    def decorate(func):
        for t in module_types:
            MODULE_CONVERTERS[t] = func
        return func

    return decorate


def load_converters() -> None:
    """Import every converter module that exists (each registers itself)."""
    global _loaded
    if _loaded:
        return
    for module in CONVERTER_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a real missing dependency inside the module
                raise
    _loaded = True


def find_model_converter(model):
    """The first registered whole-model converter accepting ``model``, or None."""
    load_converters()
    for _, predicate, func in MODEL_CONVERTERS:
        if predicate(model):
            return func
    return None


def unsupported(path: str, module) -> ConversionError:
    """The error for a module no converter handles, listing what is supported."""
    names = sorted(getattr(t, "__name__", str(t)) for t in MODULE_CONVERTERS)
    whole = sorted(name for name, _, _ in MODEL_CONVERTERS)
    return ConversionError(
        f"cannot convert module {path!r} of type {type(module).__name__}; supported modules: "
        f"{', '.join(names)}; whole models: {', '.join(whole) or 'none'}."
    )
