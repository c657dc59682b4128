"""The import graph of bench, drawn with ``ast`` from every import statement (those inside
functions too): no cycle between modules, and the layers of ``[tool.importlinter]`` hold
(``lint-imports`` checks the same in CI; this test needs no extra package)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bench"


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Dotted names imported anywhere in ``tree`` except under ``if TYPE_CHECKING:``."""
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _type_checking(node)
            for n in ast.walk(node)}
    base = module.split(".") if is_package else module.split(".")[:-1]
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            head = ".".join(base[:len(base) - node.level + 1]) if node.level else ""
            mod = ".".join(p for p in (head, node.module or "") if p)
            out.update(f"{mod}.{a.name}" for a in node.names)
            out.add(mod)
    return out


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        targets = set()
        for imported in _imports(ast.parse(path.read_text(encoding="utf-8")), name,
                                 path.name == "__init__.py"):
            parts = imported.split(".")
            while parts and ".".join(parts) not in files:  # bench.x.func -> bench.x
                parts.pop()
            if parts and ".".join(parts) != name:
                targets.add(".".join(parts))
        graph[name] = targets
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path of modules, or None (depth-first search with colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_graph_sees_imports_inside_functions():
    """Independent check of the walker: a lazy import inside a function is an edge."""
    graph = _graph()
    assert "bench.api" in graph["bench"]  # bench/__init__.py imports it inside __getattr__


def test_no_import_cycle_between_modules():
    assert _cycle(_graph()) is None, " -> ".join(_cycle(_graph()) or [])


def test_no_import_against_the_layers():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in config["tool"]["importlinter"]["contracts"]
                    if c["type"] == "layers")
    rank = {}
    for i, layer in enumerate(contract["layers"]):
        for name in layer.split(":"):
            rank[f"bench.{name.strip()}"] = i

    def layer(module: str) -> int | None:
        parts = module.split(".")
        while parts:
            if ".".join(parts) in rank:
                return rank[".".join(parts)]
            parts.pop()
        return None

    upward = [f"{src} -> {dst}" for src, targets in _graph().items() for dst in targets
              if layer(src) is not None and layer(dst) is not None and layer(dst) < layer(src)]
    assert not upward
