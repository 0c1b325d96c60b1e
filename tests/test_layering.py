"""The core never imports the converters or the applications above it.

The core packages (``ir``, ``models``, ``backends``, ``audit``, ``io``, ``hardware``) are
read as source and every ``import`` statement in them is checked, including the lazy
ones inside functions: a core module that reached up into ``converters``,
``neuro.apps`` or the command line would make the layers a cycle again.
(``neuro.run(..., client=...)`` hands a batch to :mod:`neuro.distributed`, which runs the
same backends on workers; that one dispatch goes sideways, not up.)
"""

import ast
from pathlib import Path

import pytest

NEURO = Path(__file__).resolve().parents[1] / "neuro"
CORE = ("ir", "models", "backends", "audit", "io", "hardware")
ABOVE = ("converters", "neuro.apps", "neuro.cli")
MAX_LINES = 600


def _imports(path):
    """Absolute module names imported by one file (relative imports resolved)."""
    package = ".".join(path.relative_to(NEURO.parent).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def _core_files():
    return sorted(f for pkg in CORE for f in (NEURO / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: str(p.relative_to(NEURO)))
def test_core_module_imports_nothing_above_it(path):
    above = sorted(
        {m for m in _imports(path) if any(m == a or m.startswith(a + ".") for a in ABOVE)}
    )
    assert not above, f"{path.relative_to(NEURO.parent)} imports {above}"


def test_relative_imports_are_resolved():
    """The checker itself: ``base.py`` imports ``..distributed`` lazily, seen as absolute."""
    names = set(_imports(NEURO / "backends" / "base.py"))
    assert "neuro.distributed.run" in names, sorted(names)


def test_no_module_over_600_lines():
    long = {
        str(f.relative_to(NEURO.parent)): n
        for f in NEURO.rglob("*.py")
        if (n := len(f.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"
