"""The unit tier's rule, enforced: no subprocess (git included), no network, no SQL database.

A unit test that starts a process, opens an internet socket or a SQLite file, or asks for a fixture
that builds a repository or a database fails here and belongs in tests/integration (README, "Tests").
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
from typing import Any

import pytest

#: Fixtures that build a git repository or a database: tests/integration's.
OUTSIDE_FIXTURES = frozenset(
    {
        "git_template",
        "git_repo",
        "published_template",
        "published",
        "market_template",
        "market_published",
        "sqlite_url",
        "postgres_url",
        "database_url",
        "storage",
        "pg_tools",
        "redis_url",
    }
)
MOVE = "belongs in tests/integration (the unit tier runs no subprocess, network or database)"


@pytest.fixture(autouse=True)
def _no_outside_systems(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    used = OUTSIDE_FIXTURES.intersection(request.fixturenames)
    if used:
        pytest.fail(f"{request.node.nodeid} uses {', '.join(sorted(used))}: it {MOVE}", pytrace=False)

    def refuse(what: str) -> Any:
        def refused(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError(f"a unit test {what}: it {MOVE}")

        return refused

    def internet_only(original: Any, what: str) -> Any:
        def guarded(self: socket.socket, *args: Any) -> Any:
            if self.family in (socket.AF_INET, socket.AF_INET6):
                raise AssertionError(f"a unit test {what}: it {MOVE}")
            return original(self, *args)

        return guarded

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse("started a process"))
    monkeypatch.setattr(sqlite3, "connect", refuse("opened a SQLite database"))
    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(
            socket.socket, name, internet_only(getattr(socket.socket, name), "used the network")
        )
