"""Export a learner's progress to a document, and import documents into the progress store.

Export reads one learner per transaction and validates each document against the schema before it is
returned. Import checks everything first (schema, migration of older versions, values the schema
cannot judge), then writes every learner document in one transaction (all or nothing), merging with
what the store holds:

* nothing is ever deleted or lowered: XP ledger entries are added by key (a key the learner already
  has is skipped); when the document's `total_xp` exceeds the learner's ledger sum afterwards, one
  `import-adjust:<user>:<total>` entry pays the difference;
* a lesson's progress record is replaced only by a more advanced one: one that has completed the
  lesson beats one that has not, and between two of the same kind the later `last_accessed` wins
  (a tie keeps the store's);
* completions are added unless the learner already has one of the same lesson at the same instant;
  badges are a union;
* the learner: a learner the store lacks is created as the document describes; for one it has, the
  store keeps the name (unless empty), the time zone and the active flag, takes the earlier
  `created_at`, and takes the document's streak state (streak, last active day, freeze) only when
  its last active day is later (or the same day with a longer streak).

So importing the same document twice changes nothing the second time, and an import never lowers XP.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from fiml_bot.storage.timestamps import utc_now
from fiml_bot.tutor import gamification
from fiml_bot.tutor.model import COMPLETED, Learner, LessonProgress, XpAward
from fiml_bot.tutor.ports import (
    ConcurrentUpdate,
    Content,
    ProgressRepository,
    StorageUnavailable,
    UnitOfWork,
)

from .codec import (
    CURRENT_VERSION,
    MAX_XP,
    LearnerRecords,
    badge_awards,
    completion_key,
    from_document,
    read_records,
    timestamp,
    to_document,
)
from .migrations import (
    MigrationContext,
    UnknownSchemaVersion,
    migrate,
    supported_versions,
)
from .ownership import ImportConflict, count_label, other_data
from .schema import InvalidDocument, Problem, schema_problems
from .unversioned import READ_AS_OLDEST, missing_version, read_unversioned

Units = Callable[[], UnitOfWork]
RETRIES = 5
REASON_ADJUST = "imported XP total not covered by the ledger"


class UnknownLearnerError(InvalidDocument):
    """Export of a learner the store does not have (exit 1)."""

    def __init__(self, learner_id: str) -> None:
        super().__init__("export", f"no learner {learner_id!r} in the progress store")
        self.learner_id = learner_id


def adjust_key(learner_id: str, total: int) -> str:
    return f"import-adjust:{learner_id}:{total}"


# -- export ------------------------------------------------------------------------------


def learner_document(
    repo: ProgressRepository, learner_id: str, *, exported_at: dt.datetime | None = None
) -> dict[str, Any] | None:
    """The learner's document from an open unit of work's repository; None for an unknown learner."""
    records = read_records(repo, learner_id)
    return None if records is None else to_document(records, exported_at=exported_at)


def _checked(document: dict[str, Any], what: str) -> dict[str, Any]:
    problems = schema_problems(document)
    if problems:
        raise InvalidDocument(f"the exported document of {what} (a bug: please report it)", problems)
    return document


def export_learner(units: Units, learner_id: str, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """One learner's document, read in one transaction and validated; UnknownLearnerError if absent."""
    with units() as uow:
        document = learner_document(uow.progress, learner_id, exported_at=now or utc_now())
    if document is None:
        raise UnknownLearnerError(learner_id)
    return _checked(document, learner_id)


def export_all(units: Units, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Every learner's document in a bundle `{"schema_version", "exported_at", "users": [...]}`.

    One read-only transaction (`storage.reader()`, where the store has one): the bundle is one
    consistent state, and a live bot's writes never wait for the export.
    """
    now = now or utc_now()
    read = getattr(units, "reader", units)
    with read() as uow:
        documents = [
            d
            for d in (learner_document(uow.progress, i) for i in uow.progress.learner_ids())
            if d is not None
        ]
    return _checked(
        {"schema_version": CURRENT_VERSION, "exported_at": timestamp(now), "users": documents}, "all learners"
    )


# -- import: checking --------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedDocument:
    """One learner document, migrated to the current version and read into records."""

    records: LearnerRecords
    migrated: tuple[str, ...] = ()  # the steps taken, e.g. ("0.9 -> 1.0",)
    warnings: tuple[str, ...] = ()


def is_bundle(document: Any) -> bool:
    return isinstance(document, dict) and "users" in document


def needs_migration(document: Any) -> bool:
    """Whether any learner document in `document` is of an older schema version (so content helps)."""
    items = document.get("users") if is_bundle(document) else [document]
    return any(
        isinstance(item, dict) and item.get("schema_version") != CURRENT_VERSION
        for item in (items if isinstance(items, list) else [])
    )


def prepare_import(
    document: Any, *, content: Content | None = None, source: str = "document"
) -> list[PreparedDocument]:
    """Check a document or bundle completely and migrate it; InvalidDocument (listing every problem) if
    anything is wrong. `document` is never changed."""
    if not isinstance(document, dict):
        raise InvalidDocument(
            source,
            [Problem((), "a progress document must be a JSON object (or a bundle object with `users`)")],
        )
    bundle = is_bundle(document)
    items: list[tuple[tuple[str | int, ...], Any]]
    if bundle:
        users = document.get("users")
        items = [(("users", i), item) for i, item in enumerate(users)] if isinstance(users, list) else []
    else:
        items = [((), document)]
    document, items, unversioned = _read_unversioned(document, items, source)
    known = supported_versions()
    unknown = [
        Problem(
            (*prefix, "schema_version"),
            f"unknown schema_version {item['schema_version']!r}: this fiml-bot reads {', '.join(known)} (was the file written by a newer fiml-bot?)",
        )
        for prefix, item in items
        if isinstance(item, dict)
        and isinstance(item.get("schema_version"), str)
        and item["schema_version"] not in known
    ]
    if unknown:
        raise InvalidDocument(source, unknown)
    problems = schema_problems(document)
    if problems:
        raise InvalidDocument(source, problems)
    prepared: list[PreparedDocument] = []
    for prefix, item in items:
        context = MigrationContext(content, [READ_AS_OLDEST] if prefix in unversioned else [])
        try:
            current, steps = migrate(item, context)
        except UnknownSchemaVersion as error:  # pragma: no cover - caught above
            problems.append(Problem((*prefix, "schema_version"), str(error)))
            continue
        if steps:  # the migrated document must be a valid current one
            after = f" (after migrating {item['schema_version']} -> {CURRENT_VERSION})"
            found = [Problem((*prefix, *p.path), p.message + after) for p in schema_problems(current)]
            if found:
                problems.extend(found)
                continue
        records, found = from_document(current)
        problems.extend(p.under(prefix) for p in found)
        notes = list(dict.fromkeys(context.notes))  # each lesson once, in order
        prepared.append(PreparedDocument(records, tuple(steps), tuple(notes + _warnings(records))))
    if problems:
        raise InvalidDocument(source, problems)
    return prepared


def _read_unversioned(
    document: dict[str, Any], items: list[tuple[tuple[str | int, ...], Any]], source: str
) -> tuple[dict[str, Any], list[tuple[tuple[str | int, ...], Any]], set[tuple[str | int, ...]]]:
    """The document and its items with a missing schema_version read as 0.9 (see `unversioned`), and
    where that was done; InvalidDocument when an item without it is not of 0.9's shape."""
    problems: list[Problem] = []
    read: set[tuple[str | int, ...]] = set()
    out = []
    for prefix, item in items:
        if missing_version(item):
            item, found = read_unversioned(item, prefix)
            problems.extend(found)
            read.add(prefix)
        out.append((prefix, item))
    if problems:
        raise InvalidDocument(source, problems)
    if not read:
        return document, items, read
    if is_bundle(document):
        return {**document, "users": [item for _, item in out]}, out, read
    return out[0][1], out, read


def _warnings(records: LearnerRecords) -> list[str]:
    out = []
    ledger = records.ledger_total
    if records.total_xp < ledger:
        out.append(
            f"total_xp {records.total_xp} is below the sum of the XP ledger ({ledger}); the ledger counts"
        )
    if records.level != gamification.level_for(max(records.total_xp, ledger)):
        out.append(
            f"level {records.level} does not match {max(records.total_xp, ledger)} XP; levels are derived from XP"
        )
    return out


# -- import: writing ---------------------------------------------------------------------


@dataclass
class LearnerImport:
    """What an import did (or, in a dry run, would do) for one learner."""

    learner_id: str
    migrated: tuple[str, ...] = ()
    created: bool = False
    learner_updated: bool = False
    lessons_added: int = 0
    lessons_updated: int = 0
    lessons_kept: int = 0
    completions_added: int = 0
    xp_entries_added: int = 0
    xp_added: int = 0  # XP of the added entries, adjustment included
    xp_adjusted: int = 0
    badges_added: int = 0
    xp_total: int = 0  # the learner's total after the import
    warnings: tuple[str, ...] = ()
    conflict: str | None = None  # the store's learner holds data the document lacks (see ownership.py)

    @property
    def changed(self) -> bool:
        return bool(
            self.created
            or self.learner_updated
            or self.lessons_added
            or self.lessons_updated
            or self.completions_added
            or self.xp_entries_added
            or self.badges_added
        )

    def summary(self) -> str:
        if not self.changed:
            text = f"{self.learner_id}: already up to date"
        else:
            parts = [
                "new learner" if self.created else ("learner updated" if self.learner_updated else ""),
                count_label(self.lessons_added, "lesson") + (" added" if self.lessons_added else ""),
                count_label(self.lessons_updated, "lesson") + (" advanced" if self.lessons_updated else ""),
                count_label(self.completions_added, "completion")
                + (" added" if self.completions_added else ""),
                (
                    f"{count_label(self.xp_entries_added, 'XP entry', 'XP entries')} added (+{self.xp_added} XP"
                    + (f", {self.xp_adjusted} of it as an import adjustment" if self.xp_adjusted else "")
                    + ")"
                )
                if self.xp_entries_added
                else "",
                count_label(self.badges_added, "badge") + (" added" if self.badges_added else ""),
            ]
            text = f"{self.learner_id}: " + ", ".join(p for p in parts if p)
        text += f"; {self.xp_total} XP"
        if self.migrated:
            text += f" (migrated {', '.join(self.migrated)})"
        if self.conflict:
            text += (
                f"\n  note: {self.conflict}; importing merges into that learner: give --as USER or --force"
            )
        return text


@dataclass
class ImportReport:
    learners: list[LearnerImport] = field(default_factory=list)
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return any(learner.changed for learner in self.learners)

    def summary(self) -> str:
        lines = [learner.summary() for learner in self.learners]
        if self.dry_run:
            lines.append("dry run: nothing was written")
        return "\n".join(lines)


def import_document(
    units: Units,
    document: Any,
    *,
    content: Content | None = None,
    dry_run: bool = False,
    force: bool = False,
    now: dt.datetime | None = None,
    source: str = "document",
) -> ImportReport:
    """Check, migrate and import a document or bundle, all in one transaction.

    Nothing is written unless every learner document is valid (InvalidDocument otherwise).
    `content` resolves lesson versions for documents of schema 0.9 (without it they get "1.0.0").
    """
    return apply_import(
        units, prepare_import(document, content=content, source=source), dry_run=dry_run, force=force, now=now
    )


def apply_import(
    units: Units,
    prepared: list[PreparedDocument],
    *,
    dry_run: bool = False,
    force: bool = False,
    now: dt.datetime | None = None,
) -> ImportReport:
    """Merge every prepared document in ONE transaction: a bundle is imported whole or not at all
    (a learner that fails midway rolls back the learners before it). A learner who uses the bot
    meanwhile makes the transaction conflict; it is then retried from fresh reads.

    A document that would merge into a learner holding other data is refused (ImportConflict, nothing
    written) unless `force`; a dry run reports it instead."""
    now = now or utc_now()
    for _attempt in range(RETRIES):
        try:
            with units() as uow:
                learners = []
                for item in prepared:
                    conflict = None if force else other_data(uow.progress, item.records)
                    learners.append(_merge(uow.progress, item, now))
                    learners[-1].conflict = conflict
                conflicts = [learner.conflict for learner in learners if learner.conflict]
                if conflicts and not dry_run:
                    raise ImportConflict(conflicts)
                if dry_run:
                    uow.rollback()
                else:
                    uow.commit()
                return ImportReport(learners, dry_run=dry_run)
        except ConcurrentUpdate as error:  # a learner used the bot meanwhile: merge again from fresh reads
            last = error
            continue
    raise StorageUnavailable(f"the progress store kept changing during the import ({last}); try again")


def _merge(repo: ProgressRepository, item: PreparedDocument, now: dt.datetime) -> LearnerImport:
    records = item.records
    learner_id = records.learner.id
    result = LearnerImport(learner_id, migrated=item.migrated, warnings=item.warnings)
    _merge_learner_record(repo, records, result)
    _merge_progress(repo, records, result)
    _merge_completions(repo, records, result)
    total = _merge_xp(repo, records, result, now)
    if total > MAX_XP:  # raised inside the transaction, so nothing of this import is kept
        raise InvalidDocument(
            learner_id,
            f"importing would give {learner_id!r} {total:,} XP; a learner holds at most {MAX_XP:,}",
        )
    for badge in badge_awards(records, now):
        if repo.award_badge(badge):
            result.badges_added += 1
    result.xp_total = total
    return result


def _merge_learner_record(repo: ProgressRepository, records: LearnerRecords, result: LearnerImport) -> None:
    existing = repo.learner(records.learner.id)
    if existing is None:
        repo.save_learner(replace(records.learner, revision=0))
        result.created = True
    else:
        merged = merge_learner(existing, records.learner)
        if merged != existing:
            repo.save_learner(merged)
            result.learner_updated = True


def _merge_progress(repo: ProgressRepository, records: LearnerRecords, result: LearnerImport) -> None:
    """Each lesson's record: added when new, replaced when the document's is further along."""
    for incoming in records.progress:
        current = repo.progress(records.learner.id, incoming.lesson_id)
        if current is None:
            repo.save_progress(replace(incoming, revision=0))
            result.lessons_added += 1
        elif more_advanced(incoming, current) and replace(incoming, revision=current.revision) != current:
            repo.save_progress(replace(incoming, revision=current.revision))
            result.lessons_updated += 1
        else:
            result.lessons_kept += 1


def _merge_completions(repo: ProgressRepository, records: LearnerRecords, result: LearnerImport) -> None:
    have = {completion_key(c) for c in repo.completions(records.learner.id)}
    for completion in records.completions:
        if completion_key(completion) not in have:
            repo.add_completion(completion)
            have.add(completion_key(completion))
            result.completions_added += 1


def _merge_xp(
    repo: ProgressRepository, records: LearnerRecords, result: LearnerImport, now: dt.datetime
) -> int:
    """The ledger's entries, then one adjustment up to the document's total; returns the new total."""
    learner_id = records.learner.id
    for award in records.xp:
        if repo.award_xp(award):
            result.xp_entries_added += 1
            result.xp_added += award.amount
    total = repo.xp_total(learner_id)
    if records.total_xp > total:
        adjust = XpAward(
            learner_id,
            records.total_xp - total,
            REASON_ADJUST,
            adjust_key(learner_id, records.total_xp),
            None,
            None,
            now,
        )
        if repo.award_xp(adjust):
            result.xp_entries_added += 1
            result.xp_added += adjust.amount
            result.xp_adjusted = adjust.amount
            total += adjust.amount
    return total


def merge_learner(existing: Learner, incoming: Learner) -> Learner:
    """The store's learner with what the document adds (see the module docstring)."""
    merged = existing
    if not existing.name and incoming.name:
        merged = replace(merged, name=incoming.name)
    if incoming.created_at is not None and (
        existing.created_at is None or incoming.created_at < existing.created_at
    ):
        merged = replace(merged, created_at=incoming.created_at)
    if _streak_rank(incoming) > _streak_rank(existing):
        merged = replace(
            merged,
            streak_days=incoming.streak_days,
            last_active_day=incoming.last_active_day,
            freeze_available=incoming.freeze_available,
            freeze_used_on=incoming.freeze_used_on,
        )
    return merged


def _streak_rank(learner: Learner) -> tuple[dt.date, int]:
    return (learner.last_active_day or dt.date.min, learner.streak_days)


_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)


def _advancement(progress: LessonProgress) -> tuple[int, dt.datetime]:
    completed = (
        progress.status == COMPLETED
        or progress.completed_at is not None
        or progress.completed_version is not None
    )
    return (1 if completed else 0, progress.updated_at or _EARLIEST)


def more_advanced(incoming: LessonProgress, current: LessonProgress) -> bool:
    """Whether `incoming` should replace `current`: it has completed the lesson and `current` has not,
    or both are alike and `incoming` was accessed later. A tie keeps `current`."""
    return _advancement(incoming) > _advancement(current)
