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


# Optional heavy dependencies: importing them costs seconds (torch, transformers, ...), so a
# module that does not need them at import time defers them to the function that does.
HEAVY = {"torch", "transformers", "sentence_transformers", "sklearn", "matplotlib", "mteb",
         "datasets", "onnxruntime", "optimum", "playwright", "statsmodels", "huggingface_hub",
         "safetensors", "tokenizers"}


def _function_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports below module level, except under ``if TYPE_CHECKING:``."""
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _type_checking(node)
            for n in ast.walk(node)}
    top = {id(n) for n in tree.body}
    top |= {id(s) for n in tree.body if isinstance(n, ast.Try) for s in n.body}
    return [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)
            and id(n) not in skip and id(n) not in top]


def _module_level_heavy(graph_files: dict[str, Path]) -> dict[str, set[str]]:
    """For each module, the heavy packages it imports at module level, transitively."""
    direct: dict[str, set[str]] = {}
    deps: dict[str, set[str]] = {}
    for name, path in graph_files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        body = list(tree.body) + [s for n in tree.body if isinstance(n, ast.Try) for s in n.body]
        level = ast.Module(body=[n for n in body if isinstance(n, ast.Import | ast.ImportFrom)],
                           type_ignores=[])
        names = _imports(level, name, path.name == "__init__.py")
        direct[name] = {n.split(".")[0] for n in names} & HEAVY
        deps[name] = set()
        for imported in names:
            parts = imported.split(".")
            while parts and ".".join(parts) not in graph_files:
                parts.pop()
            if parts and ".".join(parts) != name:
                deps[name].add(".".join(parts))
    out: dict[str, set[str]] = {}

    def heavy(name: str, seen: frozenset[str]) -> set[str]:
        if name in out:
            return out[name]
        found = set(direct[name])
        for dep in deps[name] - seen:
            found |= heavy(dep, seen | {name})
        out[name] = found
        return found

    for name in graph_files:
        heavy(name, frozenset())
    return out


def test_imports_inside_functions_only_defer_a_named_heavy_dependency():
    """An import inside a function is allowed only for an optional heavy dependency, named in
    a ``# heavy: <package>`` comment on the import, and the claim must hold: the import
    reaches that package (directly, or through a bench module that imports it at module
    level) while the importing module does not import it at module level itself. Everything
    else belongs at the top of the module (the graph has no cycle, so nothing forces it down).
    The lazy public API of ``bench/__init__`` is exempt."""
    files = {_module(p): p for p in PACKAGE.rglob("*.py")}
    heavy = _module_level_heavy(files)
    problems = []
    for name, path in sorted(files.items()):
        if name == "bench":
            continue
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in _function_level_imports(ast.parse(source)):
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            text = " ".join(lines[node.lineno - 1:node.end_lineno])
            claimed = text.split("# heavy:", 1)[1].split()[0] if "# heavy:" in text else None
            if claimed is None:
                problems.append(f"{where}: {ast.unparse(node)} (no '# heavy: <package>')")
                continue
            reached = set()
            for imported in _imports(ast.Module(body=[node], type_ignores=[]), name,
                                     path.name == "__init__.py"):
                reached |= {imported.split(".")[0]} & HEAVY
                parts = imported.split(".")
                while parts and ".".join(parts) not in files:
                    parts.pop()
                if parts:
                    reached |= heavy[".".join(parts)]
            if claimed not in reached or claimed in heavy[name]:
                problems.append(f"{where}: {ast.unparse(node)} does not defer {claimed}")
    assert not problems, "\n".join(problems)
