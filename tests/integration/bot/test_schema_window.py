"""The expand/contract window: the previous code's queries on the expanded schema, this code on a
database still at 0001, older code on a newer expanded database, and the window's declarations."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import MetaData, inspect, select, text, update

from fiml_bot.storage import migrations_api, window
from fiml_bot.storage.database import make_engine
from fiml_bot.storage.errors import SchemaOutOfDate
from fiml_bot.storage.unit_of_work import open_storage
from fiml_bot.tutor.model import Learner, LessonProgress, XpAward

BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _engine_run(url: str, work):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            return work(connection)
    finally:
        engine.dispose()


def models_of_0001(tmp_path) -> MetaData:  # type: ignore[no-untyped-def]
    """The 0001 code's tables, exactly: reflected from a scratch database migrated to 0001."""
    url = f"sqlite:///{tmp_path / 'scratch-0001.db'}"
    migrations_api.upgrade(url, "0001")
    metadata = MetaData()
    engine = make_engine(url)
    try:
        metadata.reflect(engine)
    finally:
        engine.dispose()
    metadata.remove(metadata.tables["alembic_version"])
    return metadata


def test_the_window_declarations() -> None:
    assert [step.revision for step in window.chain()][:2] == ["0001", "0002"]
    assert not window.chain()[
        1
    ].required_by_code  # this code runs on 0001 too, unless a later migration is required
    assert window.oldest_code("0002") == "0001"  # expand-only: 0001's code runs on 0002
    assert window.code_window().describe() == f"{window.min_schema()}..{window.head()}"
    assert (
        window.includes("0002", "0002")
        and not window.includes("0001", "0002")
        and window.includes("0099", "0002")
    )


@BOTH
def test_the_previous_codes_queries_run_on_the_expanded_schema(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    old = models_of_0001(tmp_path)
    migrations_api.upgrade(database_url)  # expanded: 0002
    learners, progress, ledger = (
        old.tables["learners"],
        old.tables["lesson_progress"],
        old.tables["xp_ledger"],
    )

    def old_code(connection):  # type: ignore[no-untyped-def]
        connection.execute(
            learners.insert().values(
                id="telegram:1",
                name="Ada",
                time_zone="UTC",
                active=True,
                streak_days=0,
                freeze_available=True,
                created_at=T0,
                revision=1,
            )
        )
        connection.execute(
            progress.insert().values(
                learner_id="telegram:1",
                lesson_id="a",
                pinned_version="1.0.0",
                status="in_progress",
                sections_done=[],
                answers=[],
                attempt=1,
                revision=1,
            )
        )
        connection.execute(
            ledger.insert().values(learner_id="telegram:1", amount=10, reason="x", key="k", awarded_at=T0)
        )
        connection.execute(
            update(progress).where(progress.c.lesson_id == "a").values(pinned_version="1.1.0", revision=2)
        )
        rows = connection.execute(select(progress)).mappings().all()
        assert [(r["pinned_version"], r["revision"]) for r in rows] == [("1.1.0", 2)]
        assert set(rows[0]) == {c.name for c in progress.c}  # the old SELECT sees only its own columns
        return connection.execute(select(ledger.c.amount)).scalar_one()

    assert _engine_run(database_url, old_code) == 10
    assert (
        _engine_run(
            database_url, lambda c: c.execute(text("SELECT migrated_at FROM lesson_progress")).scalar_one()
        )
        is None
    )
    with (
        open_storage(database_url) as storage,
        storage() as uow,
    ):  # and the new code reads what the old one wrote
        assert uow.progress.progress("telegram:1", "a").pinned_version == "1.1.0"


@BOTH
def test_this_code_runs_on_a_database_still_at_0001(database_url: str) -> None:
    if window.min_schema() != "0001":
        pytest.skip(
            f"a later migration ({window.min_schema()}) is required by this code: 0001 is outside its window"
        )
    migrations_api.upgrade(database_url, "0001")
    with open_storage(database_url) as storage:
        assert storage.revision == "0001"
        with storage() as uow:
            uow.progress.save_learner(Learner(id="telegram:1"))
            saved = uow.progress.save_progress(LessonProgress("telegram:1", "a", "1.0.0"))
            uow.progress.save_progress(LessonProgress("telegram:1", "a", "2.0.0", revision=saved.revision))
            uow.progress.award_xp(XpAward("telegram:1", 5, "x", "k"))
            uow.commit()
        with storage() as uow:
            assert uow.progress.progress("telegram:1", "a").pinned_version == "2.0.0"
    assert "migrated_at" not in {
        c["name"] for c in _engine_run(database_url, lambda c: inspect(c).get_columns("lesson_progress"))
    }


@BOTH
def test_at_0002_a_moved_version_is_stamped(database_url: str) -> None:
    migrations_api.upgrade(database_url)
    with open_storage(database_url) as storage, storage() as uow:
        uow.progress.save_learner(Learner(id="telegram:1"))
        saved = uow.progress.save_progress(LessonProgress("telegram:1", "a", "1.0.0"))
        saved = uow.progress.save_progress(
            LessonProgress("telegram:1", "a", "1.0.0", current_section="s", revision=saved.revision)
        )
        uow.commit()
    assert (
        _engine_run(
            database_url, lambda c: c.execute(text("SELECT migrated_at FROM lesson_progress")).scalar_one()
        )
        is None
    )
    with open_storage(database_url) as storage, storage() as uow:
        uow.progress.save_progress(LessonProgress("telegram:1", "a", "1.1.0", revision=saved.revision))
        uow.commit()
    assert (
        _engine_run(
            database_url, lambda c: c.execute(text("SELECT migrated_at FROM lesson_progress")).scalar_one()
        )
        is not None
    )


def _pretend_newer(connection, revision: str, oldest: str | None) -> None:  # type: ignore[no-untyped-def]
    """What a newer release's migration leaves: its revision, and (when it declares it) its window."""
    connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    connection.execute(text("DELETE FROM schema_window"))
    if oldest is not None:
        connection.execute(
            text("INSERT INTO schema_window (id, revision, oldest_code, updated_at) VALUES (1, :r, :o, :t)"),
            {"r": revision, "o": oldest, "t": T0.replace(tzinfo=None)},
        )


@BOTH
def test_older_code_runs_on_a_newer_expanded_database(database_url: str) -> None:
    migrations_api.upgrade(database_url)
    assert _engine_run(
        database_url, lambda c: c.execute(text("SELECT revision, oldest_code FROM schema_window")).one()
    ) == (migrations_api.head(), "0001")
    _engine_run(
        database_url, lambda c: _pretend_newer(c, "0099", "0001")
    )  # green expanded it; blue (this code) stays
    with open_storage(database_url) as storage, storage() as uow:
        uow.progress.save_learner(Learner(id="telegram:1"))
        uow.commit()

    _engine_run(database_url, lambda c: _pretend_newer(c, "0099", "0099"))  # a contract step: blue must go
    with pytest.raises(
        SchemaOutOfDate,
        match=r"revision 0099, which this fiml-bot does not know .*admits code from revision 0099",
    ):
        open_storage(database_url)
    _engine_run(database_url, lambda c: _pretend_newer(c, "0099", None))  # no record: refused as before
    with pytest.raises(SchemaOutOfDate, match="does not know"):
        open_storage(database_url)


def test_undeclared_migrations_are_expand_only_and_required(monkeypatch: pytest.MonkeyPatch) -> None:
    """Later migrations that declare nothing inherit the window (the project's migrations are additive)
    and are required by their code (the safe default); a contract step moves the window."""
    from types import SimpleNamespace

    steps = window.steps_of(
        [
            ("0001", SimpleNamespace()),
            ("0002", SimpleNamespace(oldest_code_revision="0001", required_by_code=False)),
            ("0003", SimpleNamespace()),
            ("0004", SimpleNamespace(oldest_code_revision="0003", required_by_code=False)),
        ]
    )
    assert [(s.oldest_code, s.required_by_code) for s in steps] == [
        ("0001", True),
        ("0001", False),
        ("0001", True),
        ("0003", False),
    ]
    monkeypatch.setattr(window, "chain", lambda: steps)
    assert window.min_schema() == "0003" and window.oldest_code("0004") == "0003"
