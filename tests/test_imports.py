"""How the project's files import one another: no circle, and ``import nn`` loads only the
core (file formats and memory settings load when first used)."""
import ast
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Folders whose files import each other by bare name (each puts itself on sys.path).
FLAT = ("tests", "benchmarks", "tools")


def project_modules():
    """{module name: file} of every Python file of the project, as Python would name it."""
    modules = {}
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")) and d != "runs")
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
            if parts[0] in FLAT:
                parts = parts[1:]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imports_of(name, path, modules):
    """The project modules that file ``path`` (module ``name``) imports, anywhere in it.

    ``import a.b`` and ``from a import b`` name a.b when it is a module, else a. A package's
    __init__ is not counted as imported by the imports of its own submodules (Python
    initialises it before them)."""
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def find_circle(graph):
    """One cycle of ``graph`` ({node: set of nodes}) as a list of nodes, or None."""
    state = {}
    for start in sorted(graph):
        if start in state:
            continue
        stack, path = [(start, iter(sorted(graph[start])))], [start]
        state[start] = "open"
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = "done"
            elif state.get(child) == "open":
                return path[path.index(child):] + [child]
            elif child not in state:
                state[child] = "open"
                stack.append((child, iter(sorted(graph.get(child, ())))))
                path.append(child)
    return None


def test_no_two_files_import_each_other_even_through_others():
    modules = project_modules()
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    assert {"nn.functional", "nn.tensor"} <= graph["nn.fast.layers"] | graph["nn.functional"]
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle)


def test_the_circle_finder_finds_a_circle():
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def loaded_by(statement):
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    return set(out.split())


def test_import_nn_loads_no_file_format_and_no_memory_setting():
    loaded = loaded_by("import nn")
    assert {"nn.tensor", "nn.functional", "nn.modules", "nn.optim", "nn.fast"} <= loaded
    for lazy in ("nn.pth", "nn.serialization", "nn.state", "nn.memory", "matplotlib", "PIL",
                 "cupy"):
        assert lazy not in loaded, f"import nn loaded {lazy}"
    # ... and each loads on first use, under the name it always had
    assert "nn.pth" in loaded_by("import nn; nn.load_pth")
    assert "nn.serialization" in loaded_by("import nn; nn.save")
    assert "nn.state" in loaded_by("import nn; nn.state.check_state_dict")
