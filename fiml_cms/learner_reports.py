"""The learners' problem reports, read from the bot's database for `fiml-cms reports` (the adapter).

fiml-bot writes them (table `learner_reports`, its migration 0007); fiml-cms only reads them, in
one read-only transaction, with SQLAlchemy Core on the columns named here. The database is the one
fiml-bot uses: `--database URL`, else FIML_DATABASE_URL, else sqlite:///var/fiml.db. A missing
SQLite file, an unreachable server or a schema without the table is an environment error (exit 2)
naming the database (never its password), not a traceback.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import FimlError
from .settings import DATABASE_URL

DEFAULT_URL = "sqlite:///var/fiml.db"
TABLE = "learner_reports"


class ReportsUnavailable(FimlError):
    """The bot's database cannot be read (exit 2)."""


@dataclass(frozen=True)
class Report:
    """One filed report: where in which version, what the learner wrote, and when."""

    version: str
    section_id: str | None
    question_id: str | None
    words: str
    created_at: dt.datetime


def database_url(option: str | None, env: Mapping[str, str]) -> str:
    """The option, else FIML_DATABASE_URL, else fiml-bot's SQLite default."""
    return (option or "").strip() or DATABASE_URL.read(env) or DEFAULT_URL


def read_reports(url: str, lesson_id: str) -> list[Report]:
    """The filed reports of `lesson_id` (pending ones, still waiting for words, are left out), oldest first."""
    from sqlalchemy import column, create_engine, exc, inspect, select, table
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except exc.ArgumentError as error:
        raise ReportsUnavailable(f"cannot parse the database URL {url!r}: {error}") from None
    where = parsed.render_as_string(hide_password=True)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:" or not Path(database).is_file():
            raise ReportsUnavailable(
                f"no database at {where}: give the bot's database with --database URL or FIML_DATABASE_URL"
            )
    elif parsed.get_backend_name() != "postgresql":
        raise ReportsUnavailable(f"unsupported database URL {where}: use sqlite:///PATH or postgresql://...")
    reports = table(
        TABLE,
        *(
            column(name)
            for name in ("lesson_id", "version", "section_id", "question_id", "words", "created_at", "id")
        ),
    )
    query = (
        select(
            reports.c.version,
            reports.c.section_id,
            reports.c.question_id,
            reports.c.words,
            reports.c.created_at,
        )
        .where(reports.c.lesson_id == lesson_id, reports.c.words.is_not(None))
        .order_by(reports.c.created_at, reports.c.id)
    )
    engine = create_engine(parsed)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(TABLE):
                raise ReportsUnavailable(
                    f"the database at {where} has no learner reports yet (schema before fiml-bot's 0007): "
                    "run `fiml-bot db upgrade`"
                )
            rows = connection.execute(query).all()
    except exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise ReportsUnavailable(f"cannot read the database at {where}: {reason}") from None
    finally:
        engine.dispose()
    return [Report(r.version, r.section_id, r.question_id, r.words, _as_time(r.created_at)) for r in rows]


def _as_time(value: object) -> dt.datetime:
    """SQLite hands back text or a naive datetime in UTC; PostgreSQL an aware one."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise ReportsUnavailable(f"a report has no valid time: {value!r}")
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
