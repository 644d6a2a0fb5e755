"""The import graph of src/ points one way: no import cycle among src/ modules, and the library
never imports the experiment glue (src/experiments/), whose modules import the library.

Every ``import`` / ``from … import`` statement of every module counts, wherever it stands (top
level, inside a function, under ``if TYPE_CHECKING:``): a lazy import hides a cycle from the
interpreter, not from a reader. ``from pkg import name`` is an edge to ``pkg.name`` when that is a
module of src/, else to ``pkg``; the implicit import of a parent package is not an edge.

``python tests/test_imports.py`` prints the cycles and the forbidden imports with their lines.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

#: command-line front ends: they may call the experiment glue (CLI → glue → library), and
#: nothing but another entry point may import them
ENTRY_POINTS = {"src.color_transfer.cli", "src.color_transfer.__main__"}
GLUE = "src.experiments"


def module_names(src: Path = SRC) -> dict[str, Path]:
    """Dotted name → file of every module under ``src`` (packages by their ``__init__.py``)."""
    out = {}
    for path in sorted(src.rglob("*.py")):
        parts = ("src",) + path.relative_to(src).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_edges(src: Path = SRC) -> dict[str, dict[str, list[int]]]:
    """``{importer: {imported: [line, …]}}`` over the modules of ``src`` (imports of src/ only)."""
    modules = module_names(src)
    edges: dict[str, dict[str, list[int]]] = {name: {} for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    origin = ".".join(base + ([node.module] if node.module else []))
                else:
                    origin = node.module or ""
                targets = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in modules else origin for a in node.names]
            for target in targets:
                if target in modules and target != name:
                    lines = edges[name].setdefault(target, [])
                    if node.lineno not in lines:
                        lines.append(node.lineno)
    return edges


def cycles(edges: dict[str, dict[str, list[int]]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(edges) + 100))
    try:
        for v in sorted(edges):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return sorted(out)


def part_edges(edges) -> dict[str, dict[str, list[str]]]:
    """The graph of src/'s top-level parts (``src.fast.dense`` → ``src.fast``, ``src.icnn`` stays):
    ``{part: {part: ["file:line", …]}}``, without the entry points (they sit above the glue that
    imports their package's library modules)."""
    def part(name):
        return ".".join(name.split(".")[:2])

    out: dict[str, dict[str, list[str]]] = {}
    for a, targets in edges.items():
        if a in ENTRY_POINTS:
            continue
        out.setdefault(part(a), {})
        for b, at in targets.items():
            if b not in ENTRY_POINTS and part(b) != part(a):
                where = out[part(a)].setdefault(part(b), [])
                for line in at:
                    if f"{_rel(a)}:{line}" not in where:
                        where.append(f"{_rel(a)}:{line}")
    return out


def _rel(name: str) -> str:
    path = module_names()[name]
    return path.relative_to(SRC.parent).as_posix()


def describe_cycle(comp: list[str], edges) -> str:
    """The component's modules and each import between them, ``file:line -> module``."""
    lines = [f"import cycle among {len(comp)} modules: {', '.join(comp)}"]
    for a in comp:
        for b, at in sorted(edges[a].items()):
            if b in comp:
                lines.append(f"    {_rel(a)}:{','.join(map(str, at))} imports {b}")
    return "\n".join(lines)


def describe_part_cycle(comp: list[str], parts) -> str:
    lines = [f"import cycle between the parts {', '.join(comp)} of src/ (packages taken whole)"]
    for a in comp:
        for b, where in sorted(parts[a].items()):
            if b in comp:
                lines.append(f"    {a} imports {b} at {'; '.join(where)}")
    return "\n".join(lines)


def forbidden_imports(edges) -> list[str]:
    """Imports of the glue from the library and of an entry point from outside the entry points."""
    out = []
    for a, targets in sorted(edges.items()):
        in_glue = a == GLUE or a.startswith(GLUE + ".")
        for b, at in sorted(targets.items()):
            where = f"{_rel(a)}:{','.join(map(str, at))} imports {b}"
            if not in_glue and a not in ENTRY_POINTS and (b == GLUE or b.startswith(GLUE + ".")):
                out.append(f"library module {a} imports the experiment glue: {where}")
            if b in ENTRY_POINTS and a not in ENTRY_POINTS:
                out.append(f"{a} imports the command-line entry point {b}: {where}")
    return out


def report() -> str:
    edges = import_edges()
    parts = part_edges(edges)
    found = [describe_cycle(c, edges) for c in cycles(edges)]
    found += [describe_part_cycle(c, parts) for c in cycles(parts)]
    return "\n".join(found + forbidden_imports(edges))


# ------------------------------------------------------------------------------ tests
def test_the_walker_sees_every_kind_of_import(tmp_path):
    pkg = tmp_path / "src"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("from . import b\n")
    (pkg / "sub" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..c import X\n")
    (pkg / "c.py").write_text("def f():\n    import src.a\n    from src.sub.b import y\n")
    edges = import_edges(pkg)
    assert edges["src.a"] == {"src.sub.b": [1]}
    assert edges["src.sub"] == {"src.sub.b": [1]}          # `from . import b`: the module, not the package
    assert edges["src.sub.b"] == {"src.c": [3]}            # under TYPE_CHECKING
    assert edges["src.c"] == {"src.a": [2], "src.sub.b": [3]}   # inside a function
    assert cycles(edges) == [["src.a", "src.c", "src.sub.b"]]
    assert cycles({"x": {"y": [1]}, "y": {}}) == []


def test_no_import_cycle_in_src():
    edges = import_edges()
    found = cycles(edges)
    assert not found, "\n" + "\n".join(describe_cycle(c, edges) for c in found)


def test_no_import_cycle_between_the_packages_of_src():
    parts = part_edges(import_edges())
    found = cycles(parts)
    assert not found, "\n" + "\n".join(describe_part_cycle(c, parts) for c in found)


def test_the_library_does_not_import_the_experiments():
    bad = forbidden_imports(import_edges())
    assert not bad, "\n" + "\n".join(bad)


if __name__ == "__main__":
    text = report()
    print(text or "no import cycle, no forbidden import in src/")
    sys.exit(1 if text else 0)
