"""`fiml-bot doctor`: the progress store checked against itself and against the content.

Every check is a set-based query (one round trip per check, never one per learner), so 100,000
learners take seconds. Content questions are asked once per distinct (lesson, version) or (lesson,
version, section), not per row. Totals are derived from the ledger (there is no stored total to
disagree with it), so "XP totals equal ledger sums" is checked where a total *is* recorded: each
completion's `xp_earned` against the ledger's payment for that lesson.

Findings are values; `render_text` and `render_json` print them. Exit codes: 0 clean, 1 problems,
2 the doctor could not run (no database, no tables).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, inspect

from fiml_bot.storage import health_queries as queries
from fiml_bot.storage.errors import SchemaOutOfDate
from fiml_bot.storage.migrations_api import revision_of
from fiml_bot.tutor import gamification
from fiml_bot.tutor.ports import Content
from fiml_cms.errors import FimlError

LEARNER_TABLES = tuple(queries.LEARNER_TABLES)


@dataclass(frozen=True)
class Problem:
    check: str
    message: str
    hint: str
    learner: str | None = None
    lesson: str | None = None

    def line(self) -> str:
        where = " ".join(
            part
            for part in (self.learner and f"learner {self.learner}", self.lesson and f"lesson {self.lesson}")
            if part
        )
        return f"{where + ': ' if where else ''}{self.message} [{self.check}] (fix: {self.hint})"


@dataclass
class Report:
    revision: str | None
    learners: int = 0
    checks: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0

    def summary(self) -> str:
        verdict = "clean" if not self.problems else f"{len(self.problems)} problem(s)"
        return f"doctor: {self.learners} learner(s), {len(self.checks)} check(s), {verdict}"


def render_text(report: Report) -> str:
    lines = [problem.line() for problem in report.problems]
    lines += [f"skipped: {reason}" for reason in report.skipped]
    lines.append(report.summary())
    return "\n".join(lines)


def render_json(report: Report) -> str:
    data: dict[str, Any] = {
        "ok": not report.problems,
        "schema_revision": report.revision,
        "learners": report.learners,
        "checks": report.checks,
        "skipped": report.skipped,
        "problems": [asdict(p) for p in report.problems],
    }
    from fiml_cms.envelope import dumps

    return dumps("fiml-bot/doctor", data)


class CannotRun(FimlError):
    """The doctor has nothing to check (no tables) or cannot reach the database: exit 2."""

    exit_code = 2


def examine(
    connection: Connection,
    content: Content | None,
    *,
    where: str = "the database",
    env: Mapping[str, str] | None = None,
) -> Report:
    """Run every check on one connection (one read transaction, so the checks see one state); `env`:
    the settings stored provider keys are checked against (None: no FIML_* variables)."""
    from fiml_bot.storage import window

    revision = revision_of(connection)
    tables = set(inspect(connection).get_table_names())
    if revision is None or not {"learners", *LEARNER_TABLES} <= tables:
        raise CannotRun(f"the database at {where} has no progress tables: run `fiml-bot db upgrade`")
    report = Report(revision)
    report.learners = queries.learner_count(connection)
    doctor = _Checks(connection, content, report)
    doctor.run("schema revision", lambda: _schema(connection, revision, where, window))
    doctor.run("ledger keys unique", doctor.ledger_keys)
    doctor.run("no orphan rows", doctor.orphans)
    doctor.run("completions paid", doctor.completion_awards)
    doctor.run("badges match the rules", doctor.badges)
    if "provider_keys" in tables and queries.provider_key_count(connection):
        doctor.run("provider keys decryptable", lambda: _provider_keys(connection, env or {}))
    if content is None:
        report.skipped.append("versions and positions against the content: no content repository")
    else:
        doctor.run("versions resolvable", doctor.versions)
        doctor.run("positions exist", doctor.positions)
    return report


def _schema(connection: Connection, revision: str, where: str, window: Any) -> list[Problem]:
    try:
        window.check(connection, revision, where)
    except SchemaOutOfDate as error:
        return [
            Problem(
                "schema revision",
                str(error),
                "run the fiml-bot whose window holds this revision, or `fiml-bot db upgrade`",
            )
        ]
    return []


def _provider_keys(connection: Connection, env: Mapping[str, str]) -> list[Problem]:
    from fiml_bot.keys.health import unreadable_keys

    found = unreadable_keys(connection, env)
    return [] if found is None else [Problem("provider keys decryptable", *found)]


class _Checks:
    def __init__(self, connection: Connection, content: Content | None, report: Report) -> None:
        self.connection = connection
        self.content = content
        self.report = report

    def run(self, name: str, check: Any) -> None:
        self.report.checks.append(name)
        self.report.problems.extend(check())

    # the store against itself

    def ledger_keys(self) -> list[Problem]:
        duplicates = queries.duplicate_ledger_keys(self.connection)
        negative = queries.negative_ledger_entries(self.connection)
        return [
            Problem(
                "ledger keys unique",
                f"XP ledger key {r.key!r} appears {r.n} times ({r.total} XP)",
                "delete the later copies: a key pays once",
                r.learner_id,
                _lesson_of_key(r.key),
            )
            for r in duplicates
        ] + [
            Problem(
                "ledger keys unique",
                f"XP ledger entry {r.key!r} has a negative amount ({r.amount})",
                "XP is never taken away: delete the entry",
                r.learner_id,
                r.lesson_id,
            )
            for r in negative
        ]

    def orphans(self) -> list[Problem]:
        problems = []
        for table in LEARNER_TABLES:
            for r in queries.orphan_rows(self.connection, table):
                problems.append(
                    Problem(
                        "no orphan rows",
                        f"{r.n} row(s) in {table} belong to no learner",
                        "restore the learner from a snapshot, or delete the rows",
                        r.learner_id,
                    )
                )
        return problems

    def completion_awards(self) -> list[Problem]:
        """Each completed lesson was paid (unless its reward was 0), and each payment a completion
        records equals the ledger's."""
        problems = []
        unpaid = queries.unpaid_completions(self.connection)
        former = self._former_keys()
        paid_formerly = set()
        if former and unpaid:
            for learner, key in queries.holders_of_keys(self.connection, former):
                paid_formerly.add((learner, former[key]))
        for r in unpaid:
            if (r.learner_id, r.lesson_id) in paid_formerly or (
                r.earned == 0 and self._reward(r.lesson_id, r.version) == 0
            ):
                continue
            problems.append(
                Problem(
                    "completions paid",
                    f"completed, but the ledger has no {gamification.lesson_key(r.lesson_id)!r} payment",
                    "restore the ledger from a snapshot (`fiml-bot db restore`), or import the learner's progress document",
                    r.learner_id,
                    r.lesson_id,
                )
            )
        for m in queries.mispaid_completions(self.connection, gamification.REASON_LESSON):
            problems.append(
                Problem(
                    "completions paid",
                    f"the completion records {m.xp_earned} XP, the ledger paid {m.amount}",
                    "the ledger is the truth: correct the completion's xp_earned",
                    m.learner_id,
                    m.lesson_id,
                )
            )
        return problems

    def badges(self) -> list[Problem]:
        paths = list(self.content.paths()) if self.content is not None else []
        known = {b.id for b in gamification.badge_table(paths)}
        counted = {
            "first_steps": 1,
            "five_lessons": 5,
            "ten_lessons": 10,
        }
        problems = []
        held = queries.held_badges(self.connection)
        needs_lessons: dict[str, set[str]] = {}
        for r in held:
            reason = None
            if r.badge in counted and r.lessons < counted[r.badge]:
                reason = f"needs {counted[r.badge]} completed lesson(s), has {r.lessons}"
            elif r.badge == "xp_1000" and r.xp < 1000:
                reason = f"needs 1,000 XP, the ledger holds {r.xp}"
            elif r.badge == "perfect_quiz" and r.perfect == 0:
                reason = "needs a completion with every answer right, has none"
            elif r.badge == "path_explorer" or r.badge.startswith(gamification.PATH_BADGE_PREFIX):
                needs_lessons.setdefault(r.learner_id, set()).add(r.badge)
            elif self.content is not None and r.badge not in known:
                reason = "is not a badge of this bot (nor of a learning path in the content)"
            if reason is not None:
                problems.append(
                    Problem(
                        "badges match the rules",
                        f"badge {r.badge!r} {reason}",
                        "delete the badge, or restore the data that earned it",
                        r.learner_id,
                    )
                )
        if needs_lessons and self.content is not None:
            problems += self._path_badges(needs_lessons, paths)
        return problems

    def _path_badges(self, holders: dict[str, set[str]], paths: list[Any]) -> list[Problem]:
        completed: dict[str, set[str]] = {learner: set() for learner in holders}
        for learner_id, lesson_id in queries.path_badge_completions(
            self.connection, "path_explorer", gamification.PATH_BADGE_PREFIX
        ):
            if learner_id in completed:
                completed[learner_id].add(self.content.current_id(lesson_id) or lesson_id)  # type: ignore[union-attr]
        by_id = {p.id: p for p in paths}
        problems = []
        for learner, badges in sorted(holders.items()):
            done = completed[learner]
            for badge in sorted(badges):
                if badge == "path_explorer":
                    ok = any(len(done.intersection(p.lessons)) >= 3 for p in paths)
                    reason = "needs 3 completed lessons of one learning path"
                else:
                    path = by_id.get(badge[len(gamification.PATH_BADGE_PREFIX) :])
                    ok = path is not None and set(path.lessons) <= done
                    reason = (
                        "names no learning path of the content"
                        if path is None
                        else "needs every lesson of its path completed"
                    )
                if not ok:
                    problems.append(
                        Problem(
                            "badges match the rules",
                            f"badge {badge!r} {reason}",
                            "delete the badge, or restore the data that earned it",
                            learner,
                        )
                    )
        return problems

    # the store against the content

    def _former_keys(self) -> dict[str, str]:
        """`lesson:<former id>` -> current id, for lessons renamed through `replaces`."""
        if self.content is None:
            return {}
        former = {}
        for lesson_id in self.content.lesson_ids():
            try:
                for old in self.content.latest(lesson_id).replaces:
                    former[gamification.lesson_key(old)] = lesson_id
            except Exception:
                continue
        return former

    def _reward(self, lesson_id: str, version: str) -> int | None:
        lesson = self._lesson(lesson_id, version)
        return None if lesson is None else lesson.xp_reward

    def _lesson(self, lesson_id: str, version: str) -> Any:
        if self.content is None:
            return None
        try:
            return self.content.get(lesson_id, version)
        except Exception:
            return None

    def versions(self) -> list[Problem]:
        assert self.content is not None
        problems = []
        for column in queries.VERSION_COLUMNS:
            for pair in queries.version_uses(self.connection, column):
                verdict = self._version_verdict(pair.lesson_id, pair.version, column)
                if verdict is None:
                    continue
                message, hint = verdict
                for learner_id in queries.learners_on_version(
                    self.connection, column, pair.lesson_id, pair.version
                ):
                    problems.append(Problem("versions resolvable", message, hint, learner_id, pair.lesson_id))
        return problems

    def _version_verdict(self, lesson_id: str, version: str, column: str) -> tuple[str, str] | None:
        assert self.content is not None
        if self.content.current_id(lesson_id) is None:
            return (
                f"lesson {lesson_id!r} is not in the content",
                "publish the lesson again, or list its id in another lesson's `replaces`",
            )
        if self._lesson(lesson_id, version) is not None:
            return None
        if self.content.is_yanked(lesson_id, version):
            return None  # known and withdrawn: the tutor restarts an in-progress learner on their next visit
        return (
            f"{column.replace('_', ' ')} {version} cannot be resolved (no tag, history or archive entry)",
            "publish that version (`fiml-cms tag`), or yank it so the learner restarts on the latest",
        )

    def positions(self) -> list[Problem]:
        assert self.content is not None
        problems = []
        for t in queries.positions(self.connection):
            lesson = self._lesson(t.lesson_id, t.pinned_version)
            if lesson is None or any(s.id == t.current_section for s in lesson.sections):
                continue  # an unresolvable version is reported by `versions`
            for learner_id in queries.learners_at(self.connection, t):
                problems.append(
                    Problem(
                        "positions exist",
                        f"current section {t.current_section!r} is not a section of version {t.pinned_version}",
                        f"set current_section to a section of {t.lesson_id} {t.pinned_version} (or NULL to start at the first)",
                        learner_id,
                        t.lesson_id,
                    )
                )
        return problems


def _lesson_of_key(key: str) -> str | None:
    parts = key.split(":")
    return parts[1] if len(parts) > 1 and parts[0] in ("lesson", "answer", "lesson-raise") else None


def run(url: str, content: Content | None, env: Mapping[str, str] | None = None) -> Report:
    """Open the database at `url` read-only in spirit (one transaction, rolled back) and examine it."""
    from fiml_bot.storage.database import describe, make_engine, sqlite_path, storage_errors

    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise CannotRun(f"the database file {path} does not exist")
    engine = make_engine(url, readers=True)
    try:
        with storage_errors(describe(url)), engine.connect() as connection:
            try:
                return examine(connection, content, where=describe(url), env=env)
            finally:
                connection.rollback()
    finally:
        engine.dispose()
