"""Why `canary status|watch LESSON` has no canary to look at: a lesson without one is a refusal that
names how to start one (exit 1); a lesson id the content does not know is a usage error with the
likely id (exit 2), as the README's exit-code table has them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fiml_cms.errors import ConfigError, ContentError, FimlError, MissingInput
from fiml_cms.suggest import suggest


def no_canary(lesson_id: str, flags: Path, content_root: Path, canaries: Iterable[str]) -> FimlError:
    """The error for `lesson_id`, which has no canary in the flag file `flags`."""
    found = _lesson_ids(content_root)
    if found is not None and lesson_id not in found[1]:
        folder, known = found
        return MissingInput(
            f"unknown lesson {lesson_id!r}: no lesson file in {folder}{suggest(lesson_id, [*known, *canaries])}"
        )
    return ContentError(
        f"{lesson_id} has no content canary in {flags}; start one with `fiml-cms tag {lesson_id} --canary N`"
    )


def _lesson_ids(content_root: Path) -> tuple[Path, set[str]] | None:
    """The content's lessons folder and the ids of its lesson files; None when it cannot be told."""
    from fiml_cms.config import load_settings

    try:
        folder = load_settings(content_root).lessons
    except ConfigError:
        return None
    if not folder.is_dir():
        return None
    return folder, {path.stem for pattern in ("*.yaml", "*.yml") for path in folder.glob(pattern)}
