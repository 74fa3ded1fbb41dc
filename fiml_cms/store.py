"""ContentStore: (lesson id, version) -> Lesson, for the bot, from git tags or an archive folder.

Published versions come from one tag index (one `git for-each-ref`), from the lesson file's
history when a version has no tag, or from `content/archive/` when the deployment has no
`.git`. Parsed lessons are cached by blob SHA: a blob never changes, so the cache is never
invalidated. All methods are safe to call from concurrent threads.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from . import versions
from .config import Settings, load_settings
from .document import parse_lesson
from .errors import ContentError, FimlError, MissingInput
from .lesson import Lesson
from .tags import TagFormat

if TYPE_CHECKING:  # the git adapter is imported lazily: validate and the bot without git history skip it
    from .gitrepo import GitRepo, TagRef


@dataclass(frozen=True)
class Published:
    """Where one published version of a lesson lives."""

    lesson_id: str
    version: str
    date: str
    tag: str | None = None
    commit: str | None = None
    blob: str | None = None  # known up front for the archive; resolved lazily from git
    path: Path | None = None  # the file, for a working-tree preview


@dataclass(frozen=True)
class Servable:
    """A lesson's newest published version that can be served, and why any newer one cannot."""

    lesson: Lesson
    skipped: tuple[str, ...] = ()  # the problems of the newer versions, newest first


class Backend(Protocol):
    def index(self) -> dict[str, dict[str, Published]]: ...

    def blob_sha(self, entry: Published) -> str: ...

    def blob_shas(self, entries: list[Published]) -> list[str]: ...

    def fetch(self, entry: Published) -> tuple[str, bytes | None]: ...

    def read(self, blob: str, entry: Published) -> bytes: ...

    def history(self, lesson_id: str) -> dict[str, Published]: ...


def git_blob_sha(data: bytes) -> str:
    """The sha git gives `data` as a blob, so archive files share the git cache keys."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


class ContentStore:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._lock = threading.RLock()
        self._lessons: dict[str, Lesson] = {}  # blob sha -> lesson (immutable)
        self._blobs: dict[tuple[str, str], str] = {}  # (id, version) -> blob sha
        self._latest: dict[str, Servable] = {}  # id -> newest servable version: the one latest/yanked cache
        self._index: dict[str, dict[str, Published]] = backend.index()

    @classmethod
    def open(
        cls, path: Path, settings: Settings | None = None, preview: bool = False, remote: str | None = None
    ) -> ContentStore:
        """The store for the content repository at `path`: git if it has `.git`, else its archive.

        `preview` serves the lessons folder as it is (each lesson's current version only), for
        authors trying lessons before they are published.
        """
        settings = settings or load_settings(path)
        if preview:
            return cls(WorktreeBackend(settings.lessons))
        if (settings.root / ".git").exists():
            from .gitrepo import GitRepo

            return cls(GitBackend(GitRepo(settings.root), settings, remote))
        if (settings.archive / "index.json").is_file():
            return cls(ArchiveBackend(settings.archive))
        raise ContentError(
            f"{settings.root}: neither a git repository nor an archive ({settings.archive}/index.json)"
        )

    def refresh(self) -> set[str]:
        """Re-read the published versions (new tags); returns the ids whose versions changed.

        Incremental: what is cached for a lesson whose tags did not change stays cached, and parsed
        lessons stay cached by blob whatever changed.
        """
        index = self._backend.index()
        with self._lock:
            old = self._index
            if index is old or index == old:
                return set()
            changed = {i for i in index.keys() | old.keys() if index.get(i) != old.get(i)}
            self._index = index
            self._latest = {k: v for k, v in self._latest.items() if k not in changed}
            self._blobs = {k: v for k, v in self._blobs.items() if k[0] not in changed}
            return changed

    def fetch_tags(self, remote: str | None = None) -> str | None:
        """Fetch new tags from `remote` (else the clone's `origin`); the remote used, None when there is
        none (an archive, a preview, a clone without a remote). ContentError when the fetch fails."""
        fetch = getattr(self._backend, "fetch_tags", None)
        return fetch(remote) if fetch is not None else None

    def newest(self) -> dict[str, Published]:
        """Each lesson's newest published version (yanked or not), from the tag index alone."""
        index = self._index
        return {i: entries[max(entries, key=versions.sort_key)] for i, entries in index.items() if entries}

    def locate(self, entries: list[Published]) -> list[tuple[Published, str]]:
        """(entry, blob sha) for each entry whose file can be found, in few git round trips."""
        try:
            return list(zip(entries, self._backend.blob_shas(entries)))
        except ContentError:  # one lesson file is missing at its tag: find the others one by one
            located = []
            for entry in entries:
                try:
                    located.append((entry, self._backend.blob_sha(entry)))
                except ContentError:
                    continue
            return located

    def read_located(self, located: list[tuple[Published, str]]) -> dict[Published, bytes]:
        """The bytes of many located blobs (one `git cat-file --batch` for a git repository)."""
        read_many = getattr(self._backend, "read_many", None)
        if read_many is not None:
            blobs = read_many([sha for _, sha in located])
            return {e: blobs[sha] for e, sha in located if sha in blobs}
        found: dict[Published, bytes] = {}
        for entry, sha in located:
            try:
                found[entry] = self._backend.read(sha, entry)
            except ContentError:
                continue
        return found

    def cache_folder(self) -> Path | None:
        """A folder for caches derived from blobs (the git folder's `fiml/`), None without a git repository."""
        repo = getattr(self._backend, "repo", None)
        return None if repo is None else repo.git_dir / "fiml"

    def ids(self) -> list[str]:
        return sorted(self._index)

    def read_published(self, path: str) -> bytes | None:
        """A file of the content repository as published (at the release branch, as last indexed): the
        committed flag file, say. None when absent, or when the store has no git history (`is_git`)."""
        read = getattr(self._backend, "read_published", None)
        return read(path) if read is not None else None

    @property
    def release_note(self) -> str | None:
        """How the release branches were found when not as configured (a fallback), else None."""
        return getattr(self._backend, "release_note", None)

    @property
    def is_git(self) -> bool:
        return hasattr(self._backend, "read_published")

    def pending(self, lesson_id: str) -> list[Published]:
        """Versions tagged but not yet merged into a release branch (not served), oldest first."""
        entries = getattr(self._backend, "pending", {}).get(lesson_id, {})
        return [entries[v] for v in sorted(entries, key=versions.sort_key)]

    def versions(self, lesson_id: str) -> list[str]:
        """Published versions, oldest first (semver order), yanked ones included."""
        return sorted(self._entries(lesson_id), key=versions.sort_key)

    def published(self, lesson_id: str) -> list[Published]:
        entries = self._entries(lesson_id)
        return [entries[v] for v in sorted(entries, key=versions.sort_key)]

    def get(self, lesson_id: str, version: str) -> Lesson:
        blob = self._blobs.get((lesson_id, version))
        if blob is not None:
            lesson = self._lessons.get(blob)
            if lesson is not None:
                return lesson
        return self._load(lesson_id, version)

    def latest(self, lesson_id: str) -> Lesson:
        """The newest published version; ContentError when it cannot be read (`servable` falls back).

        It is never yanked: a version is yanked by publishing a newer one that lists it, and a
        lesson cannot yank its own current version (FIML045).
        """
        cached = self._latest.get(lesson_id)
        if cached is not None and not cached.skipped:
            return cached.lesson
        with self._lock:
            lesson = self.latest_any(lesson_id)  # raises the newest version's own error
            self._latest[lesson_id] = Servable(lesson)
            return lesson

    def servable(
        self, lesson_id: str, on_fallback: Callable[[str, Servable], None] | None = None
    ) -> Servable:
        """The newest version that can be served: a newer one that cannot be read is skipped, so
        learners keep learning; `on_fallback(lesson_id, found)` hears of it once, when it is looked up.

        Cached until a refresh changes the lesson's versions; ContentError when no version can be read.
        """
        cached = self._latest.get(lesson_id)
        if cached is not None:
            return cached
        with self._lock:
            problems: list[str] = []
            for version in reversed(self.versions(lesson_id)):
                try:
                    lesson = self.get(lesson_id, version)
                except FimlError as exc:
                    problems.append(str(exc))
                    continue
                found = self._latest[lesson_id] = Servable(lesson, tuple(problems))
                if problems and on_fallback is not None:
                    on_fallback(lesson_id, found)
                return found
        raise ContentError(
            f"lesson {lesson_id!r} has no version that can be served: {'; '.join(problems) or 'none published'}"
        )

    def is_yanked(self, lesson_id: str, version: str) -> bool:
        """Whether the newest servable version lists `version` as yanked (it carries the current list)."""
        return version in self.servable(lesson_id).lesson.yanked

    def latest_any(self, lesson_id: str) -> Lesson:
        """The newest published version, yanked or not: it carries the current `yanked` list."""
        ordered = self.versions(lesson_id)
        if not ordered:
            raise ContentError(f"lesson {lesson_id!r} has no published version")
        return self.get(lesson_id, ordered[-1])

    def _entries(self, lesson_id: str) -> dict[str, Published]:
        entries = self._index.get(lesson_id)
        if entries is None:
            raise MissingInput(f"unknown lesson {lesson_id!r}")
        return entries

    def _load(self, lesson_id: str, version: str) -> Lesson:
        with self._lock:
            entries = self._entries(lesson_id)
            entry = entries.get(version)
            if entry is None:
                entry = self._backend.history(lesson_id).get(version)
                if entry is None:
                    known = ", ".join(self.versions(lesson_id)) or "none"
                    raise MissingInput(f"lesson {lesson_id!r} has no version {version} (published: {known})")
            blob, data = self._backend.fetch(entry)
            where = entry.tag or f"{entry.commit or 'archive'}"
            lesson = self._lessons.get(blob)
            if lesson is None:
                raw = data if data is not None else self._backend.read(blob, entry)
                lesson = self._lessons[blob] = _parse_published(
                    raw, f"{lesson_id}@{version} ({where})", entry
                )
            # Checked on every first lookup, not only on the first parse: two tags may point at one blob.
            if lesson.id != lesson_id and lesson_id not in lesson.replaces:
                raise ContentError(f"{where}: holds lesson {lesson.id!r}, not {lesson_id!r}")
            if lesson.version != version:
                raise ContentError(f"{where}: the file there has version {lesson.version}, not {version}")
            self._blobs[(lesson_id, version)] = blob
            return lesson


def parse_published(data: bytes, display: str, stem: str, date: str) -> Lesson:
    """A lesson as published at `date` under the file stem `stem`: a legacy format is upgraded in memory,
    as the store and `diff` read it (for `check --base` on a base in a legacy format)."""
    return _parse_published(data, display, Published(stem, "", date))


def _parse_published(data: bytes, display: str, entry: Published) -> Lesson:
    """A published lesson; a version tagged before the current format is upgraded in memory.

    Repositories tagged with `tag --from-history` point at files in the legacy formats; the
    bot can still serve them, as `fiml-cms upgrade` would have written them.
    """
    try:
        return parse_lesson(data, display)
    except ContentError:
        from . import legacy, yamlfile
        from .document import LESSON, check_text

        document = check_text(data, display, LESSON).data
        if not isinstance(document, dict) or legacy.is_current(document):
            raise
        import re

        day = (entry.date or "")[:10] or None
        dropped: set[str] = set()
        while True:
            # A published version cannot be edited any more: what has no place in the format is left
            # out of what is served (as `upgrade --drop-field NAME` would), instead of serving nothing.
            upgraded = legacy.upgrade_lesson(
                document,
                stem=entry.lesson_id,
                first_seen=day,
                today=day or "1970-01-01",
                drop_fields=dropped,
            )
            droppable = set(re.findall(r"--drop-field (\w+)", " ".join(upgraded.problems))) - dropped
            if upgraded.data is not None or not droppable:
                break
            dropped |= droppable
        if upgraded.data is None:
            # Not `invalid` itself: its hint (`run fiml-cms upgrade <file>`) names no file here, a tag does.
            raise ContentError(
                f"{display} is in a legacy format that cannot be read as a lesson: {'; '.join(upgraded.problems[:2])}"
            ) from None
        return parse_lesson(
            yamlfile.dump_lesson(upgraded.data).encode("utf-8"), f"{display}, upgraded from the legacy format"
        )


class GitBackend:
    """Published versions from tags; a version with no tag from the lesson file's history."""

    LIST_TREE_FROM = 16  # lookups at one commit from which listing its lessons folder once is cheaper
    READ_ALL_FROM = 256  # new tags from which reading all tags in one listing is cheaper than by name

    def __init__(self, repo: GitRepo, settings: Settings, remote: str | None = None) -> None:
        self.repo = repo
        self.settings = settings
        self.remote = remote  # where new tags and release branches are fetched from (None: origin, if any)
        self.format = TagFormat(settings.tag_format)
        self.lessons_rel = repo.relative(settings.lessons) if settings.lessons != repo.root else ""
        self.problems: list[str] = []
        self.pending: dict[str, dict[str, Published]] = {}  # tagged, not merged into a release branch yet
        self.release_note: str | None = None  # how the release branches were found, when not as configured
        self._tips: tuple[str, ...] | None = None  # the release branches' commits the index was made at
        self._indexed: dict[str, dict[str, Published]] | None = None  # the last index
        self._entries: dict[str, Published | str] = {}  # tag name -> its version, or why the tag is ignored
        self._objects: dict[str, str] = {}  # tag name -> object, as indexed
        self._folders: dict[str, list[str]] = {}  # commit -> where lessons may be there (after a move)

    def index(self) -> dict[str, dict[str, Published]]:
        """The tag index, incrementally: only tags that are new or moved since the last call are read.

        A running bot asks every few seconds; listing tag names and objects costs a fraction of reading
        every tag (its commit and date), and an unchanged listing returns the previous index as is.
        """
        from .release import release_tips, tracking_remote

        objects = self.repo.tag_objects(self.format.prefix)
        tips = release_tips(self.repo, self.settings, tracking_remote(self.repo, self.remote))
        self.release_note = tips.note
        if self._indexed is not None and objects == self._objects and tips.commits == self._tips:
            return self._indexed
        kept = {
            name: entry
            for name, entry in self._entries.items()
            if self._objects.get(name) == objects.get(name)
        }
        changed = [name for name in objects if name not in kept]
        read = (
            self.repo.tags(self.format.prefix)
            if len(changed) > self.READ_ALL_FROM or not kept
            else self.repo.tags(names=changed)
        )
        entries = dict(kept)
        for tag in read:
            if tag.name in objects:
                entries[tag.name] = self._entry(tag)
        merged: set[str] = set()
        for commit in tips.commits:
            merged |= self.repo.merged_tag_names(self.format.prefix, commit)
        index: dict[str, dict[str, Published]] = {}
        pending: dict[str, dict[str, Published]] = {}
        problems = []
        for name, entry in entries.items():
            if isinstance(entry, str):
                problems.append(entry)
            else:
                (index if name in merged else pending).setdefault(entry.lesson_id, {})[entry.version] = entry
        self.problems, self.pending, self._tips = problems, pending, tips.commits
        self._entries, self._objects, self._indexed = (
            entries,
            {name: objects[name] for name in entries},
            index,
        )
        return index

    def _entry(self, tag: TagRef) -> Published | str:
        """The published version a tag stands for, or why the tag is ignored."""
        parsed = self.format.parse(tag.name)
        if parsed is None or not versions.is_valid(parsed.version):
            return f"tag {tag.name!r} ignored: {self.format.is_malformed(tag.name)}"
        return Published(parsed.lesson_id, parsed.version, tag.date, tag.name, tag.commit)

    def lesson_path(self, lesson_id: str) -> str:
        name = f"{lesson_id}.yaml"
        return f"{self.lessons_rel}/{name}" if self.lessons_rel else name

    def blob_sha(self, entry: Published) -> str:
        if entry.blob:
            return entry.blob
        assert entry.commit is not None
        sha = self.repo.blob_sha(entry.commit, self.lesson_path(entry.lesson_id))
        if sha is None:
            sha = self._find_by_id(entry)
        return sha

    def fetch(self, entry: Published) -> tuple[str, bytes | None]:
        """The blob sha and, when it costs nothing more, the bytes: one `cat-file` round trip."""
        if entry.blob or entry.commit is None:
            return self.blob_sha(entry), None
        found = self.repo.read_spec(entry.commit, self.lesson_path(entry.lesson_id))
        if found is None:
            return self._find_by_id(entry), None
        return found

    def blob_shas(self, entries: list[Published]) -> list[str]:
        """`blob_sha` for many entries with one git round trip (plus a search for moved files)."""
        pending = [e for e in entries if not e.blob]
        found: dict[int, str | None] = {}
        by_commit: dict[str, list[Published]] = {}
        for entry in pending:
            by_commit.setdefault(entry.commit or "", []).append(entry)
        single = []
        for commit, group in by_commit.items():
            if len(group) < self.LIST_TREE_FROM:
                single.extend(group)
                continue
            # Each `commit:path` lookup re-reads the lessons folder's tree; one listing serves them all.
            files = dict(self.repo.list_files(commit, self.lessons_rel))
            found.update((id(e), files.get(self.lesson_path(e.lesson_id))) for e in group)
        found.update(
            zip(
                map(id, single),
                self.repo.blob_shas([(e.commit or "", self.lesson_path(e.lesson_id)) for e in single]),
            )
        )
        return [e.blob or found[id(e)] or self._find_by_id(e) for e in entries]

    def _find_by_id(self, entry: Published) -> str:
        """The lesson where it was at that commit, when not at `<lessons>/<id>.yaml`: under another file
        name (a numbered legacy file), or in the folder the lessons were in then (before a move: the
        `lessons` setting at that commit, else the default folder)."""
        from .document import LESSON, check_text

        assert entry.commit is not None
        folders = self._folders_at(entry.commit)
        for folder in folders[1:]:
            sha = self.repo.blob_sha(
                entry.commit, f"{folder}/{entry.lesson_id}.yaml" if folder else f"{entry.lesson_id}.yaml"
            )
            if sha is not None:
                return sha
        for folder in folders:
            for path, sha in self.repo.list_files(entry.commit, folder):
                if not path.endswith((".yaml", ".yml")):
                    continue
                data = check_text(self.repo.read_blob(sha), path, LESSON).data or {}
                if isinstance(data, dict) and data.get("id") == entry.lesson_id:
                    return sha
        where = entry.tag or entry.commit
        raise ContentError(
            f"{where}: no file for lesson {entry.lesson_id!r} in {' or '.join(f or 'the repository root' for f in folders)} at commit {entry.commit[:12]}"
        )

    def _folders_at(self, commit: str) -> list[str]:
        """Where lessons may be at `commit`: the folder now, the one configured then, the default."""
        cached = self._folders.get(commit)
        if cached is not None:
            return cached
        folders = [self.lessons_rel]
        for candidate in (lessons_folder_at(self.repo, commit), DEFAULT_LESSONS):
            if candidate is not None and candidate not in folders:
                folders.append(candidate)
        self._folders[commit] = folders
        return folders

    def read(self, blob: str, entry: Published) -> bytes:
        return self.repo.read_blob(blob)

    def read_published(self, path: str) -> bytes | None:
        """`path` (relative to the repository) at the first release branch's commit, as last indexed."""
        tips = self._tips
        return self.repo.read_at(tips[0], path) if tips else None

    def read_many(self, blobs: list[str]) -> dict[str, bytes]:
        return self.repo.read_blobs(list(dict.fromkeys(blobs)))

    def fetch_tags(self, remote: str | None) -> str | None:
        """New tags and the release branches (a tag counts once its commit is merged into one)."""
        from .release import fetch_refspecs

        chosen = self.repo.remote_for_tags(remote or self.remote)
        if chosen is not None:
            self.repo.fetch_tags(chosen, refspecs=fetch_refspecs(self.repo, chosen))
        return chosen

    def history(self, lesson_id: str) -> dict[str, Published]:
        """Each version's first commit in the lesson file's history (for untagged versions)."""
        from .document import LESSON, check_text

        if self.repo.is_shallow():
            raise ContentError(
                f"lesson {lesson_id!r}: this version has no tag and this is a shallow clone, so its history cannot be searched; fetch the tags or unshallow the clone"
            )
        path = self.lesson_path(lesson_id)
        found: dict[str, Published] = {}
        for commit in self.repo.commits((path,)):
            sha = self.repo.blob_sha(commit.sha, path)
            if sha is None:
                continue
            data = check_text(self.repo.read_blob(sha), path, LESSON).data or {}
            version = versions.normalize_legacy(data.get("version"))
            if data.get("id") == lesson_id and version and version not in found:
                found[version] = Published(lesson_id, version, commit.date, None, commit.sha, sha)
        return found


DEFAULT_LESSONS = "content/lessons"


def lessons_folder_at(repo: GitRepo, commit: str) -> str | None:
    """The lessons folder the settings named at `commit` (`.fiml-cms.toml`, else pyproject's table)."""
    import tomllib

    for name in (".fiml-cms.toml", "pyproject.toml"):
        data = repo.read_at(commit, name)
        if data is None:
            continue
        try:
            document = tomllib.loads(data.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
        tool = document.get("tool", {}).get("fiml-cms") if isinstance(document.get("tool"), dict) else None
        table = tool if isinstance(tool, dict) else (document if name == ".fiml-cms.toml" else {})
        lessons, content = table.get("lessons"), table.get("content")
        if isinstance(lessons, str) and lessons:
            return _folder(lessons)
        if isinstance(content, str) and content:
            return _folder(f"{content}/lessons")
        return None
    return None


def _folder(setting: str) -> str:
    """A folder setting as a path inside the repository ("" for its root)."""
    import posixpath

    folder = posixpath.normpath(setting.replace("\\", "/")).strip("/")
    return "" if folder == "." else folder


class _KnownBlobs:
    """For the file-based backends: every blob sha is known when the index is built, a read is checked
    against it, and there is no history beyond the index."""

    def blob_sha(self, entry: Published) -> str:
        assert entry.blob is not None
        return entry.blob

    def blob_shas(self, entries: list[Published]) -> list[str]:
        return [self.blob_sha(e) for e in entries]

    def fetch(self, entry: Published) -> tuple[str, bytes | None]:
        return self.blob_sha(entry), None

    @staticmethod
    def _read_verified(path: Path, blob: str, changed: str) -> bytes:
        """The file's bytes if they are still the indexed blob; else ContentError saying `changed`."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ContentError(f"{path}: cannot be read: {exc.strerror}") from None
        if git_blob_sha(data) != blob:
            raise ContentError(changed)
        return data

    def history(self, lesson_id: str) -> dict[str, Published]:
        return {}


class WorktreeBackend(_KnownBlobs):
    """Each lesson file's current version, as if published: a preview for authors."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.problems: list[str] = []

    def index(self) -> dict[str, dict[str, Published]]:
        from .document import LESSON, check_text

        index: dict[str, dict[str, Published]] = {}
        problems = []
        for path in sorted(self.folder.glob("*.y*ml")):
            try:
                data = path.read_bytes()
            except OSError as exc:
                problems.append(f"{path}: cannot be read: {exc.strerror}")
                continue
            document = check_text(data, str(path), LESSON).data or {}
            lesson_id, version = document.get("id"), versions.normalize_legacy(document.get("version"))
            if not isinstance(lesson_id, str) or version is None:
                problems.append(f"{path}: no lesson id and version; skipped")
                continue
            index[lesson_id] = {
                version: Published(lesson_id, version, "", blob=git_blob_sha(data), path=path)
            }
        self.problems = problems
        return index

    def read(self, blob: str, entry: Published) -> bytes:
        assert entry.path is not None
        return self._read_verified(
            entry.path, blob, f"{entry.path} changed since it was indexed; refresh the store"
        )


class ArchiveBackend(_KnownBlobs):
    """Published versions from `content/archive/` (a deployment without `.git`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def index(self) -> dict[str, dict[str, Published]]:
        path = self.folder / "index.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ContentError(f"{path}: cannot be read: {exc}") from None
        index: dict[str, dict[str, Published]] = {}
        for lesson_id, entries in raw.get("lessons", {}).items():
            for version, meta in entries.items():
                index.setdefault(lesson_id, {})[version] = Published(
                    lesson_id,
                    version,
                    meta.get("date", ""),
                    meta.get("tag"),
                    meta.get("commit"),
                    meta["blob"],
                )
        return index

    def read(self, blob: str, entry: Published) -> bytes:
        path = self.folder / entry.lesson_id / f"{entry.version}.yaml"
        return self._read_verified(
            path, blob, f"{path}: differs from the published blob {blob[:12]} (run `fiml-cms archive` again)"
        )
