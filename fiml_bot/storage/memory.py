"""An in-memory progress store with the SQL store's semantics, for fast tutor tests.

`MemoryStorage()` holds the committed state; calling it returns a `MemoryUnitOfWork`, as the SQL
`Storage` does. The semantics match the SQL repository's:

- revisions: 0 inserts, anything else must match the stored revision, else `ConcurrentUpdate`;
- keys: an XP key (per learner), a badge, an event key is recorded once, later attempts return False;
- transactions: a unit of work works on private copies of the learners it touches; its changes become
  visible to others only on `commit()`, and a rollback (or leaving the `with` block) discards them;
- records for a learner that was never saved raise `UnknownLearner`; naive datetimes `ValueError`.

Thread-safe: the committed state is guarded by one lock. As with a database's row locks, the first
unit to write a learner or a progress record holds it until it ends; a second writer waits for it
(up to `lock_timeout`, then `StorageUnavailable`), then finds the revision moved on and raises
`ConcurrentUpdate`. Keys (XP, badges, events) are checked again at commit: when two units pay the
same key, the later commit raises `ConcurrentUpdate` and its retry sees the key as paid (on
PostgreSQL the later insert waits and inserts nothing). Reads within a unit of work see a learner as
it was when first read (a snapshot), plus the unit's own changes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Self

from fiml_bot.tutor.model import (
    BadgeAward,
    Completion,
    Learner,
    LearnerReport,
    LessonProgress,
    MessageSettings,
    Notice,
    StoredAnswer,
    XpAward,
)
from fiml_bot.tutor.ports import (
    ConcurrentUpdate,
    ProgressRepository,
    StorageUnavailable,
)

from .errors import UnknownLearner
from .facts import ProgressFact
from .timestamps import as_utc, utc_now


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else as_utc(value)


@dataclass
class _Bucket:
    """One learner and everything recorded for them."""

    learner: Learner
    progress: dict[str, LessonProgress] = field(default_factory=dict)
    completions: list[Completion] = field(default_factory=list)
    xp: dict[str, XpAward] = field(default_factory=dict)  # by key, in the order paid
    badges: dict[str, BadgeAward] = field(default_factory=dict)
    reports: list[LearnerReport] = field(default_factory=list)
    answers: dict[tuple[str, int, str], StoredAnswer] = field(
        default_factory=dict
    )  # (lesson, attempt, question)
    notices: dict[str, Notice] = field(default_factory=dict)  # by key
    settings: MessageSettings = field(default_factory=MessageSettings)

    def copy(self) -> _Bucket:
        return _Bucket(
            self.learner,
            dict(self.progress),
            list(self.completions),
            dict(self.xp),
            dict(self.badges),
            list(self.reports),
            dict(self.answers),
            dict(self.notices),
            self.settings,
        )


def _rename_completions(completions: list[Completion], old_id: str, new_id: str) -> None:
    for index, completion in enumerate(completions):
        if completion.lesson_id == old_id:
            completions[index] = dataclasses.replace(completion, lesson_id=new_id)


@dataclass
class _MemorySnapshot:
    buckets: dict[str, _Bucket]

    def progress_on(self, lesson_ids: Iterable[str], learner_prefix: str = "") -> Iterator[ProgressFact]:
        wanted = set(lesson_ids)
        for learner_id in sorted(self.buckets):
            bucket = self.buckets[learner_id]
            if not learner_id.startswith(learner_prefix) or not bucket.learner.active:
                continue
            for lesson_id in sorted(wanted & bucket.progress.keys()):
                p = bucket.progress[lesson_id]
                yield ProgressFact(
                    learner_id, lesson_id, p.status, p.pinned_version, p.completed_version, p.seen_version
                )

    def streaks(self, learner_prefix: str = "") -> Iterator[Learner]:
        for learner_id in sorted(self.buckets):
            learner = self.buckets[learner_id].learner
            if learner_id.startswith(learner_prefix) and learner.active and learner.streak_days > 0:
                yield learner


class MemoryStorage:
    """The committed state; `storage()` returns a new unit of work on it."""

    def __init__(self, *, lock_timeout: float = 5.0) -> None:
        self.lock_timeout = lock_timeout
        self._lock = threading.Lock()
        self._released = threading.Condition(self._lock)
        self._buckets: dict[str, _Bucket] = {}
        self._processed: dict[str, dt.datetime] = {}
        self._claims: dict[tuple[str, ...], object] = {}  # records written by uncommitted units

    def __call__(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)

    def schema_revision(self) -> str | None:
        """As the SQL store's; an in-memory store has no schema (None)."""
        return None

    def reader(self) -> MemoryUnitOfWork:
        """As the SQL store's read-only unit of work (a unit of work reads a snapshot here anyway)."""
        return self()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[_MemorySnapshot]:
        """As the SQL store's: a consistent, read-only view of the committed state."""
        with self._lock:
            buckets = {learner_id: bucket.copy() for learner_id, bucket in self._buckets.items()}
        yield _MemorySnapshot(buckets)

    def prune_events(self, before: dt.datetime, prefix: str, batch: int = 500) -> int:
        with self._lock:
            old = [k for k, at in self._processed.items() if k.startswith(prefix) and at < before]
            for key in old:
                del self._processed[key]
            return len(old)

    def processed_count(self) -> int:
        with self._lock:
            return len(self._processed)

    # reads of the committed state, each under the lock

    def _copy(self, learner_id: str) -> _Bucket | None:
        with self._lock:
            bucket = self._buckets.get(learner_id)
            return None if bucket is None else bucket.copy()

    def _claim_learner(self, learner_id: str, owner: object) -> int:
        """Claim the learner record for `owner`'s transaction; its committed revision (0: absent)."""
        with self._lock:
            self._claim(("learner", learner_id), owner)
            bucket = self._buckets.get(learner_id)
            return 0 if bucket is None else bucket.learner.revision

    def _claim_progress(self, learner_id: str, lesson_id: str, owner: object) -> int:
        with self._lock:
            self._claim(("progress", learner_id, lesson_id), owner)
            bucket = self._buckets.get(learner_id)
            progress = None if bucket is None else bucket.progress.get(lesson_id)
            return 0 if progress is None else progress.revision

    def _claim(self, record: tuple[str, ...], owner: object) -> None:
        """The first writer of a record holds it until it commits or rolls back, as a row lock would.

        A second writer waits for the first to end (up to `lock_timeout`, then StorageUnavailable, as a
        locked SQLite database); the caller then compares the revision, which the first may have moved.
        Called with the lock held.
        """
        deadline = time.monotonic() + self.lock_timeout
        while self._claims.get(record, owner) is not owner:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._released.wait(remaining):
                raise StorageUnavailable(
                    f"{' '.join(record)} is held by another unit of work (waited {self.lock_timeout:g} s)"
                )
        self._claims[record] = owner

    def _release(self, records: set[tuple[str, ...]], owner: object) -> None:
        with self._lock:
            for record in records:
                if self._claims.get(record) is owner:
                    del self._claims[record]
            self._released.notify_all()

    def _xp_paid(self, learner_id: str, key: str) -> bool:
        with self._lock:
            bucket = self._buckets.get(learner_id)
            return bucket is not None and key in bucket.xp

    def _has_badge(self, learner_id: str, badge: str) -> bool:
        with self._lock:
            bucket = self._buckets.get(learner_id)
            return bucket is not None and badge in bucket.badges

    def _lesson_answers(self, lesson_id: str) -> list[StoredAnswer]:
        with self._lock:
            return [a for b in self._buckets.values() for a in b.answers.values() if a.lesson_id == lesson_id]

    def _all_notices(self) -> list[Notice]:
        with self._lock:
            return [n for b in self._buckets.values() for n in b.notices.values()]

    def _opted_out(self, kind: str) -> set[str]:
        with self._lock:
            return {i for i, b in self._buckets.items() if not b.settings.allows(kind)}

    def _is_processed(self, key: str) -> bool:
        with self._lock:
            return key in self._processed

    def _all_buckets(self) -> list[_Bucket]:
        with self._lock:
            return [bucket.copy() for bucket in self._buckets.values()]

    def _learner_ids(self) -> set[str]:
        with self._lock:
            return set(self._buckets)

    def _commit(self, changes: MemoryProgressRepository) -> None:
        """Validate the unit's changes against the committed state and apply all of them, or none."""
        with self._lock:
            conflict = self._conflict(changes)
            if conflict:
                raise ConcurrentUpdate(f"{conflict}: another action committed first")
            self._apply(changes)

    def _conflict(self, changes: MemoryProgressRepository) -> str | None:
        for learner_id, base in changes._learner_base.items():
            bucket = self._buckets.get(learner_id)
            if (0 if bucket is None else bucket.learner.revision) != base:
                return f"learner {learner_id!r} changed"
        for (learner_id, lesson_id), base in changes._progress_base.items():
            bucket = self._buckets.get(learner_id)
            progress = None if bucket is None else bucket.progress.get(lesson_id)
            if (0 if progress is None else progress.revision) != base:
                return f"progress of {learner_id!r} in {lesson_id!r} changed"
        for award in changes._new_xp:
            bucket = self._buckets.get(award.learner_id)
            if bucket is not None and award.key in bucket.xp:
                return f"XP {award.key!r} of {award.learner_id!r} was paid"
        for badge in changes._new_badges:
            bucket = self._buckets.get(badge.learner_id)
            if bucket is not None and badge.badge in bucket.badges:
                return f"badge {badge.badge!r} of {badge.learner_id!r} was awarded"
        for key in changes._new_processed:
            if key in self._processed:
                return f"event {key!r} was processed"
        for answer in changes._new_answers:
            bucket = self._buckets.get(answer.learner_id)
            if bucket is not None and _answer_key(answer) in bucket.answers:
                return f"answer {_answer_key(answer)!r} of {answer.learner_id!r} was recorded"
        for notice in changes._new_notices:
            bucket = self._buckets.get(notice.learner_id)
            if bucket is not None and notice.key in bucket.notices:
                return f"message {notice.key!r} of {notice.learner_id!r} was scheduled"
        for learner_id, key, _ in changes._sent:
            bucket = self._buckets.get(learner_id)
            sent = None if bucket is None else bucket.notices.get(key)
            if sent is not None and sent.sent_at is not None:
                return f"message {key!r} of {learner_id!r} was sent"
        return None

    def _apply(self, changes: MemoryProgressRepository) -> None:
        mine = changes._buckets
        for learner_id in changes._learner_base:
            learner = mine[learner_id].learner  # type: ignore[union-attr]
            if learner_id in self._buckets:
                self._buckets[learner_id].learner = learner
            else:
                self._buckets[learner_id] = _Bucket(learner)
        for learner_id, lesson_id in changes._progress_base:
            saved = mine[learner_id].progress.get(lesson_id)  # type: ignore[union-attr]
            target = self._buckets[learner_id].progress
            if saved is None:
                target.pop(lesson_id, None)
            else:
                target[lesson_id] = saved
        for learner_id, operations in changes._completion_ops.items():
            completions = self._buckets[learner_id].completions
            for operation in operations:
                if isinstance(operation, Completion):
                    completions.append(operation)
                else:
                    _rename_completions(completions, *operation)
        for award in changes._new_xp:
            self._buckets[award.learner_id].xp[award.key] = award
        for badge in changes._new_badges:
            self._buckets[badge.learner_id].badges[badge.badge] = badge
        self._processed.update(changes._new_processed)
        for learner_id in changes._report_learners:  # the unit's view of the learner's reports wins
            self._buckets[learner_id].reports = mine[learner_id].reports  # type: ignore[union-attr]
        for answer in changes._new_answers:
            self._buckets[answer.learner_id].answers[_answer_key(answer)] = answer
        for notice in changes._new_notices:
            self._buckets[notice.learner_id].notices[notice.key] = notice
        for learner_id, settings in changes._settings.items():
            self._buckets[learner_id].settings = settings
        for learner_id, key, at in changes._sent:
            notices = self._buckets[learner_id].notices
            if key in notices:
                notices[key] = dataclasses.replace(notices[key], sent_at=at)


class MemoryProgressRepository:
    """`ProgressRepository` on private copies of the committed state; `MemoryUnitOfWork` commits it."""

    def __init__(self, storage: MemoryStorage) -> None:
        self._storage = storage
        self._reset()

    def _reset(self) -> None:
        claimed = getattr(self, "_claimed", None)
        if claimed:
            self._storage._release(claimed, self)
        self._claimed: set[tuple[str, ...]] = set()
        self._buckets: dict[str, _Bucket | None] = {}  # private copies; None: no such learner when read
        self._learner_base: dict[str, int] = {}  # committed revision when first written (0: absent)
        self._progress_base: dict[tuple[str, str], int] = {}
        self._completion_ops: dict[str, list[Completion | tuple[str, str]]] = {}  # adds and renames, in order
        self._new_xp: list[XpAward] = []
        self._new_badges: list[BadgeAward] = []
        self._new_processed: dict[str, dt.datetime] = {}
        self._report_learners: set[str] = set()
        self._new_answers: list[StoredAnswer] = []
        self._new_notices: list[Notice] = []
        self._sent: list[tuple[str, str, dt.datetime]] = []
        self._settings: dict[str, MessageSettings] = {}

    def _bucket(self, learner_id: str) -> _Bucket | None:
        bucket = self._buckets.get(learner_id)
        if bucket is None:  # not read yet, or absent then: another unit may have committed it since
            bucket = self._storage._copy(learner_id)
            self._buckets[learner_id] = bucket
        return bucket

    def _existing(self, learner_id: str) -> _Bucket:
        bucket = self._bucket(learner_id)
        if bucket is None:
            raise UnknownLearner(learner_id)
        return bucket

    # learners

    def learner(self, learner_id: str) -> Learner | None:
        bucket = self._bucket(learner_id)
        return None if bucket is None else bucket.learner

    def save_learner(self, learner: Learner) -> Learner:
        if learner.id in self._learner_base:
            bucket = self._buckets[learner.id]
            current = 0 if bucket is None else bucket.learner.revision
        else:
            current = self._storage._claim_learner(learner.id, self)
            self._claimed.add(("learner", learner.id))
            bucket = self._bucket(learner.id)  # after the claim: a learner absent when read is fetched
        if learner.revision != current:
            raise ConcurrentUpdate(
                f"learner {learner.id!r} is not at revision {learner.revision}: another action saved it first"
            )
        self._learner_base.setdefault(learner.id, current)
        saved = dataclasses.replace(learner, revision=current + 1)
        if current == 0:
            saved = dataclasses.replace(saved, created_at=learner.created_at or utc_now())
        stored = dataclasses.replace(
            saved,
            created_at=_utc(saved.created_at) or (bucket.learner.created_at if bucket is not None else None),
        )
        if bucket is None:
            self._buckets[learner.id] = _Bucket(stored)
        else:
            bucket.learner = stored
        return saved

    def learner_ids(self) -> list[str]:
        ids = self._storage._learner_ids()
        ids.update(learner_id for learner_id, bucket in self._buckets.items() if bucket is not None)
        return sorted(ids)

    # lesson progress

    def progress(self, learner_id: str, lesson_id: str) -> LessonProgress | None:
        bucket = self._bucket(learner_id)
        return None if bucket is None else bucket.progress.get(lesson_id)

    def all_progress(self, learner_id: str) -> list[LessonProgress]:
        bucket = self._bucket(learner_id)
        return [] if bucket is None else [bucket.progress[lesson] for lesson in sorted(bucket.progress)]

    def save_progress(self, progress: LessonProgress) -> LessonProgress:
        bucket = self._existing(progress.learner_id)
        current = self._progress_revision_for_write(bucket, progress.learner_id, progress.lesson_id)
        if progress.revision != current:
            raise ConcurrentUpdate(
                f"progress of {progress.learner_id!r} in {progress.lesson_id!r} is not at revision "
                f"{progress.revision}: another action saved it first"
            )
        self._progress_base.setdefault((progress.learner_id, progress.lesson_id), current)
        saved = dataclasses.replace(progress, revision=current + 1)
        bucket.progress[progress.lesson_id] = _normalized_progress(saved)
        return saved

    def _progress_revision_for_write(self, bucket: _Bucket, learner_id: str, lesson_id: str) -> int:
        """The revision a write must match: ours once written, else the committed one."""
        if (learner_id, lesson_id) in self._progress_base:
            mine = bucket.progress.get(lesson_id)
            return 0 if mine is None else mine.revision
        current = self._storage._claim_progress(learner_id, lesson_id, self)
        self._claimed.add(("progress", learner_id, lesson_id))
        return current

    def _touch_progress(self, bucket: _Bucket, learner_id: str, lesson_id: str) -> None:
        """Record the revision a rename builds on; ConcurrentUpdate if the copy read is already stale."""
        current = self._progress_revision_for_write(bucket, learner_id, lesson_id)
        mine = bucket.progress.get(lesson_id)
        if (0 if mine is None else mine.revision) != current:
            raise ConcurrentUpdate(
                f"progress of {learner_id!r} in {lesson_id!r} changed while it was being renamed"
            )
        self._progress_base.setdefault((learner_id, lesson_id), current)

    def rename_lesson(self, learner_id: str, old_id: str, new_id: str) -> None:
        bucket = self._bucket(learner_id)
        if bucket is None or old_id == new_id:
            return
        moving = bucket.progress.get(old_id)
        if moving is not None:
            staying = bucket.progress.get(new_id)
            self._touch_progress(bucket, learner_id, old_id)
            self._touch_progress(bucket, learner_id, new_id)
            if staying is None:
                bucket.progress[new_id] = dataclasses.replace(
                    moving, lesson_id=new_id, revision=moving.revision + 1
                )
            elif _updated_later(moving, staying):
                bucket.progress[new_id] = dataclasses.replace(
                    moving, lesson_id=new_id, revision=staying.revision + 1
                )
            del bucket.progress[old_id]
        _rename_completions(bucket.completions, old_id, new_id)
        self._completion_ops.setdefault(learner_id, []).append((old_id, new_id))

    # the XP ledger

    def award_xp(self, award: XpAward) -> bool:
        if award.amount < 0:
            raise ValueError(f"XP award {award.key!r} of {award.amount}: XP is never taken away")
        bucket = self._existing(award.learner_id)
        if award.key in bucket.xp or self._storage._xp_paid(award.learner_id, award.key):
            return False
        stored = dataclasses.replace(award, awarded_at=as_utc(award.awarded_at or utc_now()))
        bucket.xp[award.key] = stored
        self._new_xp.append(stored)
        return True

    def xp_total(self, learner_id: str) -> int:
        bucket = self._bucket(learner_id)
        return 0 if bucket is None else sum(award.amount for award in bucket.xp.values())

    def xp_awards(self, learner_id: str) -> list[XpAward]:
        bucket = self._bucket(learner_id)
        return [] if bucket is None else list(bucket.xp.values())

    # completions

    def add_completion(self, completion: Completion) -> None:
        bucket = self._existing(completion.learner_id)
        stored = dataclasses.replace(completion, completed_at=as_utc(completion.completed_at))
        bucket.completions.append(stored)
        self._completion_ops.setdefault(completion.learner_id, []).append(stored)

    def completions(self, learner_id: str, lesson_id: str | None = None) -> list[Completion]:
        bucket = self._bucket(learner_id)
        if bucket is None:
            return []
        chosen = [c for c in bucket.completions if lesson_id is None or c.lesson_id == lesson_id]
        return sorted(chosen, key=lambda completion: completion.completed_at)  # stable: ties in insert order

    # badges and processed events

    def award_badge(self, award: BadgeAward) -> bool:
        bucket = self._existing(award.learner_id)
        if award.badge in bucket.badges or self._storage._has_badge(award.learner_id, award.badge):
            return False
        stored = dataclasses.replace(award, awarded_at=as_utc(award.awarded_at))
        bucket.badges[award.badge] = stored
        self._new_badges.append(stored)
        return True

    def badges(self, learner_id: str) -> list[BadgeAward]:
        bucket = self._bucket(learner_id)
        if bucket is None:
            return []
        return sorted(bucket.badges.values(), key=lambda badge: (badge.awarded_at, badge.badge))

    def mark_processed(self, key: str) -> bool:
        if key in self._new_processed or self._storage._is_processed(key):
            return False
        self._new_processed[key] = utc_now()
        return True

    def add_report(self, report: LearnerReport) -> None:
        self._existing(report.learner_id).reports.append(
            dataclasses.replace(report, created_at=as_utc(report.created_at))
        )
        self._report_learners.add(report.learner_id)

    def pending_report(self, learner_id: str) -> LearnerReport | None:
        bucket = self._bucket(learner_id)
        pending = [r for r in bucket.reports if r.words is None] if bucket is not None else []
        return pending[-1] if pending else None

    def drop_pending_reports(self, learner_id: str) -> None:
        bucket = self._bucket(learner_id)
        if bucket is not None and any(r.words is None for r in bucket.reports):
            bucket.reports = [r for r in bucket.reports if r.words is not None]
            self._report_learners.add(learner_id)

    def reports(self) -> list[LearnerReport]:
        """Every filed report this unit sees (for tests: the SQL store's are read with SQL)."""
        return [r for b in self._storage._all_buckets() for r in b.reports if r.words is not None]

    # quiz answers and scheduled messages

    def record_answer(self, answer: StoredAnswer) -> bool:
        bucket = self._existing(answer.learner_id)
        if _answer_key(answer) in bucket.answers:
            return False
        stored = dataclasses.replace(answer, answered_at=as_utc(answer.answered_at))
        bucket.answers[_answer_key(answer)] = stored
        self._new_answers.append(stored)
        return True

    def lesson_answers(self, lesson_id: str) -> list[StoredAnswer]:
        found = {(a.learner_id, *_answer_key(a)): a for a in self._storage._lesson_answers(lesson_id)}
        for answer in self._new_answers:
            if answer.lesson_id == lesson_id:
                found[(answer.learner_id, *_answer_key(answer))] = answer
        return sorted(found.values(), key=lambda a: (a.learner_id, a.attempt, a.answered_at))

    def learner_answers(self, learner_id: str, lesson_id: str) -> list[StoredAnswer]:
        bucket = self._bucket(learner_id)
        if bucket is None:
            return []
        mine = [a for a in bucket.answers.values() if a.lesson_id == lesson_id]
        return sorted(mine, key=lambda a: (a.attempt, a.answered_at))

    def schedule(self, notice: Notice) -> bool:
        bucket = self._existing(notice.learner_id)
        if notice.key in bucket.notices:
            return False
        stored = dataclasses.replace(notice, due_at=as_utc(notice.due_at))
        bucket.notices[notice.key] = stored
        self._new_notices.append(stored)
        return True

    def schedule_many(self, notices: list[Notice]) -> None:
        for notice in notices:
            self.schedule(notice)

    def due_everywhere(self, now: dt.datetime, kinds: tuple[str, ...], limit: int) -> list[Notice]:
        found = {(n.learner_id, n.key): n for n in self._storage._all_notices()}
        for bucket in self._buckets.values():
            if bucket is not None:
                found.update({(n.learner_id, n.key): n for n in bucket.notices.values()})
        due = [n for n in found.values() if n.sent_at is None and n.kind in kinds and n.due_at <= as_utc(now)]
        return sorted(due, key=lambda n: (n.due_at, n.learner_id, n.key))[:limit]

    def due_notices(self, learner_id: str, now: dt.datetime) -> list[Notice]:
        bucket = self._bucket(learner_id)
        if bucket is None:
            return []
        due = [n for n in bucket.notices.values() if n.sent_at is None and n.due_at <= as_utc(now)]
        return sorted(due, key=lambda n: (n.due_at, n.key))

    def message_settings(self, learner_id: str) -> MessageSettings:
        bucket = self._bucket(learner_id)
        return MessageSettings() if bucket is None else bucket.settings

    def save_message_settings(self, learner_id: str, settings: MessageSettings, at: dt.datetime) -> None:
        self._existing(learner_id).settings = settings
        self._settings[learner_id] = settings

    def opted_out(self, kind: str) -> set[str]:
        if kind not in MessageSettings.__dataclass_fields__:
            return set()
        mine = {i for i, s in self._settings.items() if not s.allows(kind)}
        back_on = {i for i, s in self._settings.items() if s.allows(kind)}
        return (self._storage._opted_out(kind) - back_on) | mine

    def mark_sent(self, learner_id: str, key: str, at: dt.datetime) -> bool:
        bucket = self._existing(learner_id)
        notice = bucket.notices.get(key)
        if notice is None or notice.sent_at is not None:
            return False
        bucket.notices[key] = dataclasses.replace(notice, sent_at=as_utc(at))
        self._sent.append((learner_id, key, as_utc(at)))
        return True


def _answer_key(answer: StoredAnswer) -> tuple[str, int, str]:
    return (answer.lesson_id, answer.attempt, answer.question_id)


def _updated_later(first: LessonProgress, second: LessonProgress) -> bool:
    if first.updated_at is None:
        return False
    return second.updated_at is None or first.updated_at > second.updated_at


def _normalized_progress(progress: LessonProgress) -> LessonProgress:
    return dataclasses.replace(
        progress,
        started_at=_utc(progress.started_at),
        updated_at=_utc(progress.updated_at),
        completed_at=_utc(progress.completed_at),
    )


class MemoryUnitOfWork:
    """`UnitOfWork` on a `MemoryStorage`: `with storage() as uow: ...; uow.commit()`."""

    progress: ProgressRepository

    def __init__(self, storage: MemoryStorage) -> None:
        self._storage = storage
        self._repository = MemoryProgressRepository(storage)
        self.progress = self._repository

    def __enter__(self) -> Self:
        self._repository._reset()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._repository._reset()

    def commit(self) -> None:
        try:
            self._storage._commit(self._repository)
        finally:
            self._repository._reset()

    def rollback(self) -> None:
        self._repository._reset()
