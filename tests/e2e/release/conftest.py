"""Fixtures of the release tests: a throwaway PostgreSQL schema at the newest revision, the content."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def release_db(postgres_url: str) -> Iterator[str]:
    from fiml_bot.storage import migrations_api

    migrations_api.upgrade(postgres_url, "head")
    yield postgres_url


@pytest.fixture
def lessons(content_repo: Path):  # type: ignore[no-untyped-def]
    from fiml_bot.bootstrap import BotSettings, open_content

    return open_content(BotSettings.from_env(content=content_repo, preview=True))
