"""The suite's layout rules: every test module sits in a tier, and none imports another test module
(shared helpers live in `testing/`, shared fixtures in a conftest)."""

from __future__ import annotations

import ast
from pathlib import Path

from testing.repo import PROJECT

TESTS = PROJECT / "tests"
TIERS = ("unit", "integration", "e2e")


def python_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if p.name != "__init__.py")


def imported_test_modules(path: Path) -> list[str]:
    """The test modules (or conftest files) `path` imports, relatively or by their `tests.` name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level or module == "tests" or module.startswith("tests."):
                found.append("." * node.level + module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "tests"]
    return found


def test_no_test_module_imports_another() -> None:
    offenders = {
        p.relative_to(PROJECT).as_posix(): names
        for p in python_files()
        if (names := imported_test_modules(p))
    }
    assert offenders == {}, "move what they share into testing/ (helpers) or a conftest (fixtures)"


def test_every_test_module_is_in_a_tier() -> None:
    outside = [
        p.relative_to(PROJECT).as_posix()
        for p in python_files()
        if p.name.startswith("test_") and p.relative_to(TESTS).parts[0] not in TIERS
    ]
    assert outside == [], "put each under tests/unit, tests/integration or tests/e2e (README, Tests)"


def test_the_rule_sees_an_import_of_a_test_module(tmp_path: Path) -> None:
    module = tmp_path / "test_x.py"
    module.write_text(
        "from .test_webhook import InProcess\nimport tests.bot.driver\nfrom testing.repo import git\n",
        encoding="utf-8",
    )
    assert imported_test_modules(module) == [".test_webhook", "tests.bot.driver"]
