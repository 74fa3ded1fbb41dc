"""`flags check` and `flags explain`: the flag file the bot would load, and what it does for a learner."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fiml_cms.errors import FimlError, MissingInput
from fiml_cms.flagfile import Canary

from ..bot_settings import BotSettings
from ..content import LessonContent
from ..ops.canary_stats import Verdict
from ..ops.flag_report import CheckResult
from ..ops.flags import Explanation, FlagFileError
from ..tutor.ports import ProgressRepository
from .content import optional_content


@dataclass(frozen=True)
class FlagCheck:
    path: Path
    result: CheckResult | None  # None: the file has problems
    problems: list[str] = field(default_factory=list)  # each as FILE:LINE:COLUMN: message
    notes: list[str] = field(default_factory=list)  # for stderr: what could not be checked


@dataclass(frozen=True)
class Outcomes:
    """A canary judged by its learners (as `canary status`), or why it cannot be."""

    canary: Canary
    verdict: Verdict | None
    unavailable: str | None = None


@dataclass(frozen=True)
class FlagExplanation:
    explanation: Explanation
    served: str | None  # what the learner sees, when the flag's effect is known
    outcomes: Outcomes | None  # for a content canary with content to judge it against
    notes: list[str] = field(default_factory=list)  # for stderr: what was missing


def flags_file(settings: BotSettings, flags: Path | None) -> Path:
    """--flags, else FIML_FLAGS_FILE, else deploy/flags.json in the content repository."""
    from ..ops.runtime import flags_path

    return flags if flags is not None else flags_path(settings.content, settings.env)


def _content_note(reason: str | None) -> str:
    return f"no content repository ({reason}); canaries are not checked against it"


def check_flags(settings: BotSettings, flags: Path | None) -> FlagCheck:
    """The flag file checked, with what its canaries do against the content (when there is content)."""
    from ..ops.flag_report import canary_notes
    from ..ops.flags import read_file

    path = flags_file(settings, flags)
    if not path.exists():
        raise MissingInput(f"{path}: no such flag file")
    try:
        checked = read_file(path)
    except FlagFileError as exc:
        return FlagCheck(path, None, list(exc.problems))
    if not checked.canaries():
        return FlagCheck(path, CheckResult(checked, []))
    opened = optional_content(settings)
    if opened.content is None:
        return FlagCheck(path, CheckResult(checked, []), notes=[_content_note(opened.reason)])
    return FlagCheck(path, CheckResult(checked, canary_notes(checked, opened.content)))


def explain_flag(settings: BotSettings, flags: Path | None, flag: str, user: str) -> FlagExplanation:
    """Which variant `user` gets from `flag`, and why, with what the bot knows of them."""
    from ..documents.learners import learner_reference
    from ..ops.flag_report import NoProgress, served
    from ..ops.flags import FeatureFlags, FlagFileProvider, read_file
    from ..tutor.features import LearnerContext, learner_context

    notes: list[str] = []
    feature_flags = FeatureFlags(FlagFileProvider(read_file(flags_file(settings, flags))))
    with _records(settings, notes) as records:
        learner = learner_reference(
            records.learner_ids() if records is not None else [], user, "flags explain"
        )
        context = (
            learner_context(records, learner, dt.datetime.now(dt.UTC))
            if records is not None
            else LearnerContext()
        )
        explanation = feature_flags.explain(flag, learner, context)
        lessons: LessonContent | None = None
        if explanation.canary is not None:
            opened = optional_content(settings)
            lessons = opened.content
            if lessons is None:
                notes.append(_content_note(opened.reason))
        seen = served(
            feature_flags, flag, learner, lessons, NoProgress() if records is None else records, context
        )
    outcomes = (
        _outcomes(settings, explanation.canary)
        if explanation.canary is not None and lessons is not None
        else None
    )
    return FlagExplanation(explanation, seen, outcomes, notes)


def _outcomes(settings: BotSettings, canary: Canary) -> Outcomes:
    from ..ops.canary_watch import assess
    from ..storage import open_storage
    from ..tutor.ports import StorageUnavailable

    try:
        with open_storage(settings.database_url) as storage:
            return Outcomes(canary, assess(storage, canary, dt.datetime.now(dt.UTC)))
    except (StorageUnavailable, FimlError) as exc:
        return Outcomes(canary, None, str(exc))


@contextlib.contextmanager
def _records(settings: BotSettings, notes: list[str]) -> Iterator[ProgressRepository | None]:
    """The progress records to explain with (read only); None, with a note, when there is no database."""
    from ..storage import open_storage
    from ..tutor.ports import StorageUnavailable

    try:
        storage = open_storage(settings.database_url)
    except (StorageUnavailable, FimlError) as exc:
        notes.append(
            f"no progress database ({exc}); showing what a learner with no records gets "
            "(a bare name is read as console:NAME)"
        )
        yield None
        return
    with storage, storage() as uow:
        yield uow.progress
