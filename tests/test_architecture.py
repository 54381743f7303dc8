"""The structure the code promises (README, "Architecture"): no import cycles, and each
shared thing defined in exactly one module. Read from the source with ``ast``, so imports
inside functions count as much as those at the top."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("annotator", "gui", "triangulation", "machine_labeler", "pose_net", "torch_common",
            "atomic_files")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def _resolve(name: str) -> str | None:
    """The longest of our modules that ``name`` (a dotted import target) names or lies in."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, tree: ast.AST) -> set[str]:
    """Our modules that ``module`` imports anywhere (top level or inside functions)."""
    found = set()
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            # "from pkg import name" may import the submodule pkg.name
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for t in targets:
            hit = _resolve(t)
            if hit is not None and hit != module:
                found.add(hit)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.append(top)
                        if top == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module, tree in TREES.items():
        # A package's __init__ importing its own submodules (re-exports) is not a cycle of
        # the code; a submodule importing its package's __init__ back is what would be one.
        graph[module] = {m for m in _imports(module, tree)
                         if not (MODULES[module].name == "__init__.py"
                                 and m.startswith(module + "."))}
    return graph


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_modules():
    graph = _graph()
    assert sum(len(v) for v in graph.values()) > 500  # the walk sees the code's imports
    assert "annotator.store.store_labels" in graph["annotator.session.model"]
    assert _cycles(graph) == []


def _top_level_defs() -> dict[str, list[str]]:
    where = defaultdict(list)
    for module, tree in TREES.items():
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                where[node.name].append(module)
    return where


@pytest.mark.parametrize("name,home", [
    ("fold_batchnorm", "torch_common.batchnorm_fold"),
    ("build_efficientnet", "torch_common.efficientnet"),
    ("efficientnet_stages", "torch_common.efficientnet"),
    ("init_distributed", "torch_common.distributed"),
    ("pick_device", "torch_common.distributed"),
    ("any_rank", "torch_common.distributed"),
    ("load_torch_file", "torch_common.weights_file"),
    ("invert_affine", "annotator.images"),
    ("apply_affine", "annotator.images"),
    ("read_image_bgr", "annotator.images"),
    ("try_read_image_bgr", "annotator.images"),
    ("is_project", "annotator.store.layout"),
    ("CliError", "annotator.cli.support"),
    ("atomic_write_bytes", "atomic_files"),
])
def test_shared_things_are_defined_once(name, home):
    assert _top_level_defs()[name] == [home]


def _calls(attr: str) -> set[str]:
    """Modules calling ``<something>.attr(...)`` or ``attr(...)``."""
    out = set()
    for module, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
                if name == attr:
                    out.add(module)
    return out


@pytest.mark.parametrize("call,home", [
    ("init_process_group", "torch_common.distributed"),
    ("all_reduce", "torch_common.distributed"),
    ("imdecode", "annotator.images"),
    ("imread", None),  # every image file is read as bytes and decoded in annotator.images
    ("from_name", "torch_common.efficientnet"),  # EfficientNet.from_name
])
def test_shared_steps_happen_in_one_module(call, home):
    assert _calls(call) == ({home} if home else set())


def _string_constants(value: str) -> set[str]:
    """Modules whose code (not docstrings) holds the string ``value``."""
    out = set()
    for module, tree in TREES.items():
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef,
                                        ast.AsyncFunctionDef))
                      and n.body and isinstance(n.body[0], ast.Expr)
                      and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and node.value == value
                    and id(node) not in docstrings):
                out.add(module)
    return out


@pytest.mark.parametrize("name", ["project.toml", "labels.h5", "cameras.toml", "frames.h5",
                                  "propagated.h5", "ground_truth.h5"])
def test_project_file_names_are_spelled_in_the_store_layout_only(name):
    assert _string_constants(name) == {"annotator.store.layout"}


def test_commands_are_entry_points_of_the_installed_package():
    import tomllib

    from annotator.cli.main import commands

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][
        "annotator.commands"]
    found = commands()
    assert set(found) == set(declared) and len(found) >= 18
    for name, module in found.items():
        assert module.__name__ == declared[name]
        assert isinstance(module.ORDER, int)
    # the command layer neither imports nor names (in its code) an upper package: it finds them
    tree = TREES["annotator.cli.main"]
    assert not any(m.split(".")[0] in ("gui", "machine_labeler", "pose_net")
                   for m in _imports("annotator.cli.main", tree))
    strings = [n.value for n in ast.walk(tree)
               if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert not [s for s in strings if s.startswith(("gui.", "machine_labeler.", "pose_net."))]
