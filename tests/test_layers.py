"""The package's layer contract, and no process-wide change at import.

Every module of ``serendip`` belongs to a layer, named by its top-level name (the
first component after ``serendip.``); a module may import from its own layer or
below, never from above. The checks:

* static: every ``serendip`` import in the source (module level, inside functions,
  under ``if TYPE_CHECKING:``, relative ones resolved) points to the importer's
  layer or below;
* the graph between top-level names (the entry points left out) has no cycle;
* every module imports on its own, first, in a fresh interpreter: an import cycle
  that a lucky import order hides elsewhere shows up here;
* importing serendip and the parallel tasks leaves numba's threading layer alone;
  the tasks select it when built.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

LAYERS: dict[str, int] = {
    **dict.fromkeys(
        [
            "errors",
            "rng",
            "registry",
            "request",
            "novelty",
            "pareto",
            "policies",
            "tasks",
            "archives",
        ],
        0,
    ),
    **dict.fromkeys(
        [
            "behavior",
            "exploration",
            "exploitation",
            "emitters",
            "schedulers",
            "evaluation",
            "metrics",
        ],
        1,
    ),
    "algorithms": 2,
    "experiment": 3,
    "search": 3,
    "analysis": 4,
    # The entry points: the package's ``__init__`` may import anything.
    **dict.fromkeys(["cli", "__main__", "__init__"], 5),
}
"""Layer of each top-level name, bottom (0) to top; names with no module yet are fine."""

ENTRY_POINTS = frozenset({"__init__", "cli", "__main__"})
"""Left out of the cycle check: they sit on top and import everything."""

OPTIONAL_PACKAGES = ("mujoco", "ray", "gymnasium", "tensorboardX")
"""Extras: a module may fail to import for want of one only where it is not installed."""

NOT_IMPORTED = {"serendip.__main__": "runs the command line when imported"}
"""Modules the fresh-import check leaves out (their imports are still checked statically)."""

PACKAGE_DIR = Path(importlib.util.find_spec("serendip").origin).parent  # type: ignore[arg-type, union-attr]


def _modules() -> dict[str, Path]:
    """Every module of the package (dotted name -> file), from the files themselves."""
    modules = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        if not all(part.isidentifier() for part in parts):
            continue  # __pycache__, stray files: nothing importable
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _top(module: str) -> str:
    """``serendip.a.b`` -> ``a``; the package itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    target: str  # dotted name of the serendip module imported from
    line: int
    where: str  # "module level", "lazy" (inside a function), or "TYPE_CHECKING"

    @property
    def location(self) -> str:
        path = MODULES[self.importer].relative_to(PACKAGE_DIR.parent)
        return f"{path}:{self.line}"

    def __str__(self) -> str:
        return (
            f"{self.location}: {self.importer} [{_top(self.importer)}, layer "
            f"{LAYERS.get(_top(self.importer))}] imports {self.target} [{_top(self.target)}, "
            f"layer {LAYERS.get(_top(self.target))}] ({self.where})"
        )


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.imports: list[Import] = []
        self._function_depth = 0
        self._type_checking_depth = 0

    def _where(self) -> str:
        if self._type_checking_depth:
            return "TYPE_CHECKING"
        return "lazy" if self._function_depth else "module level"

    def _add(self, target: str, node: ast.stmt | ast.expr) -> None:
        if target == "serendip" or target.startswith("serendip."):
            self.imports.append(Import(self.module, target, node.lineno, self._where()))

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self._function_depth += 1
        self.generic_visit(node)
        self._function_depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self._type_checking_depth += 1
            for child in node.body:
                self.visit(child)
            self._type_checking_depth -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        for alias in node.names:
            # ``from serendip.x import y``: y is a submodule of x, or a name in x.
            submodule = f"{source}.{alias.name}"
            self._add(submodule if submodule in MODULES else source, node)

    def visit_Call(self, node: ast.Call) -> None:
        """``importlib.import_module("serendip.x")``: a literal name counts as an import."""
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
        if (
            name in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            self._add(node.args[0].value, node)
        self.generic_visit(node)


def _imports() -> list[Import]:
    found = []
    for module, path in MODULES.items():
        collector = _ImportCollector(module, path.name == "__init__.py")
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        found.extend(collector.imports)
    return found


IMPORTS = _imports()


def test_the_package_is_found() -> None:
    assert "serendip" in MODULES and "serendip.tasks.base" in MODULES, sorted(MODULES)
    assert any(i.where == "lazy" for i in IMPORTS), "lazy imports are collected"


def test_every_top_level_name_has_a_layer() -> None:
    unknown = sorted({_top(m) for m in MODULES} - LAYERS.keys())
    missing = sorted(str(i) for i in IMPORTS if _top(i.target) not in LAYERS)
    assert not unknown and not missing, (
        f"top-level names with no layer in tests/test_layers.py: {unknown}\n" + "\n".join(missing)
    )


def test_no_module_imports_from_a_higher_layer() -> None:
    violations = [
        str(i)
        for i in IMPORTS
        if _top(i.importer) in LAYERS
        and _top(i.target) in LAYERS
        and LAYERS[_top(i.target)] > LAYERS[_top(i.importer)]
    ]
    message = f"{len(violations)} import(s) from a higher layer:\n" + "\n".join(violations)
    assert not violations, message


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(edges.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
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

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def test_cycles_helper() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_top_level_graph_has_no_cycle() -> None:
    edges: dict[str, set[str]] = {}
    for i in IMPORTS:
        source, target = _top(i.importer), _top(i.target)
        if source != target and not {source, target} & ENTRY_POINTS:
            edges.setdefault(source, set()).add(target)
    report = []
    for component in _cycles(edges):
        members = set(component)
        report.append(f"cycle between {', '.join(component)}:")
        report.extend(
            f"  {i}"
            for i in IMPORTS
            if _top(i.importer) in members
            and _top(i.target) in members
            and _top(i.importer) != _top(i.target)
        )
    assert not report, "\n".join(report)


_FRESH_IMPORTS = textwrap.dedent(
    """
    import importlib, importlib.util, json, sys, time, traceback
    modules, entry, optional = (json.loads(arg) for arg in sys.argv[1:4])
    results = {}
    for name in modules:
        for key in [k for k in sys.modules if k == "serendip" or k.startswith("serendip.")]:
            del sys.modules[key]
        if name not in entry:
            # serendip/__init__.py imports nearly everything, in one fixed order, before
            # any submodule: with it, every module would be imported second. A bare
            # package (its __path__, not its code) lets the module come first.
            spec = importlib.util.find_spec("serendip")
            sys.modules["serendip"] = importlib.util.module_from_spec(spec)
        start = time.perf_counter()
        try:
            importlib.import_module(name)
        except BaseException as error:
            missing = getattr(error, "name", None) or ""
            top = missing.partition(".")[0]
            if (isinstance(error, ModuleNotFoundError) and top in optional
                    and importlib.util.find_spec(top) is None):
                results[name] = {"skipped": f"{top} is not installed"}
                continue
            stack = traceback.extract_tb(error.__traceback__)
            frames = [  # the package's frames, and where the error was raised
                f"{frame.filename.rpartition('/src/')[2]}:{frame.lineno}"
                for i, frame in enumerate(stack)
                if "/serendip/" in frame.filename or i == len(stack) - 1
            ]
            results[name] = {"error": f"{type(error).__name__}: {error}", "chain": frames}
        else:
            results[name] = {"seconds": time.perf_counter() - start}
    print("RESULTS " + json.dumps(results))
    """
)


def _fresh_python(code: str, *args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )


def test_every_module_imports_first_in_a_fresh_interpreter(tmp_path: Path) -> None:
    modules = [m for m in MODULES if m not in NOT_IMPORTED]
    entry = [m for m in modules if _top(m) in ENTRY_POINTS]
    arguments = (json.dumps(x) for x in (modules, entry, OPTIONAL_PACKAGES))
    done = _fresh_python(_FRESH_IMPORTS, *arguments, tmp_path=tmp_path)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULTS ")]
    assert done.returncode == 0 and lines, done.stdout[-4000:] + done.stderr[-4000:]
    results = json.loads(lines[-1].removeprefix("RESULTS "))
    assert sorted(results) == sorted(modules)
    failures = [
        f"{name}: {result['error']}\n    import chain: {' -> '.join(result['chain'])}"
        for name, result in results.items()
        if "error" in result
    ]
    assert not failures, (
        f"{len(failures)} module(s) fail when imported first in a fresh interpreter:\n"
        + "\n".join(failures)
    )


_THREADING_LAYER = textwrap.dedent(
    """
    import numba
    import serendip, serendip.tasks.maze, serendip.tasks.curling
    assert numba.config.THREADING_LAYER == "default", numba.config.THREADING_LAYER
    serendip.make_task("maze")
    assert numba.config.THREADING_LAYER == "workqueue", numba.config.THREADING_LAYER
    print("OK")
    """
)


def test_importing_serendip_leaves_numba_threading_layer_alone(tmp_path: Path) -> None:
    """The layer is process-wide: the tasks choose it when built, not when imported."""
    done = _fresh_python(_THREADING_LAYER, tmp_path=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == "OK", done.stdout + done.stderr


_UNPICKLED_TASK = textwrap.dedent(
    """
    import pickle, sys
    import numba, numpy as np
    import serendip.tasks.curling
    task = pickle.loads(bytes.fromhex(sys.argv[1]))
    assert numba.config.THREADING_LAYER == "default", numba.config.THREADING_LAYER
    task.evaluate(np.zeros((2, task.spec.genome_size)))
    assert numba.threading_layer() == "workqueue", numba.threading_layer()
    print("OK")
    """
)


def test_an_unpickled_task_selects_the_layer_before_its_kernel(tmp_path: Path) -> None:
    """Workers get the task unpickled (no constructor): its first batch still uses workqueue."""
    import pickle

    from serendip.tasks import make_task

    payload = pickle.dumps(make_task("curling")).hex()
    done = _fresh_python(_UNPICKLED_TASK, payload, tmp_path=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == "OK", done.stdout + done.stderr
