"""Which of our packages may import which (docs/design.md): data flows fixtures -> pipeline -> harness
-> benchmarks, and the reports read what the harness wrote; no package cycle. Read from the source
(``ast``), so an import inside a function counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: package -> the packages of ours it may import (besides itself).
ALLOWED = {
    "costmodel": set(),
    "fixtures": set(),
    "pipeline": {"fixtures"},
    "emulation": {"fixtures", "pipeline"},
    "harness": {"fixtures", "pipeline", "emulation"},
    "benchmarks": {"harness", "fixtures", "pipeline", "emulation"},
    "reports": {"harness", "costmodel"},
    "tools": {"reports", "fixtures", "pipeline", "harness"},
}
#: (importing module, imported module) pairs the table does not allow yet, each with why it stays.
PENDING: set[tuple[str, str]] = set()


#: packages whose imports break the table, with where (their own restructuring fixes them).
BROKEN: dict[str, str] = {}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Absolute names ``module`` (its ``source``) imports: ``from a import b`` gives ``a.b``, relative
    imports resolved (``is_package``: the module is a package's ``__init__``)."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def _pending(module: str, name: str) -> bool:
    return any(module == m and (name == n or name.startswith(n + ".")) for m, n in PENDING)


def violations(package: str) -> list[tuple[str, str]]:
    """(module, imported name) pairs of ``package`` outside :data:`ALLOWED`."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        module = _module(path)
        for name in sorted(imports_of(path.read_text(), module, is_package=path.name == "__init__.py")):
            top = name.split(".")[0]
            if top in ALLOWED and top != package and top not in ALLOWED[package]:
                found.append((module, name))
    return found


@pytest.mark.parametrize("package", [
    pytest.param(p, marks=pytest.mark.xfail(p in BROKEN, reason=BROKEN.get(p, ""), strict=True))
    for p in sorted(ALLOWED) if (ROOT / p).is_dir()
])
def test_a_package_imports_only_what_the_table_allows(package):
    found = [pair for pair in violations(package) if not _pending(*pair)]
    assert not found, f"{package} imports outside {sorted(ALLOWED[package]) or 'none of ours'}: {found}"


def test_every_pending_import_is_still_there():
    """A pending pair that is gone must leave :data:`PENDING` (else the table's exceptions only grow)."""
    present = [pair for package in ALLOWED if (ROOT / package).is_dir() for pair in violations(package)]
    gone = [(m, n) for m, n in PENDING if not any(_pending(*pair) and pair[0] == m for pair in present)]
    assert not gone, f"no longer imported, remove from PENDING: {sorted(gone)}"


def test_imports_are_read_as_absolute_names():
    source = "import harness.plugin\nfrom . import paired as P\nfrom .store import load\nfrom fixtures.cache import cache_root\n"
    assert imports_of(source, "reports.cli") == {"harness.plugin", "reports.paired", "reports.store.load",
                                                 "fixtures.cache.cache_root"}
    assert imports_of("from . import cli\n", "reports", is_package=True) == {"reports.cli"}
    assert imports_of("from .. import x\n", "a.b.c") == {"a.x"}


def test_no_case_module_imports_another():
    """The case modules share their grid through benchmarks/grid.py, never through each other."""
    found = [(path.name, name) for path in sorted((ROOT / "benchmarks").glob("test_*.py"))
             for name in imports_of(path.read_text(), _module(path)) if name.startswith("benchmarks.test_")]
    assert not found, found


def test_the_paired_verdicts_import_no_runner():
    """reports/paired.py judges a measurement: of the harness it reads only the record's vocabulary, never
    the runner (subprocess, git, workers)."""
    path = ROOT / "reports" / "paired.py"
    ours = {n for n in imports_of(path.read_text(), "reports.paired") if n.split(".")[0] in ALLOWED}
    assert {n for n in ours if n.startswith("harness.")} <= {"harness.contract.CLOCKS"}, ours
