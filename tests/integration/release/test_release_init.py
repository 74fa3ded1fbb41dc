"""Issue 27: `fiml-bot release init [DIR]` writes the deployment templates from the installed package;
`release check` passes on them; it refuses to overwrite without --force. The README's walkthrough starts
from it, also from a wheel install (a fresh venv, not a clone)."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

from typer.testing import CliRunner

from fiml_bot.cli import app
from testing.repo import PROJECT

WRITTEN = ("rollout.yaml", "haproxy.cfg", "prometheus/rules.yml", "prometheus/prometheus.yml")


def bot(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def test_init_writes_the_templates_and_check_passes_on_them(tmp_path: Path) -> None:
    folder = tmp_path / "ops"
    result = bot("release", "init", str(folder))
    assert result.exit_code == 0, result.output
    for name in WRITTEN:
        assert (folder / name).read_bytes() == (PROJECT / "deploy" / name).read_bytes()
    assert not (folder / "flags.json").exists()  # flags are content, not deployment
    check = bot("release", "check", "--config", str(folder / "rollout.yaml"))
    assert check.exit_code == 0, check.output


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    folder = tmp_path / "deploy"
    assert bot("release", "init", str(folder)).exit_code == 0
    (folder / "rollout.yaml").write_text("# mine\n", encoding="utf-8")
    again = bot("release", "init", str(folder))
    assert again.exit_code == 1
    assert "--force" in again.output and (folder / "rollout.yaml").read_text(encoding="utf-8") == "# mine\n"
    forced = bot("release", "init", str(folder), "--force")
    assert forced.exit_code == 0 and "replaced" in forced.output
    assert (folder / "rollout.yaml").read_bytes() == (PROJECT / "deploy/rollout.yaml").read_bytes()


def _wheel(into: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(into), str(PROJECT)],
        check=True,
        capture_output=True,
    )
    return next(into.glob("fiml_cms-*.whl"))


def test_a_wheel_install_starts_the_release_walkthrough(tmp_path: Path) -> None:
    """Content-only install: fiml-cms works, fiml-bot names its extra; adding [bot]: release init + check."""
    wheel = _wheel(tmp_path / "dist")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    cms_only = tmp_path / "cms"
    venv.EnvBuilder(with_pip=True).create(cms_only)
    # --no-compile: the four commands below import a small part of what is installed
    subprocess.run(
        [str(cms_only / "bin/python"), "-m", "pip", "install", "--quiet", "--no-compile", str(wheel)],
        check=True,
        env=env,
    )
    assert subprocess.run([str(cms_only / "bin/fiml-cms"), "--version"], env=env).returncode == 0
    missing = subprocess.run(
        [str(cms_only / "bin/fiml-bot"), "--help"], capture_output=True, text=True, env=env
    )
    assert missing.returncode == 2 and "pip install 'fiml-cms[bot]'" in missing.stderr

    full = cms_only  # the extra on top of the content-only install, as an operator would add it
    subprocess.run(
        [
            str(full / "bin/python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            f"fiml-cms[bot] @ {wheel.as_uri()}",
        ],
        check=True,
        env=env,
    )
    work = tmp_path / "host"
    work.mkdir()
    init = subprocess.run(
        [str(full / "bin/fiml-bot"), "release", "init"], cwd=work, capture_output=True, text=True, env=env
    )
    assert init.returncode == 0, init.stderr
    check = subprocess.run(
        [str(full / "bin/fiml-bot"), "release", "check"], cwd=work, capture_output=True, text=True, env=env
    )
    assert check.returncode == 0, check.stdout + check.stderr
