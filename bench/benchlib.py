"""Helpers the benchmark scripts share: machine facts, a PostgreSQL probe and the project's lessons."""

from __future__ import annotations

import platform
import re
from pathlib import Path

PROJECT_LESSONS = Path(__file__).resolve().parent.parent / "content" / "lessons"
ID_LINE = re.compile(r"^id: *(\S+) *$", re.M)


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo), for the machine line of a report."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def postgres_reachable(url: str) -> str | None:
    """The server version when PostgreSQL answers at `url`, else None (and why, on stdout)."""
    try:
        from sqlalchemy import create_engine, text

        from fiml_bot.storage.database import parse_url

        engine = create_engine(parse_url(url), connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            version = connection.execute(text("show server_version")).scalar_one()
        engine.dispose()
        return str(version)
    except Exception as error:
        print(f"PostgreSQL at {url} is not reachable: {type(error).__name__}: {str(error).splitlines()[0]}")
        return None


def project_lessons() -> list[tuple[str, str]]:
    """(id, text) of each lesson in the project's `content/lessons`: the seed of generated lesson sets."""
    found = []
    for path in sorted(PROJECT_LESSONS.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        ids = ID_LINE.findall(text)
        if len(ids) != 1:
            raise SystemExit(f"{path}: expected exactly one top-level `id:` line, found {len(ids)}")
        found.append((ids[0].strip("\"'"), text))
    if not found:
        raise SystemExit(f"no lessons in {PROJECT_LESSONS}")
    return found
