"""`fiml-cms versions` and `fiml-cms show`: what is published, and a version exactly as tagged."""

from __future__ import annotations

from dataclasses import dataclass

from .. import versions
from ..errors import ContentError, MissingInput, UsageError
from ..store import Published
from ..suggest import suggest
from ..workspace import LessonRef, Workspace


@dataclass(frozen=True)
class VersionRow:
    version: str
    date: str
    tag: str | None
    yanked: bool
    pending: bool = False  # tagged, but its commit is not merged into a release branch: not served yet
    published_as: str | None = None  # the former id it was published under (the lesson `replaces` it)


def list_versions(ws: Workspace, lesson: str) -> list[VersionRow]:
    lesson_id = _lesson_id(ws, lesson)
    entries = (
        ws.store.published(lesson_id) if lesson_id in ws.store.ids() else []
    )  # a lesson file not yet published (or only pending merge)
    try:
        yanked = set(ws.store.latest_any(lesson_id).yanked) if entries else set()
    except ContentError:  # the newest version is not a valid lesson (e.g. a legacy format): no yanked list
        yanked = set()
    rows = [VersionRow(e.version, e.date, e.tag, e.version in yanked) for e in entries]
    rows += [VersionRow(e.version, e.date, e.tag, False, True) for e in ws.store.pending(lesson_id)]
    own = {r.version for r in rows}
    for former in _former_ids(ws, lesson_id):  # the history under the ids it replaces, as `diff` reads it
        for e in ws.store.published(former) if former in ws.store.ids() else []:
            if e.version not in own:
                rows.append(VersionRow(e.version, e.date, e.tag, False, published_as=former))
    return sorted(rows, key=lambda r: (versions.sort_key(r.version), r.published_as or ""))


def _former_ids(ws: Workspace, lesson_id: str) -> tuple[str, ...]:
    """The ids the lesson replaces: from its file, else from its newest published version."""
    from ..renames import former_ids

    path = ws.settings.lessons / f"{lesson_id}.yaml"
    if path.is_file():
        return former_ids(ws, LessonRef(lesson_id, path))
    try:
        return ws.store.latest_any(lesson_id).replaces if lesson_id in ws.store.ids() else ()
    except ContentError:
        return ()


def render_versions(lesson_id: str, rows: list[VersionRow], fmt: str) -> str:
    if fmt == "json":
        from ..envelope import dumps

        return dumps("fiml-cms/versions", {"lesson": lesson_id, "versions": [row.__dict__ for row in rows]})
    if not rows:
        return f"{lesson_id}: no published versions"
    width = max(len(r.version) for r in rows)
    return "\n".join(
        f"{r.version:<{width}}  {r.date[:10]}  {r.tag or '(history)'}{'  YANKED' if r.yanked else ''}{'  PENDING MERGE (not served until merged into a release branch)' if r.pending else ''}{f'  (as {r.published_as}, which it replaces)' if r.published_as else ''}"
        for r in rows
    )


@dataclass(frozen=True)
class Shown:
    """One published version as `show` finds it: where it lives and its bytes as tagged."""

    entry: Published
    blob: str
    data: bytes


def find_shown(ws: Workspace, spec: str) -> Shown:
    """`LESSON@VERSION` resolved to its published entry, blob sha and bytes."""
    lesson, sep, version = spec.partition("@")
    if not sep or not lesson or not version:
        raise UsageError(f"expected LESSON@VERSION, e.g. stock_basics@1.2.0, got {spec!r}")
    lesson_id = _lesson_id(ws, lesson)
    version = version.removeprefix("v")
    entry = _entry(ws, lesson_id, version)
    blob = ws.backend.blob_sha(entry)
    return Shown(entry, blob, ws.backend.read(blob, entry))


def render_shown(ws: Workspace, shown: Shown) -> str:
    """`show --json`: the version's file in the envelope, lossless: UTF-8 text as is, other bytes in
    base64 (`encoding` says which), with the git blob sha to check it against."""
    import base64

    from ..envelope import dumps

    entry = shown.entry
    try:
        content, encoding = shown.data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        content, encoding = base64.b64encode(shown.data).decode("ascii"), "base64"
    rows = {row.version: row for row in list_versions(ws, entry.lesson_id) if row.published_as is None}
    row = rows.get(entry.version)
    return dumps(
        "fiml-cms/show",
        {
            "lesson": entry.lesson_id,
            "lesson_version": entry.version,
            "date": entry.date,
            "tag": entry.tag,
            "commit": entry.commit,
            "blob": shown.blob,
            "yanked": bool(row and row.yanked),
            "pending": bool(row and row.pending),
            "encoding": encoding,
            "content": content,
        },
    )


def _entry(ws: Workspace, lesson_id: str, version: str) -> Published:
    for tagged in ws.store.published(lesson_id):
        if tagged.version == version:
            return tagged
    entry = ws.backend.history(lesson_id).get(version)
    if entry is None:
        known = ", ".join(ws.store.versions(lesson_id)) or "none"
        raise MissingInput(f"lesson {lesson_id!r} has no version {version} (published: {known})")
    return entry


def _lesson_id(ws: Workspace, lesson: str) -> str:
    if lesson.endswith((".yaml", ".yml")):
        return ws.lesson_ref(lesson).id
    if (
        lesson not in ws.store.ids()
        and not ws.store.pending(lesson)
        and not (ws.settings.lessons / f"{lesson}.yaml").is_file()
    ):
        raise MissingInput(
            f"unknown lesson {lesson!r}: no published version{suggest(lesson, ws.known_ids())}"
        )
    return lesson
