"""`fiml-bot db rehearse`: the seed's "test migration with a production copy" and "test rollback".

A copy (a snapshot, or a fresh snapshot of a database URL) is restored into a throwaway database (a
SQLite file in a temporary folder, or a new PostgreSQL database on the same server), then: doctor,
upgrade to head, doctor, a scripted learner who takes the first lesson through the real tutor,
downgrade to the starting revision, doctor. Per-learner XP and completions are compared at every
stage with set-based queries; any learner with less than at an earlier stage is a loss (exit 1),
and so is a doctor problem that the copy did not have before the migration.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from fiml_bot.storage import health_queries, migrations_api, pg_admin
from fiml_bot.storage.database import describe, make_engine, parse_url

from . import doctor, restore, snapshots
from .errors import OpsError
from .killpoints import point

SCRIPTED_LEARNER = "rehearsal:scripted"
SHOWN_LOSSES = 20


@dataclass(frozen=True)
class Stage:
    name: str
    revision: str | None
    totals: dict[str, tuple[int, int]]  # learner -> (XP, completions)
    problems: int | None  # doctor problems; None when the doctor did not run at this stage

    @property
    def xp(self) -> int:
        return sum(x for x, _ in self.totals.values())

    @property
    def completions(self) -> int:
        return sum(c for _, c in self.totals.values())


@dataclass
class Rehearsal:
    source: str
    stages: list[Stage] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    new_problems: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.losses or self.new_problems else 0

    def render(self) -> str:
        header = f"{'stage':<24} {'revision':<9} {'learners':>9} {'XP':>12} {'completions':>12} {'doctor':>8}"
        lines = [f"rehearsal of {self.source}", header, "-" * len(header)]
        for s in self.stages:
            doctor_cell = "-" if s.problems is None else ("clean" if s.problems == 0 else f"{s.problems} pb")
            lines.append(
                f"{s.name:<24} {s.revision or 'base':<9} {len(s.totals):>9} {s.xp:>12} {s.completions:>12} {doctor_cell:>8}"
            )
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"LOSS: {loss}" for loss in self.losses[:SHOWN_LOSSES]]
        if len(self.losses) > SHOWN_LOSSES:
            lines.append(f"LOSS: ... and {len(self.losses) - SHOWN_LOSSES} more")
        lines += [f"NEW PROBLEM: {p}" for p in self.new_problems[:SHOWN_LOSSES]]
        verdict = (
            "FAILED: data would be lost"
            if self.losses
            else (
                "FAILED: the migration creates doctor problems"
                if self.new_problems
                else "passed: no learner lost XP or completions"
            )
        )
        lines.append(verdict)
        return "\n".join(lines)


def totals(url: str) -> dict[str, tuple[int, int]]:
    """Per-learner XP and completion counts, in two grouped queries."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            try:
                return health_queries.learner_totals(connection)
            finally:
                connection.rollback()
    finally:
        engine.dispose()


def compare(earlier: Stage, later: Stage) -> list[str]:
    losses = []
    for who, (xp, count) in sorted(earlier.totals.items()):
        now = later.totals.get(who)
        if now is None:
            losses.append(
                f"{who}: missing after {later.name} (had {xp} XP, {count} completions at {earlier.name})"
            )
        elif now[0] < xp or now[1] < count:
            losses.append(
                f"{who}: {xp} XP / {count} completions at {earlier.name}, {now[0]} XP / {now[1]} after {later.name}"
            )
    return losses


def shown(source: str) -> str:
    """A snapshot path as it is; a database URL without its password."""
    return describe(source) if "://" in source else source


def rehearse(
    source: str,
    database_url: str,
    content: Any,
    reason: str | None,
    env: Mapping[str, str],
    *,
    pg_bindir: str = "",
) -> Rehearsal:
    """Rehearse on a copy of `source` (a snapshot or a URL; `database_url` is the configured one);
    without `content` (`reason` says why) there is no scripted session; `env`: the settings stored
    provider keys are checked against; `pg_bindir`: where pg_dump and pg_restore are ("" for PATH)."""
    remove_interrupted_workspaces()
    with _workspace() as work, _copy(source, database_url, work, pg_bindir) as url:
        point("rehearse:copied")
        result = Rehearsal(shown(source))
        start = migrations_api.current(url)
        if start is None:
            raise OpsError(f"{shown(source)} holds no schema: there is nothing to rehearse")
        if start not in migrations_api.known_revisions():
            raise OpsError(f"{shown(source)} is at revision {start}, which this fiml-bot does not know")
        head = migrations_api.head()
        baseline_problems = _problem_keys(url, content, env)
        _stage(result, "copy", url, problems=len(baseline_problems))
        migrations_api.upgrade(url)
        upgraded_problems = _problem_keys(url, content, env)
        result.new_problems += sorted(upgraded_problems - baseline_problems)
        _stage(result, f"upgraded to {head}", url, problems=len(upgraded_problems))
        if content is None:
            result.notes.append(f"no scripted session: {reason}")
        else:
            _scripted_session(url, content, result)
            _stage(result, "after scripted session", url)
        if start == head:
            result.notes.append(f"the copy was already at head ({head}): no migration to rehearse up or down")
        else:
            migrations_api.downgrade(url, start)
        down_problems = _problem_keys(url, content, env)
        result.new_problems += sorted(down_problems - baseline_problems - upgraded_problems)
        _stage(result, f"downgraded to {start}", url, problems=len(down_problems))
        for earlier, later in itertools.pairwise(result.stages):
            result.losses += compare(earlier, later)
        return result


def _stage(result: Rehearsal, name: str, url: str, problems: int | None = None) -> Stage:
    stage = Stage(name, migrations_api.current(url), totals(url), problems)
    result.stages.append(stage)
    return stage


def _problem_keys(url: str, content: Any, env: Mapping[str, str]) -> set[str]:
    report = doctor.run(url, content, env)
    return {
        f"{p.check}: {p.learner or '-'} {p.lesson or '-'}: {p.message}"
        for p in report.problems
        if p.check != "schema revision"
    }


WORKSPACE_PREFIX = "fiml-rehearse-"
WORKSPACE_LOCK = ".lock"


@contextmanager
def _workspace() -> Iterator[Path]:
    """A private temp folder (it holds a copy of every learner), locked while the rehearsal runs so
    that a later rehearsal removes it only once its process is gone."""
    folder = Path(tempfile.mkdtemp(prefix=WORKSPACE_PREFIX))
    fd = os.open(folder / WORKSPACE_LOCK, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.close(fd)


def remove_interrupted_workspaces() -> list[Path]:
    """Remove the temp folders of rehearsals whose process died (their lock is free)."""
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{WORKSPACE_PREFIX}*"):
        try:
            fd = os.open(folder / WORKSPACE_LOCK, os.O_RDONLY)
        except OSError:
            continue  # not ours, or being created
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue
        else:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        finally:
            os.close(fd)
    return removed


@contextmanager
def _copy(source: str, configured_url: str, work: Path, pg_bindir: str) -> Iterator[str]:
    """A throwaway database holding a copy of `source` (a snapshot file or a database URL)."""
    path = Path(source)
    if "://" not in source:
        manifest = snapshots.read_manifest(path)
        server_url = configured_url
    else:
        manifest = snapshots.take(source, folder=work / "snapshots", label="rehearsal", pg_bindir=pg_bindir)
        server_url = source
    if manifest.kind == "sqlite":
        url = f"sqlite:///{work / 'rehearsal.db'}"
        restore.restore(url, manifest.path, folder=work / "snapshots", pg_bindir=pg_bindir)
        yield url
        return
    with _throwaway_postgres(server_url, manifest.pg_schema or "public") as url:
        restore.restore(url, manifest.path, folder=work / "snapshots", pg_bindir=pg_bindir)
        yield url


@contextmanager
def _throwaway_postgres(server_url: str, schema: str) -> Iterator[str]:
    parsed = parse_url(server_url)
    if parsed.get_backend_name() != "postgresql":
        raise OpsError(
            "a PostgreSQL snapshot is rehearsed on a PostgreSQL server: give its URL with --database (or FIML_DATABASE_URL)"
        )
    rehearsal_id = uuid.uuid4().hex[:12]
    name = f"{REHEARSE_DATABASE}{rehearsal_id}"
    admin = create_engine(parsed, isolation_level="AUTOCOMMIT")
    keeper = admin.connect()  # holds the rehearsal's advisory lock for its whole life
    try:
        _drop_interrupted_databases(keeper)
        pg_admin.advisory_lock(keeper, int(rehearsal_id, 16))
        pg_admin.create_database(keeper, name)
        mark = json.dumps({"fiml_rehearse": rehearsal_id, "lock_database": parsed.database})
        pg_admin.comment_on_database(keeper, name, mark)
        url = parsed.set(database=name).update_query_dict({"options": f"-csearch_path={schema}"})
        fresh = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with fresh.connect() as connection:
                pg_admin.create_schema(connection, schema, if_not_exists=True)
        finally:
            fresh.dispose()
        yield url.render_as_string(hide_password=False)
    finally:
        try:
            with admin.connect() as connection:
                pg_admin.drop_database(connection, name)
        finally:
            keeper.close()
            admin.dispose()


REHEARSE_DATABASE = "fiml_rehearse_"


def _drop_interrupted_databases(connection: Any) -> list[str]:
    """Drop the throwaway databases of rehearsals whose process died: each is marked with the
    database holding its lock, and a free lock there means its owner is gone. (One killed between
    CREATE DATABASE and its COMMENT, a moment, stays: without a mark it might be running.)"""
    rows = pg_admin.databases_named_like(connection, REHEARSE_DATABASE.replace("_", "\\_") + "%")
    here = pg_admin.current_database(connection)
    dropped = []
    for name, comment in rows:
        try:
            mark = json.loads(comment or "")
            key = int(str(mark["fiml_rehearse"]), 16)
        except (ValueError, KeyError, TypeError):
            continue
        if mark.get("lock_database") != here or name != f"{REHEARSE_DATABASE}{mark['fiml_rehearse']}":
            continue
        if not pg_admin.try_advisory_lock(connection, key):
            continue  # that rehearsal is running
        try:
            pg_admin.drop_database(connection, name)
            dropped.append(name)
        finally:
            pg_admin.advisory_unlock(connection, key)
    return dropped


def _scripted_session(url: str, content: Any, result: Rehearsal) -> None:
    """A new learner takes the first lesson through the real tutor, answering every question right."""
    from fiml_bot.opening import policy_settings
    from fiml_bot.storage import open_storage
    from fiml_bot.tutor.engine import Tutor

    with open_storage(url) as storage:
        tutor = Tutor(content, storage, policy=policy_settings(content))
        session = _Session(tutor, content)
        try:
            session.take_first_lesson()
        except _Stuck as stuck:
            result.notes.append(f"the scripted session stopped early: {stuck}")


class _Stuck(Exception):
    pass


class _Session:
    def __init__(self, tutor: Any, content: Any) -> None:
        self.tutor = tutor
        self.content = content
        self.last: list[Any] = []

    def send(self, event: Any) -> None:
        self.last = self.tutor.handle(SCRIPTED_LEARNER, event, name="Rehearsal")

    def press(self, label: str) -> None:
        from fiml_bot.tutor.events import Pressed

        for message in reversed(self.last):
            for button in message.all_buttons:
                if label in button.label:
                    self.send(Pressed(button.data))
                    return
        raise _Stuck(f"no button {label!r}")

    def take_first_lesson(self) -> None:
        from fiml_bot.tutor.events import ListLessons, Start

        self.send(Start())
        self.send(ListLessons())
        first = next((b for m in self.last for b in m.all_buttons if "🔒" not in b.label), None)
        if first is None:
            raise _Stuck("no lesson is open to a new learner")
        self.press(first.label)
        for _ in range(100):
            labels = [b.label for m in self.last for b in m.all_buttons]
            if any("Start the quiz" in label for label in labels):
                self.press("Start the quiz")
                break
            self.press("Next")
        for _ in range(100):
            if not self._answer():
                return

    def _answer(self) -> bool:
        from fiml_bot.tutor.events import Text
        from fiml_cms.lesson import MultipleChoiceQuestion, TrueFalseQuestion

        with self.tutor.unit_of_work() as uow:
            waiting = [p for p in uow.progress.all_progress(SCRIPTED_LEARNER) if p.status == "quiz"]
        if not waiting:
            return False
        progress = waiting[0]
        lesson = self.content.get(progress.lesson_id, progress.pinned_version)
        answered = {a.question_id for a in progress.answers}
        question = next((q for q in lesson.quiz.questions if q.id not in answered), None)
        if question is None:
            return False
        if isinstance(question, MultipleChoiceQuestion):
            self.press(f"{question.answer + 1}. ")
        elif isinstance(question, TrueFalseQuestion):
            self.press("True" if question.answer else "False")
        else:
            self.send(Text(f"{question.answer:g}"))
        return True
