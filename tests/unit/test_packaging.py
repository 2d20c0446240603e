"""pyproject.toml ships every package and page asset (the wheel test installs the result)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from optaic_activity.api.page import ASSETS

ROOT = Path(__file__).resolve().parents[2]
NOT_SHIPPED = {"tests", "bench"}
"""Top-level packages of the repository that are not part of the framework."""


def _setuptools() -> dict[str, Any]:
    config: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    setuptools: dict[str, Any] = config["setuptools"]
    return setuptools


def _package_dirs() -> dict[str, Path]:
    return {name: ROOT / folder for name, folder in _setuptools()["package-dir"].items()}


def _import_name(folder: Path, package_dirs: dict[str, Path]) -> str:
    """The name a folder installs under: its nearest mapped ancestor's, plus the rest."""
    mapped = [(name, root) for name, root in package_dirs.items() if folder.is_relative_to(root)]
    name, root = max(mapped, key=lambda item: len(item[1].parts))
    return ".".join((name, *folder.relative_to(root).parts))


def _package_folders(root: Path) -> set[Path]:
    return {
        init.parent
        for init in root.rglob("__init__.py")
        if "node_modules" not in init.relative_to(root).parts
    }


def test_every_top_level_package_is_mapped_under_the_import_root() -> None:
    folders = {init.parent for init in ROOT.glob("*/__init__.py")} - {
        ROOT / name for name in NOT_SHIPPED
    }
    assert folders <= set(_package_dirs().values())
    assert all(name.partition(".")[0] == "optaic_activity" for name in _package_dirs())


def test_the_packages_list_is_exactly_the_folders_with_an_init() -> None:
    package_dirs = _package_dirs()
    found = {
        _import_name(folder, package_dirs)
        for root in package_dirs.values()
        for folder in _package_folders(root)
    }
    assert sorted(found) == sorted(_setuptools()["packages"])


def test_the_page_and_its_assets_are_package_data() -> None:
    data = set(_setuptools()["package-data"]["optaic_activity.web"])
    assert {"index.html", *(str(path) for path in ASSETS.values())} <= data
    assert "py.typed" in _setuptools()["package-data"]["optaic_activity"]
    assert (ROOT / "activity" / "py.typed").is_file()
