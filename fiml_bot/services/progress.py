"""Progress documents: export a learner (or every learner) to a file, import a document or bundle."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fiml_cms.errors import UsageError

from ..bot_settings import BotSettings
from ..content import LessonContent
from ..documents import (
    apply_import,
    export_all,
    export_learner,
    needs_migration,
    prepare_import,
    read_document,
    write_document,
)
from ..documents.export_summary import ExportSummary
from ..documents.learners import known_learners, learner_reference, resolve_learner
from ..documents.ownership import retarget
from ..documents.transfer import ImportReport
from ..opening import open_content
from ..storage import open_storage
from .content import optional_content

#: Told about a problem that does not stop the command (printed as `fiml-bot: warning: ...`).
Warn = Callable[[str], None]


def export_progress(settings: BotSettings, user: str | None, file: str) -> ExportSummary:
    """`user`'s progress document (None: every learner's, as one bundle) written atomically to
    `file` (`-`: stdout); what was written."""
    with open_storage(settings.database_url) as storage:
        document = (
            export_all(storage) if user is None else export_learner(storage, resolve_learner(storage, user))
        )
    write_document(file, document)
    return ExportSummary.of(document, file, bundle=user is None)


def import_progress(
    settings: BotSettings,
    file: str,
    *,
    as_user: str | None,
    content_settings: Callable[[], BotSettings],
    content_given: Path | None,
    dry_run: bool,
    force: bool,
    warn: Warn,
) -> ImportReport:
    """The document in `file` (`-`: stdin) validated, migrated and merged, all or nothing; with
    `as_user`, a single learner's document imported as that learner. `content_settings` builds the
    settings of the content that resolves old documents' lesson versions, asked only when one needs it."""
    document = read_document(file)
    with open_storage(settings.database_url) as storage:
        if as_user is not None:  # the same references as `progress export`, or a new learner
            document = retarget(document, learner_reference(known_learners(storage), as_user, "import --as"))
        lessons = (
            _migration_content(content_given, content_settings, warn) if needs_migration(document) else None
        )
        prepared = prepare_import(document, content=lessons, source="<stdin>" if file == "-" else file)
        return apply_import(storage, prepared, dry_run=dry_run, force=force)


def _migration_content(
    content: Path | None, content_settings: Callable[[], BotSettings], warn: Warn
) -> LessonContent | None:
    """The content for resolving lesson versions while migrating; None (with a warning) when there is
    none and none was asked for."""
    if content is not None and not content.is_dir():
        raise UsageError(f"--content {content}: no such folder")
    settings = content_settings()
    if content is not None:
        return open_content(settings)  # asked for: its errors are the command's
    opened = optional_content(settings)
    if opened.content is None:
        warn(f"no content repository ({opened.reason}): lessons of older documents get version 1.0.0")
    return opened.content
