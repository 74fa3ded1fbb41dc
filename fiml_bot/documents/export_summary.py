"""What `fiml-bot progress export` reports once the document is written: which learners, into which
file, and that their data-provider keys were left out; as a line of text or in the `--json` envelope."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .files import STDIO

KEYS_NOTE = "stored data-provider keys are not exported: learners add them again with /addkey"


@dataclass(frozen=True)
class ExportSummary:
    learners: tuple[str, ...]  # the user_id of every learner in the document, in its order
    file: str  # the file written, as named on the command line; `-` for standard output
    bundle: bool  # `--all`: a bundle of documents rather than one learner's document
    schema_version: str

    @classmethod
    def of(cls, document: Mapping[str, Any], target: str, bundle: bool) -> ExportSummary:
        users = document["users"] if bundle else [document]
        return cls(tuple(u["user_id"] for u in users), target, bundle, str(document["schema_version"]))

    def text(self) -> str:
        count = len(self.learners)
        where = "standard output" if self.file == STDIO else self.file
        return f"exported {count} learner{'s' if count != 1 else ''} to {where} ({KEYS_NOTE})"

    def as_json(self) -> dict[str, Any]:
        return {
            "learners": list(self.learners),
            "count": len(self.learners),
            "file": self.file,
            "bundle": self.bundle,
            "schema_version": self.schema_version,
            "keys_exported": False,
        }
