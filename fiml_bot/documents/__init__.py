"""Progress documents (SPEC §6): one learner's progress as JSON with a `schema_version`.

- `export_learner(units, learner_id)` / `export_all(units)` -> a document / a bundle `{"schema_version",
  "exported_at", "users": [...]}`, validated against `schemas/progress.schema.json`
- `import_document(units, document, content=...)` -> `ImportReport`: checks everything, migrates older
  schema versions step by step (`migrations.MIGRATIONS`), then merges everything in one transaction;
  idempotent, never lowers XP, never deletes
- `read_document(path)` / `write_document(path, document)`: strict JSON, atomic writes, `-` for stdio

`units` is a unit-of-work factory: `open_storage(url)` or `MemoryStorage()`.
"""

from __future__ import annotations

from .codec import (
    CURRENT_VERSION,
    LearnerRecords,
    from_document,
    read_records,
    to_document,
)
from .files import read_document, write_document
from .migrations import (
    MIGRATIONS,
    MigrationContext,
    migrate,
    normalize_learner_id,
    resolve_version,
    supported_versions,
)
from .schema import InvalidDocument, Problem, schema_problems
from .transfer import (
    ImportReport,
    LearnerImport,
    PreparedDocument,
    UnknownLearnerError,
    apply_import,
    export_all,
    export_learner,
    import_document,
    is_bundle,
    learner_document,
    needs_migration,
    prepare_import,
)

__all__ = [
    "CURRENT_VERSION",
    "MIGRATIONS",
    "ImportReport",
    "InvalidDocument",
    "LearnerImport",
    "LearnerRecords",
    "MigrationContext",
    "PreparedDocument",
    "Problem",
    "UnknownLearnerError",
    "apply_import",
    "export_all",
    "export_learner",
    "from_document",
    "import_document",
    "is_bundle",
    "learner_document",
    "migrate",
    "needs_migration",
    "normalize_learner_id",
    "prepare_import",
    "read_document",
    "read_records",
    "resolve_version",
    "schema_problems",
    "supported_versions",
    "to_document",
    "write_document",
]
