"""Shared fixtures for the bot's tests: databases (SQLite in tmp_path, PostgreSQL in a throwaway schema)
and progress stores (in memory, SQLite, PostgreSQL) behind the same `UnitOfWork` factory."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

POSTGRES_VARIABLE = "FIML_TEST_POSTGRES_URL"
STORAGE_KINDS = ["memory", "sqlite", "postgres"]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file URL in a folder that does not exist yet (`<tmp>/var/fiml.db`)."""
    return f"sqlite:///{tmp_path / 'var' / 'fiml.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a new, empty schema, dropped afterwards.

    Each test gets its own schema, so parallel and repeated runs never see each other's tables.
    Skipped unless FIML_TEST_POSTGRES_URL is set (`.ci/run` sets it).
    """
    base = os.environ.get(POSTGRES_VARIABLE, "").strip()
    if not base:
        pytest.skip(f"{POSTGRES_VARIABLE} is not set")
    from testing.postgres import postgres_schema

    with postgres_schema(base) as url:
        yield url


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty SQL database: use with `@pytest.mark.parametrize("database_url", ["sqlite",
    "postgres"], indirect=True)`."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture(params=STORAGE_KINDS)
def storage(request: pytest.FixtureRequest) -> Iterator[Callable[[], object]]:
    """A progress store at the current schema, as a `UnitOfWork` factory: `with storage() as uow:`."""
    if request.param == "memory":
        from fiml_bot.storage.memory import MemoryStorage

        yield MemoryStorage()
        return
    from fiml_bot.storage.migrations_api import upgrade
    from fiml_bot.storage.unit_of_work import open_storage

    url = request.getfixturevalue(f"{request.param}_url")
    upgrade(url)
    opened = open_storage(url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def pg_tools(request: pytest.FixtureRequest) -> None:
    """Skip a PostgreSQL case when pg_dump/pg_restore are missing (`.ci/run` installs postgresql-client)."""
    import shutil

    callspec = getattr(request.node, "callspec", None)
    if (
        callspec is not None
        and callspec.params.get("database_url") == "postgres"
        and shutil.which("pg_dump") is None
    ):
        pytest.skip("pg_dump is not installed (Debian's postgresql-client)")


@pytest.fixture(scope="session")
def published_template(git_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`git_template` with every lesson tagged, built once per session through the real `fiml-cms tag`."""
    import shutil

    from ..conftest import _isolate_git, cli

    root = tmp_path_factory.mktemp("published-template") / "repo"
    shutil.copytree(git_template, root, symlinks=True)
    with pytest.MonkeyPatch.context() as patch:
        _isolate_git(patch, root.parent)
        patch.chdir(root)
        for lesson in sorted((root / "content/lessons").glob("*.yaml")):
            assert cli("tag", lesson.stem).exit_code == 0
    return root


@pytest.fixture
def published(git_repo: Path, published_template: Path) -> Path:
    """The bundled lessons in a git repository, every lesson tagged (published)."""
    from ..conftest import use_git_template

    use_git_template(git_repo, published_template)
    return git_repo


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis of the test session's own (`testing.redis_server`); tests keep to keys of their own.

    Skipped without `redis-server` and FIML_TEST_REDIS_URL; under CI (`.ci/run` sets the variable)
    it is used, and a Redis that does not answer fails the tests instead of skipping them.
    """
    from testing.redis_server import REDIS_VARIABLE, redis_url_for_tests

    with redis_url_for_tests() as url:
        if url is None:
            pytest.skip(f"neither redis-server nor {REDIS_VARIABLE}")
        yield url
