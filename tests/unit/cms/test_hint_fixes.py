"""Issue 27: every hint that names what to write, followed literally, fixes what it is about.

Each invalid example of docs/rules.md (tests/examples/invalid) is copied into a fresh repository; every
finding whose hint names an edit carries it as a `fix`; `fiml-cms validate --fix` applies them
mechanically, and validating again no longer reports those findings.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from testing.cli import cli
from testing.repo import PROJECT

EXAMPLES = PROJECT / "tests" / "examples" / "invalid"
#: Phrases of hints that name the exact text to write: each such finding must carry a fix.
CONCRETE_HINTS = ("did you mean", "write it in quotes", "quote a value that contains", "or fix the id")
LESSON_ID = re.compile(r"^[a-z][a-z0-9_]{2,63}$")


def _examples() -> list[Path]:
    return sorted(p for p in EXAMPLES.iterdir() if p.suffix == ".yaml" or p.is_dir())


def _place(example: Path, root: Path) -> None:
    lessons, paths = root / "content" / "lessons", root / "content" / "paths"
    lessons.mkdir(parents=True)
    paths.mkdir(parents=True)
    (root / ".fiml-cms.toml").write_text("# defaults\n", encoding="utf-8")
    if example.is_dir():
        for kind, target in (("lessons", lessons), ("paths", paths)):
            if (example / kind).is_dir():
                shutil.copytree(example / kind, target, dirs_exist_ok=True)
        return
    text = example.read_bytes().decode("utf-8", errors="replace")
    name = re.search(r"^# file: (\S+)$", text, re.M)
    found = re.search(r"^id: ([a-z0-9_]+)\s*$", text, re.M)
    stem = (
        name.group(1)
        if name
        else (f"{found.group(1)}.yaml" if found and LESSON_ID.match(found.group(1)) else example.name)
    )
    shutil.copyfile(example, lessons / stem)


def _findings() -> list[dict]:
    return json.loads(cli("validate", "--format", "json").stdout)["findings"]


@pytest.mark.parametrize("example", _examples(), ids=lambda p: p.name)
def test_each_named_fix_applied_literally_removes_its_finding(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "repo"
    _place(example, root)
    monkeypatch.chdir(root)
    before = _findings()
    for finding in before:
        if any(phrase in finding["message"] for phrase in CONCRETE_HINTS):
            assert "fix" in finding, f"a hint names an edit but carries no fix: {finding}"
    fixable = [f for f in before if "fix" in f]
    if not fixable:
        return
    result = cli("validate", "--fix")
    assert result.exception is None or isinstance(result.exception, SystemExit)
    after = {(f["code"], f["file"], f["path"]) for f in _findings()}
    for finding in fixable:
        assert (finding["code"], finding["file"], finding["path"]) not in after, (
            f"following the hint did not fix it: {finding}"
        )


def test_some_examples_do_carry_fixes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The parametrized test above is not vacuous: the rules with named edits are among the examples."""
    codes = set()
    for example in _examples():
        root = tmp_path / example.name
        _place(example, root)
        monkeypatch.chdir(root)
        codes |= {f["code"] for f in _findings() if "fix" in f}
    assert {"FIML001", "FIML021", "FIML022", "FIML030", "FIML037", "FIML043"} <= codes
