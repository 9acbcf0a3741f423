"""The layout's rules, read from the source: imports run one way, with no cycle (lazy imports
included), only the CLI imports the command modules and the training loop, and no module
outside grokjax.store spells a run directory's file name. The layers are those of
grokjax/__init__.py's docstring; an ast walk over grokjax/ finds every import."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "grokjax"

# Layers from the bottom up: a module may import its own layer and the layers below it.
LAYERS = [
    ("leaves", ["grokjax.errors", "grokjax.modular", "grokjax.numerics", "grokjax.compilation",
                "grokjax.groups", "grokjax.signals"]),
    ("store", ["grokjax.store"]),
    ("models", ["grokjax.models"]),
    ("probes", ["grokjax.probes"]),
    ("core", ["grokjax.tasks", "grokjax.data", "grokjax.config", "grokjax.optim",
              "grokjax.transfer", "grokjax.sharding", "grokjax.grid", "grokjax.program",
              "grokjax.experiment", "grokjax.summary", "grokjax.saved",
              "grokjax.memory"]),
    ("monitor", ["grokjax.monitor"]),
    ("circuits", ["grokjax.circuits"]),
    ("run", ["grokjax.run"]),
    ("launch", ["grokjax.launch"]),
    ("report", ["grokjax.report"]),
    ("cli", ["grokjax.cli", "grokjax.__main__", "grokjax"]),
]
COMMANDS = {"grokjax.report.plot", "grokjax.report.probe", "grokjax.report.describe",
            "grokjax.report.collect", "grokjax.report.reproduce", "grokjax.report.circuits",
            "grokjax.launch.command", "grokjax.report.compare"}


def module_name(path: pathlib.Path) -> str:
    parts = ("grokjax",) + path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: pathlib.Path) -> set[str]:
    """Every grokjax module `path` imports, at the top or inside a function; `from grokjax.x
    import y` counts as importing grokjax.x.y when that is a module, else grokjax.x."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("grokjax")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("grokjax"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.add(sub if sub in MODULES else node.module)
    return out


FILES = sorted(ROOT.rglob("*.py"))
MODULES = {module_name(f) for f in FILES}
GRAPH = {module_name(f): imports(f) - {module_name(f)} for f in FILES}


def layer(module: str) -> int:
    """A module's layer: the longest prefix that names it (the package itself, `grokjax`,
    only by its exact name, so that a module no layer lists is an error, not the top)."""
    best = None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or (prefix != "grokjax" and module.startswith(prefix + ".")):
                if best is None or len(prefix) > best[1]:
                    best = (rank, len(prefix))
    assert best is not None, f"{module} is in no layer of tests/test_layout.py"
    return best[0]


def test_every_module_has_a_layer_and_a_docstring():
    for f in FILES:
        layer(module_name(f))
        tree = ast.parse(f.read_text())
        assert ast.get_docstring(tree), f"{f} has no module docstring"


def test_imports_run_one_way():
    upward = [f"{m} ({LAYERS[layer(m)][0]}) imports {i} ({LAYERS[layer(i)][0]})"
              for m, deps in GRAPH.items() for i in deps
              if i in MODULES and layer(i) > layer(m)]
    assert not upward, "\n".join(upward)


def test_leaves_import_only_the_error_type():
    for m in LAYERS[0][1]:
        assert GRAPH[m] <= {"grokjax.errors"}, (m, GRAPH[m])


def test_no_import_cycle():
    def visit(node, path, done):
        if node in path:
            cycle = path[path.index(node):] + [node]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if node in done:
            return
        for dep in sorted(GRAPH.get(node, ())):
            visit(dep, path + [node], done)
        done.add(node)

    done: set[str] = set()
    for module in sorted(GRAPH):
        visit(module, [], done)


def test_only_the_cli_imports_the_command_modules():
    assert COMMANDS <= MODULES
    for m, deps in GRAPH.items():
        if m != "grokjax.cli":
            assert not deps & COMMANDS, f"{m} imports the command module(s) {deps & COMMANDS}"


def test_only_the_cli_imports_the_training_loop():
    """Readers of finished runs open them with grokjax.saved; the loop, its signal handler
    and its checkpoint writer stay out of their imports (and a notebook's)."""
    importers = sorted(m for m, deps in GRAPH.items() if "grokjax.run" in deps)
    assert importers == ["grokjax.cli"], importers


def test_circuits_sit_below_the_training_loop():
    assert layer("grokjax.circuits") < layer("grokjax.run")


def _file_names() -> set[str]:
    """The run directory's file names, as grokjax.store.files spells them."""
    tree = ast.parse((ROOT / "store" / "files.py").read_text())
    return {node.value.value for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str) and node.targets[0].id.isupper()
            and "{" not in node.value.value}


def _spelled(source: str, names: set[str]) -> list[str]:
    """Where `source` spells a run directory's file name: a string that is one of the names
    with a dot ('summary.json', '.lock'), or any of them joined to a path (`run / "tb"`)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and node.value in names and "." in node.value:
            found.append(f"{node.lineno}: {node.value!r}")
        elif (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
              and isinstance(node.right, ast.Constant) and node.right.value in names
              and "." not in node.right.value):
            found.append(f"{node.lineno}: / {node.right.value!r}")
    return found


def test_only_the_store_spells_run_directory_file_names():
    names = _file_names()
    spelled = [f"{f.relative_to(ROOT.parent)}:{hit}" for f in FILES
               if f.relative_to(ROOT).parts[0] != "store"
               for hit in _spelled(f.read_text(), names)]
    assert not spelled, "\n".join(spelled)


def test_the_file_name_check_finds_spelled_names():
    names = _file_names()
    assert {"config.json", "history.npz", "summary.json", "run.json", "tb"} <= names
    assert len(_spelled('x = run / "summary.json"\ny = run / "tb"\n', names)) == 2
    assert not _spelled('"""summary.json holds ..."""\nentry["probes"] = 1\n', names)


def test_a_module_in_no_layer_is_reported():
    with pytest.raises(AssertionError, match="in no layer"):
        layer("grokjax.newthing")


def test_the_walk_sees_lazy_imports():
    """The CLI imports its commands inside functions: the walk must see them."""
    assert COMMANDS <= GRAPH["grokjax.cli"]
