"""The suite's shared fixtures (content repositories, databases, Redis) and its rules: the tier marker
each test gets from its folder, nothing skipped under CI, one PostgreSQL database per xdist worker.

Tiers (README, "Tests"): tests/unit (no subprocess, no network, no git, memory store), tests/integration
(git, SQLite, PostgreSQL, Redis, HAProxy, CLIs as child processes), tests/e2e (bot processes, drills,
release replicas). Helpers live in `testing/`; a test module never imports another.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from testing.repo import commit_all, copy_content, git, isolate_git, use_git_template

#: Property tests without their own `max_examples` run as many examples as the profile says: a small
#: one for `make test`, a large one (`FIML_HYPOTHESIS_PROFILE=ci`, set by `.ci/run`) for CI.
HYPOTHESIS_PROFILE_VARIABLE = "FIML_HYPOTHESIS_PROFILE"
settings.register_profile("dev", max_examples=150, deadline=None)
settings.register_profile("ci", max_examples=1700, deadline=None)
settings.load_profile(os.environ.get(HYPOTHESIS_PROFILE_VARIABLE, "dev"))

TIERS = ("unit", "integration", "e2e")
TESTS = Path(__file__).resolve().parent
POSTGRES_VARIABLE = "FIML_TEST_POSTGRES_URL"
STORAGE_KINDS = ["memory", "sqlite", "postgres"]
MARKET = "what_is_a_market"
#: Skips CI allows: the legacy corpus lives outside the repository (../shared/corpus) and CI has none.
CI_ALLOWED_SKIPS = ("corpus",)


# -- the suite's rules ------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker gets a PostgreSQL database of its own (`<db>_gw0`, ...)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base = os.environ.get(POSTGRES_VARIABLE, "").strip()
    if worker and base:
        from testing.postgres import worker_database

        os.environ[POSTGRES_VARIABLE] = worker_database(base, worker)


def tier_of(path: Path) -> str | None:
    """The tier a test file belongs to: the first folder under tests/ (unit, integration or e2e)."""
    try:
        first = path.resolve().relative_to(TESTS).parts[0]
    except (ValueError, IndexError):
        return None
    return first if first in TIERS else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier, from its folder, so `pytest -m unit` runs the unit tier."""
    for item in items:
        tier = tier_of(item.path)
        if tier is not None:
            item.add_marker(tier)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """Under CI (CI=true, as `.ci/run` sets) a skip is a failure: CI installs every tool and service the
    suite uses, so a skip there hides a test that never ran. The corpus, outside the repository, is the
    one exception."""
    report: pytest.TestReport = yield
    if report.skipped and os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        if hasattr(report, "wasxfail"):
            return report
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if not any(allowed in reason for allowed in CI_ALLOWED_SKIPS):
            report.outcome = "failed"
            report.longrepr = f"skipped under CI, where nothing may skip: {reason}"
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker hands its fuzz counts to the controller, which reports the sum."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        from testing.fuzz_counts import COUNTS

        workeroutput["fuzz_counts"] = dict(COUNTS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    from testing.fuzz_counts import COUNTS

    for where, n in getattr(node, "workeroutput", {}).get("fuzz_counts", {}).items():
        COUNTS[where] = COUNTS.get(where, 0) + n


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many generated lesson inputs the fuzz tests checked (the CI profile must reach 10,000)."""
    from testing.fuzz_counts import COUNTS

    if any(COUNTS.values()):
        total = sum(COUNTS.values())
        parts = ", ".join(f"{n:,} {where}" for where, n in COUNTS.items())
        terminalreporter.write_line(
            f"fuzzing: {total:,} generated lesson inputs ({parts}; hypothesis profile {settings._current_profile})"
        )


# -- content repositories ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every git call in the tests (ours and GitPython's) uses a fixed identity and date and no user config.

    Tests start in their own empty folder, so a command run without a repository fixture can never
    reach the project's own repository.
    """
    isolate_git(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def content_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the bundled lessons and paths in tmp_path, marked as a repository root; cwd is set to it."""
    root = copy_content(tmp_path / "repo")
    monkeypatch.chdir(root)
    return root


@pytest.fixture(scope="session")
def git_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled lessons committed once per session (fixed identity and dates, so the same commit as
    a per-test build): `git_repo` copies its `.git` instead of running git init/add/commit each time."""
    root = copy_content(tmp_path_factory.mktemp("git-template") / "repo")
    with pytest.MonkeyPatch.context() as patch:
        isolate_git(patch, root.parent)
        git(root, "init", "-q", "-b", "main")
        commit_all(root, "Initial lessons")
    return root


@pytest.fixture
def git_repo(content_repo: Path, git_template: Path) -> Path:
    """`content_repo` as a git repository with one commit (branch main), nothing tagged."""
    use_git_template(content_repo, git_template)
    return content_repo


def _tagged_template(git_template: Path, folder: Path, lessons: list[str] | None) -> Path:
    """A copy of `git_template` at `folder` with `lessons` (all when None) tagged by the real `fiml-cms tag`."""
    from testing.cli import cli

    root = folder / "repo"
    shutil.copytree(git_template, root, symlinks=True)
    with pytest.MonkeyPatch.context() as patch:
        isolate_git(patch, root.parent)
        patch.chdir(root)
        for lesson in lessons or sorted(p.stem for p in (root / "content/lessons").glob("*.yaml")):
            assert cli("tag", lesson).exit_code == 0
    return root


@pytest.fixture(scope="session")
def published_template(git_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`git_template` with every lesson tagged, built once per session through the real `fiml-cms tag`."""
    return _tagged_template(git_template, tmp_path_factory.mktemp("published-template"), None)


@pytest.fixture
def published(git_repo: Path, published_template: Path) -> Path:
    """The bundled lessons in a git repository, every lesson tagged (published)."""
    use_git_template(git_repo, published_template)
    return git_repo


@pytest.fixture(scope="session")
def market_template(git_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`git_template` with only what_is_a_market tagged (1.0.0), built once per session."""
    return _tagged_template(git_template, tmp_path_factory.mktemp("market-template"), [MARKET])


@pytest.fixture
def market_published(git_repo: Path, market_template: Path) -> Path:
    """The bundled lessons in a git repository, only what_is_a_market published (1.0.0)."""
    use_git_template(git_repo, market_template)
    return git_repo


# -- databases and Redis ----------------------------------------------------------------------------


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
        pytest.skip(f"needs PostgreSQL: set {POSTGRES_VARIABLE} to a database URL (.ci/run does)")
    from testing.postgres import postgres_schema

    with postgres_schema(base) as url:
        yield url


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty SQL database: use with `@pytest.mark.parametrize("database_url", ["sqlite",
    "postgres"], indirect=True)`."""
    return str(request.getfixturevalue(f"{request.param}_url"))


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
    callspec = getattr(request.node, "callspec", None)
    if (
        callspec is not None
        and callspec.params.get("database_url") == "postgres"
        and shutil.which("pg_dump") is None
    ):
        pytest.skip("needs pg_dump and pg_restore (Debian's postgresql-client; .ci/run installs it)")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis of the test session's own (`testing.redis_server`); tests keep to keys of their own.

    Skipped without `redis-server` and FIML_TEST_REDIS_URL; under CI (`.ci/run` sets the variable)
    it is used, and a Redis that does not answer fails the tests instead of skipping them.
    """
    from testing.redis_server import REDIS_VARIABLE, redis_url_for_tests

    with redis_url_for_tests() as url:
        if url is None:
            pytest.skip(f"needs Redis: install redis-server or set {REDIS_VARIABLE} (.ci/run does)")
        yield url
