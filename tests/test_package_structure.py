"""The package's layout: subpackages by concern, no import cycles (imports inside functions
included), and a planning part the Snakefile can import without the heavy libraries."""

import ast
from pathlib import Path

import fsdd_pipeline

PACKAGE = Path(fsdd_pipeline.__file__).parent


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path, name):
    """The fsdd_pipeline modules a module imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            # "from package import module" imports the module.
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {m for m in found if m.startswith("fsdd_pipeline")}


def import_graph():
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {m for m in _imported(path, name) if m in modules and m != name}
        for name, path in modules.items()
    }


def find_cycle(graph):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state:
                cycle = visit(target, stack)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node, [])
            if cycle:
                return cycle
    return None


def test_the_package_has_no_import_cycle():
    assert find_cycle(import_graph()) is None, " -> ".join(find_cycle(import_graph()))


def test_the_cycle_check_finds_a_cycle_through_a_function_level_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_at_most_a_dozen_modules_stand_at_the_top_level():
    top = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert len(top) <= 12, top
    for sub in (p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()):
        assert ast.get_docstring(ast.parse((sub / "__init__.py").read_text())), sub.name


def test_planning_imports_nothing_outside_planning_but_the_basics():
    graph = import_graph()
    basics = {"fsdd_pipeline", "fsdd_pipeline.errors", "fsdd_pipeline.io", "fsdd_pipeline.planning"}
    for name, targets in graph.items():
        if name.startswith("fsdd_pipeline.planning"):
            outside = {t for t in targets if not t.startswith("fsdd_pipeline.planning.")} - basics
            assert not outside, (name, outside)
