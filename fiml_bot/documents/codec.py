"""A learner's records <-> a progress document of the current schema version (1.0).

`LearnerRecords` holds everything the store keeps about one learner, as the tutor's frozen records.
`to_document` writes it in the seed's shape plus what a lossless round trip needs; `from_document`
reads a schema-valid 1.0 document back, reporting values the schema cannot judge (an unparsable
timestamp, an unknown time zone, a ledger key listed twice) as `Problem`s with their JSON path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from fiml_bot.tutor import gamification
from fiml_bot.tutor.model import (
    BadgeAward,
    Completion,
    Learner,
    LessonProgress,
    QuizAnswer,
    XpAward,
)
from fiml_bot.tutor.ports import ProgressRepository, xp_of

from .schema import Problem

CURRENT_VERSION = "1.0"


@dataclass(frozen=True)
class BadgeRecord:
    badge: str
    awarded_at: dt.datetime | None  # None: the document did not say (a 0.9 document)


#: The most XP a learner (and so any one award) may hold: the schema's `total_xp` maximum, which
#: PostgreSQL's `integer` XP columns (int4) and SQLite's hold.
MAX_XP = 2_147_483_647


@dataclass(frozen=True)
class LearnerRecords:
    """One learner's records, in the store's order; revisions are 0 (they are not part of the data)."""

    learner: Learner
    progress: tuple[LessonProgress, ...] = ()
    completions: tuple[Completion, ...] = ()  # oldest first
    xp: tuple[XpAward, ...] = ()  # in the order paid
    badges: tuple[BadgeRecord, ...] = ()
    total_xp: int = 0  # the document's total: the ledger's sum, or more for a document with only a total
    level: int = 1

    @property
    def ledger_total(self) -> int:
        return xp_of(self.xp)


def read_records(repo: ProgressRepository, learner_id: str) -> LearnerRecords | None:
    """Everything the store holds about a learner (None when there is no such learner)."""
    learner = repo.learner(learner_id)
    if learner is None:
        return None
    xp = tuple(repo.xp_awards(learner_id))
    total = xp_of(xp)
    return LearnerRecords(
        learner=replace(learner, revision=0),
        progress=tuple(replace(p, revision=0) for p in repo.all_progress(learner_id)),
        completions=tuple(repo.completions(learner_id)),
        xp=xp,
        badges=tuple(BadgeRecord(b.badge, b.awarded_at) for b in repo.badges(learner_id)),
        total_xp=total,
        level=gamification.level_for(total),
    )


# -- writing -----------------------------------------------------------------------------


def timestamp(value: dt.datetime | None) -> str | None:
    """RFC 3339 in UTC with `Z`, microseconds kept when there are any."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _day(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def to_document(records: LearnerRecords, *, exported_at: dt.datetime | None = None) -> dict[str, Any]:
    learner = records.learner
    document: dict[str, Any] = {"user_id": learner.id, "schema_version": CURRENT_VERSION}
    if exported_at is not None:
        document["exported_at"] = timestamp(exported_at)
    document["profile"] = {
        "name": learner.name,
        "time_zone": learner.time_zone,
        "active": learner.active,
        "created_at": timestamp(learner.created_at),
    }
    document["lessons"] = {
        p.lesson_id: _lesson(p) for p in sorted(records.progress, key=lambda p: p.lesson_id)
    }
    latest: dict[str, Completion] = {}
    for completion in records.completions:  # oldest first: the last one per lesson wins
        latest[completion.lesson_id] = completion
    document["lesson_completions"] = {
        lesson_id: _completion(latest[lesson_id]) for lesson_id in sorted(latest)
    }
    document["completion_history"] = [
        {"lesson_id": c.lesson_id, **_completion(c)} for c in records.completions
    ]
    document["gamification"] = {
        "total_xp": records.total_xp,
        "level": records.level,
        "badges": [b.badge for b in records.badges],
        "badge_awards": [
            {"badge": b.badge, "awarded_at": timestamp(b.awarded_at)}
            for b in records.badges
            if b.awarded_at is not None
        ],
        "streak_days": learner.streak_days,
        "last_active_day": _day(learner.last_active_day),
        "freeze_available": learner.freeze_available,
        "freeze_used_on": _day(learner.freeze_used_on),
        "xp_ledger": [_ledger_entry(a) for a in records.xp],
    }
    return document


def _lesson(p: LessonProgress) -> dict[str, Any]:
    return {
        "version": p.pinned_version,
        "status": p.status,
        "sections_completed": list(p.sections_done),
        "current_section": p.current_section,
        "started_at": timestamp(p.started_at),
        "last_accessed": timestamp(p.updated_at),
        "attempt": p.attempt,
        "answers": [
            {"question_id": a.question_id, "given": a.given, "correct": a.correct, "version": a.version}
            for a in p.answers
        ],
        "completed_version": p.completed_version,
        "completed_at": timestamp(p.completed_at),
        "seen_version": p.seen_version,
        "pending_choice": p.pending_choice,
    }


def _completion(c: Completion) -> dict[str, Any]:
    return {
        "completed_at": timestamp(c.completed_at),
        "version": c.version,
        "attempt": c.attempt,
        "xp_earned": c.xp_earned,
        "quiz_score": c.score,
        "quiz_total": c.total,
    }


def _ledger_entry(a: XpAward) -> dict[str, Any]:
    return {
        "key": a.key,
        "amount": a.amount,
        "reason": a.reason,
        "lesson_id": a.lesson_id,
        "version": a.version,
        "awarded_at": timestamp(a.awarded_at),
    }


# -- reading -----------------------------------------------------------------------------


def parse_timestamp(text: str) -> dt.datetime:
    """An RFC 3339 timestamp as an aware UTC datetime; ValueError when Python cannot read it."""
    value = dt.datetime.fromisoformat(text.upper())  # RFC 3339 allows a lowercase t and z
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("it has no UTC offset")
    return value.astimezone(dt.UTC)


class _Reader:
    """Reads the values the schema accepted; collects what it cannot use as Problems."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def ts(self, value: Any, *path: str | int) -> dt.datetime | None:
        if value is None:
            return None
        try:
            return parse_timestamp(value)
        except (ValueError, AttributeError) as error:
            self.problems.append(Problem(path, f"{value!r} is not a usable timestamp ({error})"))
            return None

    def day(self, value: Any, *path: str | int) -> dt.date | None:
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value)
        except (ValueError, TypeError) as error:
            self.problems.append(Problem(path, f"{value!r} is not a usable day ({error})"))
            return None


def from_document(document: dict[str, Any]) -> tuple[LearnerRecords, list[Problem]]:
    """The records of a schema-valid 1.0 document, and the problems the schema could not see."""
    read = _Reader()
    learner_id = document["user_id"]
    profile = document.get("profile", {})
    game = document["gamification"]
    time_zone = profile.get("time_zone", "UTC")
    if not gamification.valid_time_zone(time_zone):
        read.problems.append(
            Problem(
                ("profile", "time_zone"),
                f"{time_zone!r} is not an IANA time zone: use a name like Europe/Berlin, America/New_York or UTC",
            )
        )
    learner = Learner(
        id=learner_id,
        name=profile.get("name", ""),
        time_zone=time_zone,
        active=profile.get("active", True),
        streak_days=game["streak_days"],
        last_active_day=read.day(game.get("last_active_day"), "gamification", "last_active_day"),
        freeze_available=game.get("freeze_available", True),
        freeze_used_on=read.day(game.get("freeze_used_on"), "gamification", "freeze_used_on"),
        created_at=read.ts(profile.get("created_at"), "profile", "created_at"),
    )
    progress = tuple(
        _progress(read, learner_id, lesson_id, entry) for lesson_id, entry in document["lessons"].items()
    )
    completions = _completions(read, learner_id, document)
    xp = _ledger(read, learner_id, game.get("xp_ledger", []))
    badges = _badges(read, game)
    records = LearnerRecords(learner, progress, completions, xp, badges, game["total_xp"], game["level"])
    if records.ledger_total > MAX_XP:
        read.problems.append(
            Problem(
                ("gamification", "xp_ledger"),
                f"the XP ledger sums to {records.ledger_total:,} XP; a learner holds at most {MAX_XP:,}",
            )
        )
    return records, read.problems


def _progress(read: _Reader, learner_id: str, lesson_id: str, entry: dict[str, Any]) -> LessonProgress:
    at = ("lessons", lesson_id)
    return LessonProgress(
        learner_id=learner_id,
        lesson_id=lesson_id,
        pinned_version=entry["version"],
        status=entry["status"],
        current_section=entry.get("current_section"),
        sections_done=tuple(entry["sections_completed"]),
        answers=tuple(
            QuizAnswer(a["question_id"], a["given"], a["correct"], a["version"])
            for a in entry.get("answers", [])
        ),
        attempt=entry.get("attempt", 1),
        started_at=read.ts(entry.get("started_at"), *at, "started_at"),
        updated_at=read.ts(entry.get("last_accessed"), *at, "last_accessed"),
        completed_version=entry.get("completed_version"),
        completed_at=read.ts(entry.get("completed_at"), *at, "completed_at"),
        seen_version=entry.get("seen_version"),
        pending_choice=entry.get("pending_choice"),
    )


def completion_key(completion: Completion) -> tuple[str, dt.datetime]:
    """What identifies a completion: a learner completes a lesson at most once at one instant."""
    return completion.lesson_id, completion.completed_at


def _completions(read: _Reader, learner_id: str, document: dict[str, Any]) -> tuple[Completion, ...]:
    """`completion_history` merged with `lesson_completions` (which repeats the latest of each lesson)."""
    found: dict[tuple[str, dt.datetime], tuple[Completion, tuple[str | int, ...]]] = {}
    sources: list[tuple[tuple[str | int, ...], str, dict[str, Any]]] = [
        (("completion_history", i), entry["lesson_id"], entry)
        for i, entry in enumerate(document.get("completion_history", []))
    ]
    sources += [
        (("lesson_completions", lesson_id), lesson_id, entry)
        for lesson_id, entry in document["lesson_completions"].items()
    ]
    for path, lesson_id, entry in sources:
        completed_at = read.ts(entry["completed_at"], *path, "completed_at")
        if completed_at is None:
            continue
        completion = Completion(
            learner_id=learner_id,
            lesson_id=lesson_id,
            version=entry["version"],
            attempt=entry.get("attempt", 1),
            score=entry["quiz_score"],
            total=entry["quiz_total"],
            xp_earned=entry["xp_earned"],
            completed_at=completed_at,
        )
        key = completion_key(completion)
        if key in found:
            earlier, earlier_path = found[key]
            if earlier != completion:
                read.problems.append(
                    Problem(
                        path,
                        f"the same completion (lesson and completed_at) as {_format(earlier_path)}, with different values",
                    )
                )
            continue
        found[key] = (completion, path)
    ordered = sorted(
        found.values(), key=lambda item: item[0].completed_at
    )  # stable: ties keep document order
    return tuple(completion for completion, _ in ordered)


def _ledger(read: _Reader, learner_id: str, entries: list[dict[str, Any]]) -> tuple[XpAward, ...]:
    seen: dict[str, int] = {}
    awards = []
    for index, entry in enumerate(entries):
        path = ("gamification", "xp_ledger", index)
        key = entry["key"]
        if key in seen:
            read.problems.append(
                Problem(
                    (*path, "key"),
                    f"the key {key!r} is already used by item {seen[key]}: each award has its own key",
                )
            )
            continue
        seen[key] = index
        awarded_at = read.ts(entry["awarded_at"], *path, "awarded_at")
        awards.append(
            XpAward(
                learner_id,
                entry["amount"],
                entry["reason"],
                key,
                entry.get("lesson_id"),
                entry.get("version"),
                awarded_at,
            )
        )
    return tuple(awards)


def _badges(read: _Reader, game: dict[str, Any]) -> tuple[BadgeRecord, ...]:
    dated: dict[str, dt.datetime | None] = {}
    for index, entry in enumerate(game.get("badge_awards", [])):
        path = ("gamification", "badge_awards", index)
        if entry["badge"] in dated:
            read.problems.append(Problem((*path, "badge"), f"the badge {entry['badge']!r} is listed twice"))
            continue
        dated[entry["badge"]] = read.ts(entry["awarded_at"], *path, "awarded_at")
    records = [BadgeRecord(badge, dated.get(badge)) for badge in game["badges"]]
    listed = set(game["badges"])
    records += [BadgeRecord(badge, when) for badge, when in dated.items() if badge not in listed]
    return tuple(records)


def _format(path: tuple[str | int, ...]) -> str:
    from .schema import format_path

    return format_path(path)


def badge_awards(records: LearnerRecords, now: dt.datetime) -> list[BadgeAward]:
    """The document's badges as awards; undated ones are dated `now` (the import)."""
    return [BadgeAward(records.learner.id, b.badge, b.awarded_at or now) for b in records.badges]
