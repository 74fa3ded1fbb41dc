"""The continuity simulation (issue 4): 100 learners at random positions across a release train.

A real content repository in tmp (patch, minor, minor, major, a yanked version, a renamed id, a raised
`xp_reward`, each a real commit and tag), a real database (a SQLite file; PostgreSQL too when
FIML_TEST_POSTGRES_URL is set, with fewer learners), the real `Tutor`, driven only through
`Tutor.handle`. The simulation runs once per database; each test below checks one family of
invariants, so a failure names what broke. See `testing/simulation/` for the oracle and
`bench/continuity.py` for the 1,000-learner run.
"""

from __future__ import annotations

import os
import time

import pytest

from testing.postgres import postgres_schema
from testing.simulation import Config, Report, run_simulation

POSTGRES_VARIABLE = "FIML_TEST_POSTGRES_URL"
SQLITE_LEARNERS = 100
POSTGRES_LEARNERS = 30


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Report:
    workdir = tmp_path_factory.mktemp(f"continuity-{request.param}")
    started = time.perf_counter()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GIT_CEILING_DIRECTORIES", str(workdir.parent))
        if request.param == "sqlite":
            result = run_simulation(Config(learners=SQLITE_LEARNERS), workdir)
        else:
            base = os.environ.get(POSTGRES_VARIABLE, "").strip()
            if not base:
                pytest.skip(f"needs PostgreSQL: set {POSTGRES_VARIABLE} to a database URL (.ci/run does)")
            with postgres_schema(base) as url:
                result = run_simulation(Config(learners=POSTGRES_LEARNERS, database_url=url), workdir)
    result.final["wall seconds"] = round(time.perf_counter() - started, 1)
    print(f"\n[{request.param}]\n{result.summary()}")
    return result


def _held(report: Report, *categories: str) -> None:
    failures = report.failures(*categories)
    assert not failures, "\n".join(failures)


def test_the_release_train_reached_learners_in_every_section5_row(report: Report) -> None:
    """The simulation is only as good as its coverage: every §5 row was met by learners."""
    assert len(report.releases) == 7
    for action in ("none", "auto-migrate", "auto-migrate + notify", "choice", "forced restart"):
        assert report.decisions[action] > 0, f"no learner met the {action!r} row: {dict(report.decisions)}"
    assert report.paths["choice taken: c"] and report.paths["choice taken: r"], dict(report.paths)
    assert report.actions >= report.config.learners * 20


def test_no_xp_lost_and_none_paid_twice(report: Report) -> None:
    _held(report, "xp")


def test_no_completion_lost_and_renamed_lessons_keep_theirs(report: Report) -> None:
    _held(report, "completions")
    assert report.final["records left under old ids"] == 0
    assert report.final["completions left under old ids"] == 0


def test_in_progress_learners_stay_pinned_or_move_by_the_section5_rule(report: Report) -> None:
    _held(report, "policy")


def test_progress_records_stay_consistent(report: Report) -> None:
    _held(report, "records")


def test_no_errors_and_every_reply_is_well_formed(report: Report) -> None:
    """No exception escapes (nor is logged), no empty text, every button's data decodes and fits 64 bytes."""
    _held(report, "errors", "messages", "other")


def test_a_repeated_update_is_applied_once(report: Report) -> None:
    assert report.replays > 0
    _held(report, "idempotency")
