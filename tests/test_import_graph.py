"""The package layout holds: no module imports another that (transitively) imports it back."""

from __future__ import annotations

import ast
import os

from twisted.trial.unittest import SynchronousTestCase

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "stoad")


def _module_name(path: str) -> str:
    relative = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
    return relative[: -len(".__init__")] if relative.endswith(".__init__") else relative


def _top_level_imports(path: str, modules: set[str]) -> set[str]:
    """stoad modules imported when C{path} is imported (not under TYPE_CHECKING, not in a
    function): each C{from a.b import c} counts as a.b, and as a.b.c when that is a module."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found: set[str] = set()
    nodes = list(tree.body)
    while nodes:
        node = nodes.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            nodes.extend(node.orelse)
            continue
        if isinstance(node, (ast.If, ast.Try)):
            nodes.extend(node.body + node.orelse + getattr(node, "finalbody", []))
            for handler in getattr(node, "handlers", []):
                nodes.extend(handler.body)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in modules}


def import_graph() -> dict[str, set[str]]:
    paths = {}
    for folder, _, names in os.walk(ROOT):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                paths[_module_name(path)] = path
    modules = set(paths)
    graph = {}
    for module, path in paths.items():
        edges = _top_level_imports(path, modules)
        # Importing a.b.c runs a/__init__ and a/b/__init__ first.
        for name in list(edges):
            parts = name.split(".")
            edges.update(".".join(parts[:i]) for i in range(2, len(parts)) if ".".join(parts[:i]) in modules)
        # A module's own ancestor packages are imported before it, never because of it.
        parts = module.split(".")
        edges -= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


class ImportGraphTests(SynchronousTestCase):
    def test_no_import_cycles(self) -> None:
        """stoad's module-level imports form no cycle (config never imports the runtime)."""
        graph = import_graph()
        self.assertIn("stoad.config._load", graph)
        self.assertIsNone(find_cycle(graph))

    def test_config_does_not_import_the_runtime(self) -> None:
        """Reading configuration imports nothing from stoad.runtime or stoad.daemon, not even
        inside a function (as it once did, the two importing each other)."""
        for name in os.listdir(os.path.join(ROOT, "config")):
            if name.endswith(".py"):
                with open(os.path.join(ROOT, "config", name), encoding="utf-8") as f:
                    tree = ast.parse(f.read())
                for node in ast.walk(tree):
                    if isinstance(node, ast.ImportFrom) and node.module:
                        self.assertFalse(node.module.startswith(("stoad.runtime", "stoad.daemon")),
                                         f"config/{name} imports {node.module}")
        graph = import_graph()
        seen, todo = set(), ["stoad.config"]
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(graph.get(module, ()))
        self.assertEqual({m for m in seen if m.startswith(("stoad.runtime", "stoad.daemon"))}, set())

    def test_a_cycle_would_be_found(self) -> None:
        """The cycle finder reports a two-module cycle (the check can fail)."""
        self.assertEqual(find_cycle({"a": {"b"}, "b": {"a"}}), ["a", "b", "a"])
