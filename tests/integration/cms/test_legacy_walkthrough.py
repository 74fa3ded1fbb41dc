"""Issue 22: the README's "Migrating an existing lesson repository", step by step, on the real legacy
repository in ../shared/corpus/fiml-lessons.bundle (cloned into tmp_path; its text is never copied).

The reproduction: the documented path validated cleanly, but `check --base HEAD~1` reported 15 x FIML065
and 5 x FIML066 (files paired only by git's rename detection, legacy bases parsed with the current
schema), `upgrade --rename` did not write the `replaces` `--from-history` advised, `tag --from-history`
said nothing about versions whose text changed later, and the bot logged a hint that exits 2.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from testing.cli import cli
from testing.repo import PROJECT, git

BUNDLE = PROJECT.parent / "shared/corpus/fiml-lessons.bundle"
if not BUNDLE.is_file():  # the worktree layout: /work/wt/<name>/tests -> /work/shared
    BUNDLE = Path("/work/shared/corpus/fiml-lessons.bundle")


@pytest.fixture
def legacy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if not BUNDLE.is_file():
        pytest.skip(f"the legacy corpus is not here: {BUNDLE}")
    root = tmp_path / "fiml-lessons"
    git(tmp_path, "clone", "-q", str(BUNDLE), str(root))
    monkeypatch.chdir(root)
    return root


def commit(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


def test_the_documented_migration_passes_its_own_gate(legacy: Path, tmp_path: Path) -> None:
    original = git(legacy, "rev-parse", "HEAD")
    # 1. Say where the lessons are, commit.
    (legacy / ".fiml-cms.toml").write_text('lessons = "."\n', encoding="utf-8")
    commit(legacy, "fiml-cms settings")
    # 2. Tag the history; versions whose text changed later under the same number are reported.
    preview = cli("tag", "--from-history", "--dry-run")
    assert preview.exit_code == 0, preview.output
    changed = re.findall(r"^changed: (\w+) 1\.0\.0's text changed", preview.output, re.M)
    assert sorted(changed) == ["investment_planning_001", "tax_strategy_001"]
    later = re.search(r"--at tax_strategy_001@1\.0\.0=(\w+)", preview.output)
    assert later is not None
    tagged = cli("tag", "--from-history", "--last-text")
    assert tagged.exit_code == 0, tagged.output
    assert "26 tag(s) created, 10 rename(s), 0 problem(s)" in tagged.output
    # The tag holds the text its authors left, not the first draft.
    assert git(legacy, "rev-parse", "lesson/tax_strategy_001/v1.0.0^{commit}").startswith(later.group(1))
    # 3. Remove the stray duplicate `validate` reports, commit; upgrade and rename, commit.
    git(legacy, "rm", "-q", "stock_basics_002.yaml")
    commit(legacy, "Remove a stray placeholder duplicating stock_basics_002")
    upgraded = cli("upgrade", "--rename")
    assert upgraded.exit_code == 0, upgraded.output
    assert "20 file(s): 20 upgraded" in upgraded.output
    text = (legacy / "investing_strategy_002.yaml").read_text(encoding="utf-8")
    assert re.search(r"^replaces:\n  - investment_strategies_001$", text, re.M)
    commit(legacy, "Upgrade the lessons to the fiml-cms format")
    assert cli("validate").exit_code == 0
    # 4. The gate passes, for the last commit and for the whole migration as one pull request.
    for base in ("HEAD~1", original):
        gate = cli("check", "--base", base, "--format", "json")
        assert gate.exit_code == 0, gate.output
        assert json.loads(gate.output)["findings"] == []
    # `versions` follows `replaces`, as `diff` does.
    listed = cli("versions", "investing_strategy_002")
    assert listed.exit_code == 0
    assert "lesson/investment_strategies_001/v1.0.0  (as investment_strategies_001" in listed.output
    assert "lesson/investing_strategy_002/v2.0.0" in listed.output
    diffed = cli("diff", "tax_001", "1.0.0")
    assert diffed.exit_code == 0 and "tax_strategy_001@1.0.0" in diffed.output, diffed.output
    # 5. The archive.
    archived = cli("archive")
    assert archived.exit_code == 0, archived.output
    assert cli("archive", "--check").exit_code == 0
    # The bot starts on it and prints no hint that fails when run.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fiml_bot",
            "chat",
            "--published",
            "--database",
            f"sqlite:///{tmp_path / 'b.db'}",
        ],
        input="1\n",
        capture_output=True,
        text=True,
        cwd=legacy,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for hinted in re.findall(r"run `(fiml-cms [^`]+)`", done.stderr):
        args = hinted.split()[1:]
        assert cli(*args).exit_code == 0, hinted
    assert "fiml-cms upgrade investment_strategies_001@" not in done.stderr
