"""The domain imports only the standard library, pydantic and eventsourcing's domain layer.

import-linter sees third-party packages only by their top-level name, so it cannot tell
``eventsourcing.domain`` from ``eventsourcing.persistence``: this test reads the imports.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import optaic_activity.domain

ALLOWED_THIRD_PARTY = ("pydantic", "eventsourcing.domain", "eventsourcing.utils")
DOMAIN_DIR = Path(optaic_activity.domain.__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def allowed(module: str) -> bool:
    top = module.partition(".")[0]
    return (
        top in sys.stdlib_module_names
        or module == "optaic_activity.domain"
        or module.startswith("optaic_activity.domain.")
        or any(module == ok or module.startswith(ok + ".") for ok in ALLOWED_THIRD_PARTY)
    )


def test_every_domain_module_imports_only_what_the_domain_may_use() -> None:
    files = sorted(DOMAIN_DIR.rglob("*.py"))
    assert len(files) > 10
    offending = {
        str(path.relative_to(DOMAIN_DIR)): sorted(
            m for m in imported_modules(path) if not allowed(m)
        )
        for path in files
    }
    assert {name: mods for name, mods in offending.items() if mods} == {}


def test_the_check_refuses_persistence_and_other_layers() -> None:
    assert not allowed("eventsourcing.persistence")
    assert not allowed("eventsourcing.application")
    assert not allowed("optaic_activity.projections.database")
    assert not allowed("sqlalchemy")
    assert allowed("eventsourcing.domain")
    assert allowed("typing")
