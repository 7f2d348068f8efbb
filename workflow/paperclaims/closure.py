"""Code hashes that follow the imports: a step's hash covers every ``paperclaims`` module its code
imports, transitively (read from the source, never by importing it: the Snakefile stays torch-free),
plus the modules that run every step (runner, io, checkpoint, ...). Editing a module reruns exactly
the steps whose closure holds it.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT_PACKAGE = PACKAGE.name  # "paperclaims"
# Every step runs inside the runner (which writes datasets through io and checkpoints).
STEP_RUNNER = "paperclaims.runner"
STEP_SCRIPT = PACKAGE.parent / "scripts" / "step.py"


def module_file(module: str) -> Path | None:
    """The source file of ``paperclaims.x.y`` (module or package), or None outside the package."""
    parts = module.split(".")
    if parts[0] != ROOT_PACKAGE:
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _parents(module: str) -> list[str]:
    """'paperclaims.claims.x.train' → the packages Python imports first."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """``paperclaims`` modules named by the import statements in ``source`` (any depth, inside
    functions too: a lazy import still runs)."""
    found = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in _statements(ast.parse(source).body):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            # `from paperclaims.claims.x import train` imports the submodule train
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {m for m in found if module_file(m) is not None}


def _statements(body: list):
    """Every statement, nested ones too (imports are statements: expressions need no visit)."""
    for node in body:
        yield node
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            yield from _statements(getattr(node, name, []) or [])


@functools.cache
def _imports_of(module: str) -> frozenset[str]:
    path = module_file(module)
    return frozenset(imported_modules(path.read_text(), module, path.name == "__init__.py"))


@functools.cache
def closure(module: str) -> tuple[Path, ...]:
    """Source files of ``module`` and of everything it imports from the package, transitively."""
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        path = module_file(name)
        if name in seen or path is None:
            continue
        seen[name] = path
        todo += _parents(name)
        todo += _imports_of(name)
    return tuple(sorted(set(seen.values())))


def notebook_modules(notebook: Path) -> set[str]:
    """``paperclaims`` modules the code cells of a notebook import."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    found = set()
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        found |= imported_modules("\n".join(lines), f"{ROOT_PACKAGE}.notebook")
    return found


def files_hash(paths) -> str:
    """Content hash of files, each named relative to the package (a moved checkout keeps it)."""
    digest = hashlib.sha256()
    for path in sorted(set(map(Path, paths))):
        digest.update(str(_relative(path)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _relative(path: Path) -> Path:
    try:
        return path.resolve().relative_to(PACKAGE.parent)
    except ValueError:
        return Path(path.name)


def step_files(target: str) -> tuple[Path, ...]:
    """Files a step ("module:function") depends on: its module's closure and the runner's."""
    module = target.partition(":")[0]
    return tuple(sorted({*closure(module), *closure(STEP_RUNNER), STEP_SCRIPT}))


def step_hash(target: str) -> str:
    return files_hash(step_files(target))


def notebook_files(notebook: Path, runner_target: str) -> tuple[Path, ...]:
    """A plot step's files: the notebook, what it imports, and what executes it."""
    files = {Path(notebook), *step_files(runner_target)}
    for module in notebook_modules(notebook):
        files.update(closure(module))
    return tuple(sorted(files))
