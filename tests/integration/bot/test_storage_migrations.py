"""Alembic migrations on SQLite and PostgreSQL: up, down, up again, data kept, and models == migrations."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from fiml_bot.storage import migrations_api, window
from fiml_bot.storage.database import make_engine
from fiml_bot.storage.errors import SchemaOutOfDate
from fiml_bot.storage.models import Base
from fiml_bot.storage.unit_of_work import open_storage
from fiml_bot.tutor.model import Learner, LessonProgress, XpAward
from fiml_bot.tutor.ports import StorageUnavailable

BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
TABLES = {"learners", "lesson_progress", "completions", "xp_ledger", "badges", "processed_events"}


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def add_data(url: str) -> None:
    with open_storage(url) as storage, storage() as uow:
        uow.progress.save_learner(Learner(id="telegram:1", name="Ada"))
        uow.progress.save_progress(
            LessonProgress("telegram:1", "reading_stock_prices", "1.0.0", sections_done=("a",))
        )
        uow.progress.award_xp(XpAward("telegram:1", 40, "lesson completed", "complete:1"))
        uow.commit()


def assert_data(url: str) -> None:
    with open_storage(url) as storage, storage() as uow:
        assert uow.progress.learner("telegram:1").name == "Ada"
        assert uow.progress.progress("telegram:1", "reading_stock_prices").sections_done == ("a",)
        assert uow.progress.xp_total("telegram:1") == 40


def test_the_revisions_form_one_chain() -> None:
    from fiml_bot.storage import window

    revisions = [step.revision for step in window.chain()]  # walks from head down to the first
    assert revisions[0] == "0001" and revisions[-1] == migrations_api.head()
    assert (
        set(revisions)
        == migrations_api.known_revisions()
        >= {"0001", "0002", "0004", "0005", "0006", "0007", "0008", "0009"}
    )
    assert "0003" not in revisions  # 0003 was never used


@BOTH
def test_up_down_up_keeps_data_until_the_tables_go(database_url: str) -> None:
    assert migrations_api.current(database_url) is None
    migrations_api.upgrade(database_url)
    assert migrations_api.current(database_url) == migrations_api.head()
    assert tables(database_url) >= TABLES
    add_data(database_url)

    migrations_api.upgrade(database_url)  # already at head: nothing happens, nothing is lost
    assert migrations_api.current(database_url) == migrations_api.head()
    assert_data(database_url)

    migrations_api.downgrade(database_url, "0001")  # down one step: the learner's data stays
    assert migrations_api.current(database_url) == "0001"
    assert_data(database_url)
    migrations_api.upgrade(database_url)
    assert_data(database_url)

    migrations_api.downgrade(database_url, "base")
    assert migrations_api.current(database_url) is None
    assert tables(database_url) <= {"alembic_version"}

    migrations_api.upgrade(database_url, "0001")
    assert migrations_api.current(database_url) == "0001"
    migrations_api.upgrade(database_url)  # 0001 -> 0005 (expand-only) keeps the data
    with open_storage(database_url) as storage, storage() as uow:
        assert uow.progress.learner_ids() == []
    add_data(database_url)
    assert_data(database_url)


@BOTH
def test_the_migration_creates_exactly_the_models_schema(database_url: str) -> None:
    migrations_api.upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            checks = inspect(connection).get_check_constraints("xp_ledger")
    finally:
        engine.dispose()
    assert [check["name"] for check in checks] == ["ck_xp_ledger_amount_not_negative"]


def test_upgrade_creates_the_sqlite_folder(sqlite_url: str) -> None:
    folder = Path(sqlite_url.removeprefix("sqlite:///")).parent
    assert not folder.exists()
    migrations_api.upgrade(sqlite_url)
    assert (folder / "fiml.db").is_file()


def test_current_does_not_create_a_missing_sqlite_file(sqlite_url: str) -> None:
    assert migrations_api.current(sqlite_url) is None
    assert not Path(sqlite_url.removeprefix("sqlite:///")).parent.exists()


def test_migrations_render_as_sql_offline(sqlite_url: str) -> None:
    config = migrations_api.alembic_config(sqlite_url)
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    script = config.output_buffer.getvalue()
    assert "CREATE TABLE learners" in script
    assert 'CONSTRAINT uq_xp_ledger_learner_id_key UNIQUE (learner_id, "key")' in script


# open_storage and the schema


def test_a_missing_sqlite_file_is_refused_and_not_created(sqlite_url: str) -> None:
    with pytest.raises(StorageUnavailable, match=r"does not exist: run `fiml-bot db upgrade`"):
        open_storage(sqlite_url)
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


@BOTH
def test_an_empty_database_is_refused_until_upgraded(database_url: str) -> None:
    if database_url.startswith("sqlite"):  # an empty file, as a stray `sqlite3 var/fiml.db` leaves
        path = Path(database_url.removeprefix("sqlite:///"))
        path.parent.mkdir()
        path.touch()
    with pytest.raises(SchemaOutOfDate, match=r"no progress tables yet: run `fiml-bot db upgrade`"):
        open_storage(database_url)


@BOTH
def test_auto_upgrade_creates_the_schema(database_url: str) -> None:
    with open_storage(database_url, auto_upgrade=True) as storage, storage() as uow:
        uow.progress.save_learner(Learner(id="console:local"))
        uow.commit()
    assert migrations_api.current(database_url) == migrations_api.head()
    with open_storage(database_url, auto_upgrade=True) as storage, storage() as uow:  # again: a no-op
        assert uow.progress.learner_ids() == ["console:local"]


@BOTH
def test_a_schema_from_a_newer_release_is_refused(database_url: str) -> None:
    migrations_api.upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    finally:
        engine.dispose()
    for auto_upgrade in (False, True):
        with pytest.raises(SchemaOutOfDate, match=r"0099, which this fiml-bot does not know"):
            open_storage(database_url, auto_upgrade=auto_upgrade)


@BOTH
def test_an_older_schema_is_refused_with_the_command_to_run(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fiml_bot.storage import window

    migrations_api.upgrade(database_url, "0001")
    monkeypatch.setattr(window, "min_schema", lambda: "0002")
    with pytest.raises(
        SchemaOutOfDate,
        match=r"at schema revision 0001, this fiml-bot needs 0002(\.\.\d+)?: run `fiml-bot db upgrade`",
    ):
        open_storage(database_url)


def _answer(
    version: str, question: str, correct: bool, minute: int, **attempt_given: object
) -> dict[str, object]:
    """A row of `quiz_first_answers` (or, with attempt= and given=, of `quiz_answers`) for telegram:1."""
    import datetime as dt

    at = dt.datetime(2026, 12, 1, 9, minute, tzinfo=dt.UTC)
    return {
        "learner_id": "telegram:1",
        "lesson_id": "what_is_a_market",
        "version": version,
        "question_id": question,
        "correct": correct,
        "answered_at": at,
        **attempt_given,
    }


@BOTH
def test_0010_moves_first_answers_into_quiz_answers_and_back(database_url: str) -> None:
    """One table for quiz answers (issue 24): the first answers only `quiz_first_answers` has (given
    before 0009, in an attempt no longer current) are copied under earlier attempts, once; a downgrade
    gives 0009's code back the first answers given since, and removes the copies."""
    import datetime as dt

    from sqlalchemy import Table, delete, insert, select

    from fiml_bot.storage.canary_facts import side_facts
    from fiml_bot.storage.models import QuizAnswerRow, QuizFirstAnswerRow

    first: Table = QuizFirstAnswerRow.__table__  # type: ignore[assignment]
    answers: Table = QuizAnswerRow.__table__  # type: ignore[assignment]
    migrations_api.upgrade(database_url, "0009")
    add_data(database_url)  # telegram:1
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            # 1.0.0 in an old attempt (q1 wrong, q2 right), then 1.1.0's q1 in the current one (3),
            # which 0009 copied from lesson_progress
            old = [_answer("1.0.0", "q1", False, 0), _answer("1.0.0", "q2", True, 1)]
            connection.execute(insert(first), [*old, _answer("1.1.0", "q1", True, 2)])
            connection.execute(insert(answers), _answer("1.1.0", "q1", True, 2, attempt=3, given="2"))
        migrations_api.upgrade(database_url)
        migrations_api.upgrade(database_url)  # again: nothing more is copied
        columns = (
            answers.c.attempt,
            answers.c.version,
            answers.c.question_id,
            answers.c.given,
            answers.c.correct,
        )
        with engine.connect() as connection:
            rows = connection.execute(
                select(*columns).order_by(answers.c.attempt, answers.c.question_id)
            ).all()
        assert [tuple(row) for row in rows] == [
            (2, "1.0.0", "q1", "", False),
            (2, "1.0.0", "q2", "", True),
            (3, "1.1.0", "q1", "2", True),
        ]
        since = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        lesson, versions, hour = "what_is_a_market", ("1.1.0", "1.0.0"), dt.timedelta(hours=1)
        facts = side_facts(engine, "test", lesson, versions, since, since, hour)
        assert facts["1.0.0"].questions == {"q1": (1, 0), "q2": (1, 1)}
        assert facts["1.1.0"].questions == {"q1": (1, 1)}

        with engine.begin() as connection:  # this code's writes: quiz_answers only (a retry, then q2)
            retry = [
                _answer("1.1.0", "q1", False, 4, attempt=4, given="0"),
                _answer("1.1.0", "q2", False, 5, attempt=4, given="1"),
            ]
            connection.execute(insert(answers), retry)
            connection.execute(delete(first).where(first.c.version == "1.0.0"))  # only 0010's copy has them
        migrations_api.downgrade(database_url, "0009")
        order = (first.c.version, first.c.question_id)
        with engine.connect() as connection:
            kept = connection.execute(select(*order, first.c.correct).order_by(*order)).all()
            givens = connection.execute(
                select(answers.c.given).order_by(answers.c.attempt, answers.c.question_id)
            )
            left = givens.scalars().all()
        assert [tuple(row) for row in kept] == [
            ("1.0.0", "q1", False),  # from the copies, before they go
            ("1.0.0", "q2", True),
            ("1.1.0", "q1", True),  # the first answer stays first: attempt 3's, not the retry's
            ("1.1.0", "q2", False),  # given under 0010's code
        ]
        assert left == ["2", "0", "1"]  # the copies are gone
    finally:
        engine.dispose()
    assert_data(database_url)
