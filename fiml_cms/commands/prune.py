"""`fiml-cms archive --prune`: remove archived files that no published version backs.

Such a file is left behind when a tag is deleted (a version withdrawn before anyone used it) or
the archive was written by hand; `archive --check` reports it (FIML072) until it is gone.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ContentError
from ..workspace import Workspace


def unbacked_files(ws: Workspace, folder: Path) -> list[Path]:
    """Archive files `<id>/<version>.yaml` with no published version behind them."""
    if not folder.is_dir():
        return []
    expected = {
        folder / lesson_id / f"{version}.yaml"
        for lesson_id in ws.store.ids()
        for version in ws.store.versions(lesson_id)
    }
    return [path for path in sorted(folder.glob("*/*.yaml")) if path not in expected]


def prune(ws: Workspace, out: Path | None = None) -> list[Path]:
    """Delete the unbacked files (and lesson folders left empty); returns what was removed."""
    folder = out or ws.settings.archive
    removed: list[Path] = []
    for path in unbacked_files(ws, folder):
        try:
            path.unlink()
        except OSError as exc:
            raise ContentError(
                f"{path}: cannot be removed: {exc.strerror} ({len(removed)} removed before it; run `fiml-cms archive --prune` again)"
            ) from None
        removed.append(path)
        if not any(path.parent.iterdir()):
            path.parent.rmdir()
    return removed
