"""Helpers the benchmark scripts share: machine facts and a PostgreSQL probe."""

from __future__ import annotations

import platform
from pathlib import Path


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
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        print(f"PostgreSQL at {url} is not reachable: {type(error).__name__}: {str(error).splitlines()[0]}")
        return None
