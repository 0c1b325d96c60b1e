"""Which converter handles which model.

Two tables:

* model converters — whole models with their own structure (e.g. an EGRU language
  model), matched by a predicate on the model object, tried first;
* module converters — one small mapping function per module type (or per
  :class:`ModuleMatcher`, a named predicate for modules recognised by their
  attributes), used by the generic graph converter (``converters.torch_graph``)
  for feed-forward models;
* function converters — the same for the functions and tensor methods a traced
  ``forward`` calls (``operator.add``, ``torch.flatten``, ``"view"``, ...).

A module mapping function has the signature
``func(ctx, module, x, name) -> Value``: ``ctx`` is the
:class:`converters.graph_builder.GraphBuilder` of the network being built, ``x``
the symbolic :class:`~converters.graph_builder.Value` the module receives and
``name`` the module's path in the model.  It returns the module's output, built
with ``ctx.apply`` (a weight operator), ``ctx.scale`` (a per-unit affine map),
``ctx.population`` (a population with a neuron model) or ``ctx.reshape``.

Converters register themselves with the decorators below; ``converters`` imports
the modules that hold them lazily, so ``import neuro`` never imports torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

__all__ = [
    "MODEL_CONVERTERS",
    "MODULE_CONVERTERS",
    "FUNCTION_CONVERTERS",
    "CONVERTER_MODULES",
    "ModuleMatcher",
    "register_model_converter",
    "register_module_converter",
    "register_function_converter",
    "find_model_converter",
    "find_module_converter",
    "load_converters",
]

# (name, predicate(model) -> bool, convert(model, **options) -> Network)
MODEL_CONVERTERS: list[tuple[str, Callable, Callable]] = []
# module class (or a ModuleMatcher) -> mapping function; filled by converters.torch_modules
MODULE_CONVERTERS: dict = {}
# function object or "method:<name>" -> handler(ctx, node, args, kwargs) -> Value or constant
FUNCTION_CONVERTERS: dict = {}
# modules imported on first use so that their converters register themselves
CONVERTER_MODULES = [
    "converters.torch_graph",
    "converters.egru",
    "converters.egru_sequence",
    "converters.kwta",
    "converters.sas",
]
# converter modules needing these are skipped when they are not installed
OPTIONAL_DEPENDENCIES = ("torch", "sklearn")
_loaded = False


def register_model_converter(name: str, predicate: Callable[[object], bool]):
    """Decorator: ``convert(model, **options) -> Network`` for models matching ``predicate``."""

    def decorate(func):
        MODEL_CONVERTERS.append((name, predicate, func))
        return func

    return decorate


class ModuleMatcher:
    """A named predicate on modules, for modules recognised by their attributes.

    Parameters
    ----------
    name : str
        How the supported-modules list names the matched modules.
    predicate : callable
        ``predicate(module) -> bool``.
    """

    def __init__(self, name: str, predicate: Callable[[object], bool]):
        self.__name__ = name
        self.predicate = predicate

    def __call__(self, module) -> bool:
        return bool(self.predicate(module))

    def __repr__(self) -> str:
        return f"ModuleMatcher({self.__name__!r})"


def register_module_converter(*module_types):
    """Decorator: mapping function for the given module classes or ModuleMatchers."""

    def decorate(func):
        for t in module_types:
            MODULE_CONVERTERS[t] = func
        return func

    return decorate


def register_function_converter(*targets):
    """Decorator: handler for functions (objects) or tensor methods (``"method:view"``)."""

    def decorate(func):
        for t in targets:
            FUNCTION_CONVERTERS[t] = func
        return func

    return decorate


def find_module_converter(module):
    """The mapping function for ``module``: by class (most derived first), then by matcher.

    A subclass that overrides ``forward`` is never mapped by its base class: the mapping
    describes the base's computation, not the subclass's.  The graph converter traces
    into such a module instead and recognises what its ``forward`` computes (or names
    the operations it cannot convert).
    """
    forward = getattr(type(module), "forward", None)
    for cls in type(module).__mro__:
        if cls in MODULE_CONVERTERS:
            if getattr(cls, "forward", None) is forward:
                return MODULE_CONVERTERS[cls]
            break  # forward overridden below the registered class: not by type
    for key, func in MODULE_CONVERTERS.items():
        if isinstance(key, ModuleMatcher) and key(module):
            return func
    return None


def load_converters() -> None:
    """Import every converter module that exists (each registers itself)."""
    global _loaded
    if _loaded:
        return
    for module in CONVERTER_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            missing = (exc.name or "").split(".")[0]
            if exc.name != module and missing not in OPTIONAL_DEPENDENCIES:
                raise  # a real missing dependency inside the module
    _loaded = True


def find_model_converter(model):
    """The first registered whole-model converter accepting ``model``, or None."""
    load_converters()
    for _, predicate, func in MODEL_CONVERTERS:
        if predicate(model):
            return func
    return None
