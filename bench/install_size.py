"""Installed size of the two installs (issue 23): `pip install fiml-cms` (authors and a content
repository's CI) against `pip install 'fiml-cms[bot]'` (the bot), each into a fresh venv from the wheel
built from this tree. Prints the distributions and megabytes of each, and checks that `fiml-bot` in the
content-only install says which extra to install (exit 2).

    .venv/bin/python -m bench.install_size
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build_wheel(into: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(into), str(ROOT)], check=True
    )
    return next(into.glob("fiml_cms-*.whl"))


def site_packages(env: Path) -> Path:
    return next((env / "lib").glob("python3*/site-packages"))


def install(env: Path, requirement: str) -> tuple[int, float]:
    """Create `env`, install `requirement`, return (distributions, MB) beyond a bare venv's pip."""
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    before = _dists(python)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", requirement], check=True)
    size = sum(f.stat().st_size for f in site_packages(env).rglob("*") if f.is_file())
    bare = sum(f.stat().st_size for d in before for f in _files_of(python, d))
    return len(_dists(python) - before), (size - bare) / 1e6


def _dists(python: Path) -> set[str]:
    out = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True
    ).stdout
    return {line.split("==")[0].lower() for line in out.splitlines() if "==" in line}


def _files_of(python: Path, dist: str) -> list[Path]:
    code = (
        "import importlib.metadata as m, sys; d = m.distribution(sys.argv[1]);"
        "print('\\n'.join(str(d.locate_file(f)) for f in (d.files or [])))"
    )
    out = subprocess.run([str(python), "-c", code, dist], capture_output=True, text=True).stdout
    return [Path(p) for p in out.splitlines() if p and Path(p).is_file()]


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(Path(tmp) / "dist")
        rows = []
        for label, extra in (("fiml-cms", ""), ("fiml-cms[bot]", "[bot]")):
            env = Path(tmp) / label.replace("[", "_").replace("]", "")
            count, mb = install(env, f"fiml-cms{extra} @ {wheel.as_uri()}")
            rows.append((label, count, mb))
            if not extra:
                done = subprocess.run(
                    [str(env / "bin" / "fiml-bot"), "--help"], capture_output=True, text=True, env=os.environ
                )
                print(f"fiml-bot in the content-only install: exit {done.returncode}: {done.stderr.strip()}")
                cms = subprocess.run(
                    [str(env / "bin" / "fiml-cms"), "--version"], capture_output=True, text=True
                )
                print(f"fiml-cms --version: {cms.stdout.strip()} (exit {cms.returncode})")
        print(f"{'install':<16}{'distributions':>15}{'MB':>10}")
        for label, count, mb in rows:
            print(f"{label:<16}{count:>15}{mb:>10.1f}")


if __name__ == "__main__":
    main()
