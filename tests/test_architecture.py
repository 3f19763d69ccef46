"""The package's architecture, read from its source with ``ast``: rooms, one-way imports, one home
for each physical constant.

Imports run one way (``../shared/DESIGN.md``): layers, demo → propagation → coverage →
calibration → siting → maps, report → config → pipeline → cli; ``grid``, ``errors``,
``defaults``, ``constants``, ``text`` (and ``_version``) are the ground floor every room may use.
Function-level and ``TYPE_CHECKING`` imports count like any other: a cycle hidden inside a
function is still a cycle.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lomsong"

#: Floor of each room; a module may import modules on its own floor or below, never above.
FLOORS: dict[str, int] = {
    "lomsong._version": 0,
    "lomsong.constants": 0,
    "lomsong.defaults": 0,
    "lomsong.errors": 0,
    "lomsong.grid": 0,
    "lomsong.text": 0,
    "lomsong.layers": 1,
    "lomsong.demo": 1,
    "lomsong.propagation": 2,
    "lomsong.coverage": 3,
    "lomsong.calibration": 4,
    "lomsong.siting": 5,
    "lomsong.maps": 6,
    "lomsong.report": 6,
    "lomsong.config": 7,
    "lomsong.pipeline": 8,
    "lomsong.cli": 9,
    "lomsong": 10,  # the package root re-exports the public API
}

#: Names that say "physical constant", and values that are one, outside ``constants.py``.
CONSTANT_NAME = re.compile(
    r"^_?(C|C0|(?i:speed_of_light\w*|\w*earth_radius\w*|k_factor|\w*boltzmann\w*|\w*planck\w*|"
    r"a0_m|a9000_m|gamma_a))$"
)
CONSTANT_VALUES = (299_792_458.0, 6_371_000.0, 6_371.0, 6_370_000.0, 9_000_000.0, 157e-9,
                   1.380649e-23, 8_494_666.67)  # fmt: skip


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _floor(module: str) -> int:
    rooms = [p for p in FLOORS if module == p or module.startswith(p + ".")]
    best = max(rooms, key=len, default=None)
    assert best is not None, f"{module} is in no room of FLOORS: add it to the architecture"
    return FLOORS[best]


def _imports(module: str, path: Path) -> list[tuple[str, int]]:
    """Every lomsong module ``module`` imports (anywhere in the file), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                (a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "lomsong"
            ]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.split(".")[0] != "lomsong":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((sub if sub in MODULES else base, node.lineno))
    return found


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def test_every_module_has_a_room():
    for module in MODULES:
        _floor(module)


def test_imports_run_one_way():
    wrong = []
    for module, targets in GRAPH.items():
        for target, line in targets:
            if target not in MODULES:
                wrong.append(f"{module}:{line} imports {target}, which does not exist")
            elif _floor(target) > _floor(module):
                wrong.append(f"{module}:{line} imports {target} (floor {_floor(target)} above "
                             f"its own {_floor(module)})")  # fmt: skip
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_the_package_root():
    wrong = [f"{m}:{line}" for m, targets in GRAPH.items() for t, line in targets
             if t == "lomsong" and m != "lomsong"]  # fmt: skip
    assert not wrong, "import lomsong's submodules, not the root: " + ", ".join(wrong)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a self-import (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    graph = {m: {t for t, _ in targets if t in MODULES} for m, targets in GRAPH.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def _is_constant_value(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return any(math.isclose(float(value), c, rel_tol=1e-9) for c in CONSTANT_VALUES)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "lomsong.constants"))
def test_physical_constants_live_in_constants_py(module):
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    wrong = []
    for node in tree.body:  # module level: where constants are defined
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for t in targets:
            if isinstance(t, ast.Name) and CONSTANT_NAME.match(t.id):
                wrong.append(f"line {node.lineno}: {t.id} defined here")
    for node in ast.walk(tree):  # anywhere: the value itself, typed in again
        if isinstance(node, ast.Constant) and _is_constant_value(node.value):
            wrong.append(f"line {node.lineno}: the literal {node.value!r}")
    assert not wrong, f"{module}: take physical constants from lomsong.constants: {wrong}"


def test_the_constant_check_sees_a_stray_constant():
    tree = ast.parse("SPEED_OF_LIGHT = 299_792_458.0\nx = 2 * 6_371_000.0\n")
    names = [n.targets[0].id for n in ast.walk(tree) if isinstance(n, ast.Assign)]
    assert CONSTANT_NAME.match(names[0])
    literals = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    assert sum(map(_is_constant_value, literals)) == 2
