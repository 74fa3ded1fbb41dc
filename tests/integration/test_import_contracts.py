"""The architecture's import contracts (pyproject.toml [tool.importlinter]) hold, and they catch a break.

`make lint` runs `lint-imports` too; here the suite fails on a broken layer as well, and a copy of the
packages with one forbidden import shows each contract is able to fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testing.repo import PROJECT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}  # one line per contract
    if pythonpath is not None:  # the copy under test, not the installed packages
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(cwd / "pyproject.toml")],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_code_keeps_every_import_contract() -> None:
    result = lint_imports(PROJECT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract", "chain"),
    [
        (
            "fiml_bot/tutor/engine.py",
            "from fiml_bot.services import schema",
            "fiml-bot's layers",
            "fiml_bot.tutor.engine -> fiml_bot.services.schema",
        ),
        (
            "fiml_bot/services/rescore.py",
            "import typer",
            "The services never import the command line or its framework",
            "fiml_bot.services.rescore -> typer",
        ),
        (
            "fiml_bot/ops/doctor.py",
            "from fiml_bot.cli import ops",
            "Only the entry point imports the command line",
            "fiml_bot.ops.doctor -> fiml_bot.cli.ops",
        ),
        (
            "fiml_bot/notify.py",
            "from fiml_bot import bootstrap",
            "Only entry points (the CLI, launch) import bootstrap",
            "fiml_bot.notify -> fiml_bot.bootstrap",
        ),
        (
            "fiml_bot/documents/files.py",
            "from fiml_bot.adapters import telegram",
            "Adapters to outside systems are chosen only where the bot is composed",
            "fiml_bot.documents.files -> fiml_bot.adapters.telegram",
        ),
        (
            "fiml_cms/lesson.py",
            "import fiml_bot.tutor.model",
            "fiml_cms (the content tool",
            "fiml_cms.lesson -> fiml_bot.tutor.model",
        ),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str, chain: str
) -> None:
    for package in ("fiml_bot", "fiml_cms"):
        shutil.copytree(
            PROJECT / package,
            tmp_path / package,
            symlinks=True,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    shutil.copy(PROJECT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(
        target.read_text(encoding="utf-8") + f"\n{line}  # the break under test\n", encoding="utf-8"
    )

    result = lint_imports(tmp_path, pythonpath=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert any(contract in row and row.endswith("BROKEN") for row in result.stdout.splitlines()), (
        result.stdout
    )
    assert chain in result.stdout
