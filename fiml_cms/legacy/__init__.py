"""Legacy FIML lessons -> the current lesson format (SPEC §3 "Legacy formats").

Pure: plain data in, plain data out, no I/O and no YAML. `upgrade_lesson` maps every legacy
field it understands and reports, as a *problem*, every piece of content that has no place
in the current format, so nothing is dropped silently; a caller writes a file only when the
result has no problems. `drop_fields` lets a user allow dropping named fields explicitly.

Legacy shapes seen in the FIML corpus (corpus/fiml-lessons.bundle):

- sections as `{type, content}` (plus `title`, `points`, `fiml_query`, `metadata`), no ids;
- quizzes as a bare list of questions with `text`, `options: [{text, is_correct}]`,
  `true_false` with `correct_answer` and per-question `xp_reward`; or as
  `quiz: {questions: [...]}` with options as strings and `correct: <index>` and `points`,
  or options as `{text, correct}`;
- `version` written as "1.0"/"2.0" or missing, no changelog, extra fields.

The modules, one per part of a lesson: `upgrade` (the entry), `fields` (top-level fields),
`changelog`, `sections`, `questions`; `reading` holds what they share (the notes and problems of
one upgrade, text and version reading), `vocabulary` the legacy names and their aliases. A new
legacy section type goes in `vocabulary` (and `sections` if it needs its own mapping).
"""

from __future__ import annotations

from .reading import clean_text, slug_id, version_of
from .upgrade import Upgraded, is_current, upgrade_lesson
from .vocabulary import FORMAT, IMPORTED, LESSON_KEYS

__all__ = [
    "FORMAT",
    "IMPORTED",
    "LESSON_KEYS",
    "Upgraded",
    "clean_text",
    "is_current",
    "slug_id",
    "upgrade_lesson",
    "version_of",
]
