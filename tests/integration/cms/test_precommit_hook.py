"""Issue 22: the published pre-commit hook checks the folders `.fiml-cms.toml` configures, run with
`pre-commit` itself. The reproduction: with `lessons = "lessons"` the hook's `files:` (hard-coded
`^content/(lessons|paths)/`) matched nothing, and a broken lesson was committed ("Skipped")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from testing.repo import CONTENT, PROJECT, git, replace_in

PRE_COMMIT = shutil.which("pre-commit", path=str(Path(sys.executable).parent))


def hook_config(fiml_cms: str) -> str:
    """The published hook as a local one: same id, files and arguments, run on this checkout's fiml-cms
    (as a remote `language: python` hook pre-commit would pip-install a release from the network)."""
    (hook,) = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    local = {k: hook[k] for k in ("id", "name", "files", "require_serial")}
    local["entry"] = hook["entry"].replace("fiml-cms", fiml_cms, 1)
    local["language"] = "system"
    return yaml.safe_dump({"repos": [{"repo": "local", "hooks": [local]}]})


@pytest.mark.skipif(PRE_COMMIT is None, reason="pre-commit is in the test extra: pip install -e '.[test]'")
def test_the_hook_checks_a_configured_lessons_folder_and_ignores_other_yaml(tmp_path: Path) -> None:
    root = tmp_path / "content-repo"
    shutil.copytree(CONTENT / "lessons", root / "lessons")
    (root / ".fiml-cms.toml").write_text('lessons = "lessons"\n', encoding="utf-8")
    (root / ".github/workflows").mkdir(parents=True)
    (root / ".github/workflows/ci.yml").write_text("name: ci\non: push\n", encoding="utf-8")
    fiml_cms = str(Path(sys.executable).parent / "fiml-cms")
    (root / ".pre-commit-config.yaml").write_text(hook_config(fiml_cms), encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache"), "NO_COLOR": "1"}

    def run() -> subprocess.CompletedProcess[str]:
        assert PRE_COMMIT is not None
        return subprocess.run(
            [PRE_COMMIT, "run", "--color", "never"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    clean = run()  # every staged file: lessons pass, the workflow YAML is not taken for a lesson
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "fiml-cms validate" in clean.stdout and "Passed" in clean.stdout
    replace_in(root / "lessons/what_is_a_market.yaml", "xp_reward: 50", "xp_reward: lots")
    git(root, "add", "lessons/what_is_a_market.yaml")
    broken = run()
    assert broken.returncode == 1, broken.stdout
    assert "Failed" in broken.stdout and "Skipped" not in broken.stdout
    assert "lessons/what_is_a_market.yaml:9:" in broken.stdout and "xp_reward" in broken.stdout
