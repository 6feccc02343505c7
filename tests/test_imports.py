"""The import graph between mmdemo's modules has no circle, and ``import mmdemo`` is cheap.

The graph is built from the source (``ast``), not by importing anything, in two readings:

- module level: the imports that run when a module is imported (module-level statements,
  including those in module-level ``try`` / ``if`` blocks, not those under ``if TYPE_CHECKING:``
  and not those inside functions). A circle here can leave a module half-initialised: it is the
  circle that breaks imports.
- every import: module level plus function-level imports and ``if TYPE_CHECKING:`` imports. A
  circle here is a dependency circle that a deferred import only hides (two modules that need
  each other are one concept split in two, or a layer reaching up); the project allows none.

A third check folds each sub-package (``mmdemo.training.*``) into one node and finds circles
between sub-packages and top-level modules (every import counted): two sub-packages that import
each other are not layered, even when no single module pair forms a circle.

All readings count a package's ``__init__`` re-exports: ``from mmdemo.retrieval import X`` depends on
``mmdemo/retrieval/__init__.py`` and on whatever it imports; ``from pkg import sub`` where ``sub``
is a module depends on that module. Python's implicit import of a parent package (``mmdemo.a.b``
first imports ``mmdemo.a``) is not an edge: every package's re-export of its own children would
otherwise read as a circle. Imports by string (``importlib.import_module``, as the lazy root and
:func:`mmdemo.backends.backend_module` do) are not seen.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mmdemo"
HEAVY_OPTIONAL = ("faiss", "matplotlib", "gradio", "open_clip", "transformers")


def module_names(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted name -> file, for every module under ``package`` (default mmdemo/)."""
    names = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _every_import(tree: ast.Module):
    return (node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom)))


def _module_level_imports(body: list[ast.stmt]):
    """Import statements that run at import time (see the module docstring)."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _module_level_imports(node.body)
            yield from _module_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _module_level_imports(block)
        elif isinstance(node, (ast.With, ast.For, ast.While)):
            yield from _module_level_imports(node.body)


def _resolve_relative(module: str, path: Path, node: ast.ImportFrom) -> str:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def import_graph(package: Path = PACKAGE, *, deferred: bool = False) -> dict[str, set[str]]:
    """module -> the modules of ``package`` it imports at import time (``deferred``: or anywhere,
    function-level and ``TYPE_CHECKING`` imports included)."""
    modules = module_names(package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _every_import(tree) if deferred else _module_level_imports(tree.body):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _resolve_relative(name, path, node) if node.level else (node.module or "")
                # ``from pkg import sub`` imports the sub-module; ``from pkg import name`` the package.
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            graph[name].update(target for target in targets if target in modules and target != name)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan), each as one cycle
    through it (a path to follow), followed by the component's other members if any."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    cycles = []
    for component in components:
        cycle = _cycle_through(graph, set(component))
        cycles.append(cycle + [f"(also in this circle: {', '.join(sorted(set(component) - set(cycle)))})"]
                      if set(component) - set(cycle) else cycle)
    return cycles


def _cycle_through(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest path from the component's first module back to itself, inside the component."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & component):
                if target == start:
                    return paths[node] + [start]
                if target not in paths:
                    paths[target] = paths[node] + [target]
                    following.append(target)
        frontier = following
    return sorted(component)


def test_the_graph_sees_the_kinds_of_import_it_claims_to(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from pkg.sub import thing\n",  # a package re-export
        "sub/__init__.py": "from pkg.sub.leaf import thing\n",
        "sub/leaf.py": "import os\nthing = 1\n",
        "a.py": "from pkg import b\nfrom . import c\ntry:\n    import pkg.sub.leaf\nexcept ImportError:\n    pass\n",
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n",
        "c.py": "def late():\n    from pkg.a import x\n",
        "d.py": "from pkg import thing\n",  # a name, not a module: depends on the package
    }
    for name, text in files.items():
        (package / name).write_text(text)
    graph = import_graph(package)
    assert graph["pkg.a"] == {"pkg.b", "pkg.c", "pkg.sub.leaf"}
    assert graph["pkg.b"] == set() and graph["pkg.c"] == set()
    assert graph["pkg.d"] == {"pkg"} and graph["pkg"] == {"pkg.sub"} and graph["pkg.sub"] == {"pkg.sub.leaf"}
    assert find_cycles(graph) == []
    everything = import_graph(package, deferred=True)
    assert everything["pkg.b"] == {"pkg.a"} and everything["pkg.c"] == {"pkg.a"}
    assert find_cycles(everything) == [["pkg.a", "pkg.b", "pkg.a", "(also in this circle: pkg.c)"]]
    # and on mmdemo itself: the lazy root imports nothing at import time
    assert not import_graph()["mmdemo"]


def test_finding_cycles_reports_a_path():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"f"}, "f": {"e"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["e", "f", "e"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def _explain(cycles: list[list[str]]) -> str:
    return "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_no_import_cycles_at_module_level():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles (module-level imports):\n" + _explain(cycles)


def test_no_import_cycles_counting_deferred_imports():
    cycles = find_cycles(import_graph(deferred=True))
    assert not cycles, "import cycles (function-level and TYPE_CHECKING imports included):\n" + _explain(cycles)


def test_the_model_stack_is_layered():
    """base imports nothing of mmdemo above registry and errors; backends never import the API
    modules or the policy that use them, not even in a function."""
    graph = import_graph(deferred=True)
    assert graph["mmdemo.backends.base"] <= {"mmdemo.registry", "mmdemo.errors"}
    assert graph["mmdemo.registry"] <= {"mmdemo.errors"}
    above = {"mmdemo.loading", "mmdemo.presets", "mmdemo.generate", "mmdemo.encoders", "mmdemo.classify"}
    for name, targets in graph.items():
        if name.startswith("mmdemo.backends"):
            assert not targets & above, f"{name} imports {sorted(targets & above)}"


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """``graph`` with each sub-package's modules folded into the sub-package."""

    def fold(name: str) -> str:
        parts = name.split(".")
        is_sub_package = len(parts) == 2 and (PACKAGE / parts[1]).is_dir()
        return ".".join(parts[:2]) if len(parts) > 2 or is_sub_package else name

    folded: dict[str, set[str]] = {}
    for name, targets in graph.items():
        node = fold(name)
        folded.setdefault(node, set()).update(fold(t) for t in targets if fold(t) != node)
    return folded


def test_package_folding():
    folded = package_graph({"mmdemo.a.x": {"mmdemo.b.y", "mmdemo.a.z"}, "mmdemo.a.z": set(), "mmdemo.b.y": {"mmdemo.c"}})
    assert folded == {"mmdemo.a": {"mmdemo.b"}, "mmdemo.b": {"mmdemo.c"}}
    assert "mmdemo.backends" in package_graph(import_graph())["mmdemo.loading"]


def test_no_cycles_between_sub_packages():
    cycles = find_cycles(package_graph(import_graph(deferred=True)))
    assert not cycles, "circles between sub-packages (every import counted):\n" + _explain(cycles)


def _imported_after(statement: str) -> list[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_mmdemo_loads_no_heavy_optional_stack():
    loaded = set(_imported_after("import mmdemo"))
    heavy = [name for name in (*HEAVY_OPTIONAL, "torch") if name in loaded]
    assert not heavy, f"import mmdemo imported {heavy}"


def test_import_mmdemo_fusion_loads_neither_plots_nor_faiss():
    loaded = set(_imported_after("import mmdemo.fusion"))
    heavy = [name for name in HEAVY_OPTIONAL if name in loaded]
    assert not heavy, f"import mmdemo.fusion imported {heavy}"
