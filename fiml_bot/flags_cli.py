"""`fiml-bot flags check|explain`: the feature-flag file the bot would load, and what it does for one learner."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from fiml_cms.clikit import example

from .cli_options import ContentOption, DatabaseOption, user_errors
from .cli_options import bot_settings as _settings

flags_app = typer.Typer(
    help="Feature flags (flagd's flag-file format, deploy/flags.json): check the file, explain a learner's variant.",
    no_args_is_help=True,
)
FlagsFileOption = typer.Option(
    None,
    "--flags",
    help="The flag file (default: FIML_FLAGS_FILE, else deploy/flags.json in the content repository).",
)


def _flags_file(flags: Path | None, content: Path | None) -> Path:
    from .ops.runtime import flags_path

    if flags is not None:
        return flags
    settings = _settings(content, None)
    return flags_path(settings.content, settings.env)


def _content(content: Path | None, database: str | None, required: bool) -> Any:
    from fiml_cms.errors import FimlError

    from .bootstrap import open_content

    try:
        return open_content(_settings(content, database, preview=None))
    except FimlError as exc:
        if required:
            raise
        print(
            f"fiml-bot: note: no content repository ({exc}); canaries are not checked against it",
            file=sys.stderr,
        )
        return None


@flags_app.command("check", epilog=example("fiml-bot flags check --flags deploy/flags.json"))
@user_errors
def check(flags: Path | None = FlagsFileOption, content: Path | None = ContentOption) -> None:
    """Check the flag file: schema, variants, fractional targeting, canaries (and what they do against the content).

    Exit 0 when the bot would load it, 1 with each problem as FILE:LINE:COLUMN, 2 when it cannot be read.
    """
    from fiml_cms.errors import MissingInput

    from .ops.flag_report import CheckResult, canary_notes
    from .ops.flags import FlagFileError, read_file

    path = _flags_file(flags, content)
    if not path.exists():
        raise MissingInput(f"{path}: no such flag file")
    try:
        checked = read_file(path)
    except FlagFileError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        print(f"{path}: {len(exc.problems)} problem(s); the bot keeps its last good flags", file=sys.stderr)
        raise typer.Exit(1) from None
    lessons = _content(content, None, required=False) if checked.canaries() else None
    print(CheckResult(checked, canary_notes(checked, lessons) if lessons is not None else []).render())


@flags_app.command("explain", epilog=example("fiml-bot flags explain review-mistakes telegram:12345"))
@user_errors
def explain(
    flag: str = typer.Argument(..., help="The flag key, e.g. review-mistakes or canary.<lesson id>."),
    user: str = typer.Argument(
        ...,
        help="The learner, as for `progress export`: telegram:123456, a bare number (telegram:<number>), or a name (the one learner of that name; console:NAME when there is none).",
    ),
    flags: Path | None = FlagsFileOption,
    content: Path | None = ContentOption,
    database: str | None = DatabaseOption,
) -> None:
    """Which variant a learner gets from a flag, and why: the context the bot evaluates it with (what it
    knows of the learner), their sticky bucket, the shares, the reason, and what they see."""
    from .documents.learners import learner_reference
    from .ops.flag_report import NoProgress, served
    from .ops.flags import FeatureFlags, FlagFileProvider, read_file
    from .tutor.features import LearnerContext, learner_context

    feature_flags = FeatureFlags(FlagFileProvider(read_file(_flags_file(flags, content))))
    with _records(content, database) as records:
        learner = learner_reference(
            records.learner_ids() if records is not None else [], user, "flags explain"
        )
        context = (
            learner_context(records, learner, dt.datetime.now(dt.UTC))
            if records is not None
            else LearnerContext()
        )
        explanation = feature_flags.explain(flag, learner, context)
        lessons = _content(content, database, required=False) if explanation.canary is not None else None
        print(
            explanation.render(
                served(
                    feature_flags,
                    flag,
                    learner,
                    lessons,
                    NoProgress() if records is None else records,
                    context,
                )
            )
        )
    if explanation.canary is not None and lessons is not None:
        print(_comparison(content, database, explanation.canary))


def _comparison(content: Path | None, database: str | None, canary: Any) -> str:
    """The canary judged by its learners (as `fiml-bot canary status`), or why it cannot be."""
    from fiml_cms.errors import FimlError

    from .ops.canary_stats import render
    from .ops.canary_watch import assess
    from .storage import open_storage
    from .tutor.ports import StorageUnavailable

    try:
        with open_storage(_settings(content, database).database_url) as storage:
            verdict = assess(storage, canary, dt.datetime.now(dt.UTC))
    except (StorageUnavailable, FimlError) as exc:
        return f"learning outcomes: not available ({exc})"
    return "learning outcomes (as `fiml-bot canary status`):\n" + render(
        verdict, canary.version, canary.stable
    )


@contextlib.contextmanager
def _records(content: Path | None, database: str | None) -> Iterator[Any]:
    """The progress records to explain with (read only); None, with a note, when there is no database."""
    from fiml_cms.errors import FimlError

    from .storage import open_storage
    from .tutor.ports import StorageUnavailable

    try:
        storage = open_storage(_settings(content, database).database_url)
    except (StorageUnavailable, FimlError) as exc:
        print(
            f"fiml-bot: note: no progress database ({exc}); showing what a learner with no records gets "
            "(a bare name is read as console:NAME)",
            file=sys.stderr,
        )
        yield None
        return
    with storage, storage() as uow:
        yield uow.progress
