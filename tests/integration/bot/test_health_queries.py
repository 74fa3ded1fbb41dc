"""storage/health_queries.py answers the doctor's questions the same on SQLite and PostgreSQL: rows
written by hand, each query's typed answer checked (the doctor's own tests check the verdicts)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from fiml_bot.storage import health_queries as q
from fiml_bot.storage import migrations_api
from fiml_bot.storage.database import make_engine

BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
AT = "'2026-03-02 09:00:00'"


def learner(who: str) -> str:
    return (
        "INSERT INTO learners (id, name, time_zone, active, streak_days, freeze_available, created_at, revision) "
        f"VALUES ('{who}', 'x', 'UTC', true, 0, true, {AT}, 1)"
    )


def completion(who: str, lesson: str, score: int, total: int, xp: int, version: str = "1.0.0") -> str:
    return (
        "INSERT INTO completions (learner_id, lesson_id, version, attempt, score, total, xp_earned, completed_at) "
        f"VALUES ('{who}', '{lesson}', '{version}', 1, {score}, {total}, {xp}, {AT})"
    )


def paid(who: str, key: str, amount: int, reason: str = "lesson completed") -> str:
    lesson = key.split(":")[1]
    return (
        "INSERT INTO xp_ledger (learner_id, amount, reason, key, lesson_id, awarded_at) "
        f"VALUES ('{who}', {amount}, '{reason}', '{key}', '{lesson}', {AT})"
    )


def badge(who: str, name: str) -> str:
    return f"INSERT INTO badges (learner_id, badge, awarded_at) VALUES ('{who}', '{name}', {AT})"


def progress(who: str, lesson: str, pinned: str, section: str | None, seen: str | None = None) -> str:
    return (
        "INSERT INTO lesson_progress (learner_id, lesson_id, pinned_version, status, current_section, "
        "sections_done, answers, attempt, seen_version, revision) "
        f"VALUES ('{who}', '{lesson}', '{pinned}', 'in_progress', "
        f"{'NULL' if section is None else repr(section)}, '[]', '[]', 1, "
        f"{'NULL' if seen is None else repr(seen)}, 1)"
    )


@BOTH
def test_each_query_answers_with_typed_rows(database_url: str) -> None:
    migrations_api.upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            if database_url.startswith("sqlite"):  # as a hand edit or a database older than the check
                connection.execute(text("PRAGMA ignore_check_constraints = ON"))
            else:
                connection.execute(
                    text("ALTER TABLE xp_ledger DROP CONSTRAINT ck_xp_ledger_amount_not_negative")
                )
            for statement in (
                learner("a"),
                learner("b"),
                completion("a", "m", 5, 5, 20),
                completion("a", "n", 2, 5, 10),
                completion("b", "m", 1, 5, 20, version="0.9.0"),
                paid("a", "lesson:m", 20),
                paid("a", "lesson:n", 15),  # the completion says 10
                paid("a", "answer:m:q1", -3, reason="answer"),
                paid("b", "lesson:old_m", 20),  # paid under a former id
                badge("a", "first_steps"),
                badge("a", "path_complete:basics"),
                badge("b", "path_explorer"),
                progress("a", "m", "1.0.0", "intro", seen="1.0.0"),
                progress("b", "m", "1.0.0", "intro"),
                progress("b", "n", "2.0.0", None, seen="1.0.0"),
            ):
                connection.execute(text(statement))
        with engine.connect() as c:
            assert q.learner_count(c) == 2 and q.provider_key_count(c) == 0
            assert q.negative_ledger_entries(c) == [q.NegativeEntry("a", "answer:m:q1", -3, "m")]
            assert q.duplicate_ledger_keys(c) == []
            assert q.orphan_rows(c, "badges") == []
            assert q.unpaid_completions(c) == [q.Unpaid("b", "m", 20, "0.9.0")]
            assert q.holders_of_keys(c, ["lesson:old_m", "lesson:none"]) == [("b", "lesson:old_m")]
            assert q.holders_of_keys(c, []) == []
            assert q.mispaid_completions(c, "lesson completed") == [q.Mispaid("a", "n", 10, 15)]
            assert q.held_badges(c) == [
                q.HeldBadge("a", "first_steps", 2, 32, 1),
                q.HeldBadge("a", "path_complete:basics", 2, 32, 1),
                q.HeldBadge("b", "path_explorer", 1, 20, 0),
            ]
            assert sorted(q.path_badge_completions(c, "path_explorer", "path_complete:")) == [
                ("a", "m"),
                ("a", "n"),
                ("b", "m"),
            ]
            assert sorted(q.version_uses(c, "pinned_version")) == [
                q.VersionUse("m", "1.0.0", 2),
                q.VersionUse("n", "2.0.0", 1),
            ]
            assert sorted(q.version_uses(c, "seen_version")) == [
                q.VersionUse("m", "1.0.0", 1),
                q.VersionUse("n", "1.0.0", 1),
            ]
            assert q.learners_on_version(c, "pinned_version", "m", "1.0.0") == ["a", "b"]
            assert q.positions(c) == [q.Position("m", "1.0.0", "intro")]
            assert q.learners_at(c, q.Position("m", "1.0.0", "intro")) == ["a", "b"]
            assert q.learner_totals(c) == {"a": (32, 2), "b": (20, 1)}
            with pytest.raises(ValueError, match="not a version column"):
                q.version_uses(c, "status")
            c.rollback()
    finally:
        engine.dispose()
