"""The tutor's view of the content: fiml_cms's ContentStore plus learning paths, renames and the catalogue.

A lesson whose newest published version cannot be served (a broken file) falls back to the
newest version that can, and the operator is told in the log; learners keep learning.

`refresh()` fetches new tags (when the repository has a remote), re-reads the tag index and builds
the next catalogue off to the side; the finished catalogue is swapped in with one assignment, so an
action in flight keeps the one it started with and never waits for a refresh.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path

from fiml_cms import flagfile, versions
from fiml_cms.config import Settings
from fiml_cms.document import PATH, check_file
from fiml_cms.errors import ConfigError, ContentError, FimlError
from fiml_cms.flagfile import Canary
from fiml_cms.lesson import ChangelogEntry, LearningPath, Lesson
from fiml_cms.store import ArchiveBackend, ContentStore, Servable

from .summaries import SummaryCache
from .tutor.catalogue import Catalogue

log = logging.getLogger("fiml_bot.content")

#: Where the content repository keeps its content canaries (what `fiml-cms tag --canary` commits).
CANARY_FILE = flagfile.DEFAULT_PATH


class LessonContent:
    """Implements `fiml_bot.tutor.ports.Content`; safe to share between threads."""

    def __init__(self, store: ContentStore, settings: Settings, *, remote: str | None = None) -> None:
        self.store = store
        self.settings = settings
        self.remote = remote  # FIML_CONTENT_REMOTE; None: the clone's `origin`, if any
        self.fetch = True  # whether a refresh fetches from the remote (`chat` turns it off unless asked)
        self._lock = threading.RLock()  # guards the archive lookup
        self._refreshing = threading.Lock()  # one refresh at a time; never taken by an action
        self._summaries = SummaryCache()
        self._paths_seen: tuple[tuple[str, int, int], ...] | None = None
        self._paths: tuple[LearningPath, ...] = ()
        self._archive: ContentStore | bool | None = False  # False: not looked for since the last refresh
        self.refreshed_at: float | None = None  # time.monotonic() of the last refresh that fully worked
        self.refresh_error: str | None = None
        self.max_staleness: float | None = None  # set by a refresher: older content makes /readyz fail
        self._served_ref: tuple[tuple[str, ...], str] | None = None  # (published commits, their ref)
        self._canaries: dict[str, Canary] = {}
        self._canaries_from: bytes | None = None
        if store.release_note:
            log.warning("published versions: %s", store.release_note)
        self._catalogue = self._build_catalogue()
        self._read_canaries()
        self.refreshed_at = time.monotonic()

    @classmethod
    def open(
        cls, root: Path, settings: Settings, preview: bool = False, *, remote: str | None = None
    ) -> LessonContent:
        return cls(ContentStore.open(root, settings, preview=preview, remote=remote), settings, remote=remote)

    # -- refresh -----------------------------------------------------------------------------
    def refresh(self, fetch: bool | None = None) -> None:
        """Fetch new tags (if there is a remote, and `fetch`, default `self.fetch`), re-index, rebuild
        the catalogue, swap it in.

        A failed fetch still re-indexes what is there, then raises ContentError (the caller logs it
        and tries again later); the catalogue in use stays valid throughout.
        """
        with self._refreshing:
            problem = None
            if self.fetch if fetch is None else fetch:
                try:
                    self.store.fetch_tags(self.remote)
                except ContentError as exc:
                    problem = str(exc)
            changed = self.store.refresh()  # also forgets the newest versions of the lessons that changed
            with self._lock:
                self._archive = False
            paths_changed = self._paths_signature() != self._paths_seen
            if changed or paths_changed:
                self._catalogue = self._build_catalogue()
                log.info("content refreshed: %d lesson(s) changed", len(changed))
            self._read_canaries()
            self.refresh_error = problem
            if problem is not None:
                raise ContentError(problem)
            self.refreshed_at = time.monotonic()

    def served_ref(self) -> str:
        """The content commit this replica serves (12 hex digits), for fiml_build_info and /readyz:
        of the commits its lessons' newest published versions come from, the newest one (a fetch moves
        tags, not HEAD); HEAD for a preview; "archive" or "worktree" without git. Asked on every probe,
        it runs git only when the set of published commits changed."""
        root = self.settings.root
        if not (root / ".git").exists():
            return "archive" if (self.settings.archive / "index.json").is_file() else "worktree"
        try:
            commits = tuple(sorted({p.commit for p in self.store.newest().values() if p.commit}))
            cached = self._served_ref
            if cached is not None and cached[0] == commits:
                return cached[1]
            from fiml_cms.gitrepo import GitRepo

            repo = GitRepo(root)
            try:
                sha = repo.newest_commit(commits) if commits else repo.head()
            finally:
                repo.close()
        except Exception as exc:  # a probe or a scrape never fails on this
            log.warning("cannot tell which content commit is served: %s", exc)
            return "unknown"
        ref = sha[:12] if sha else "unknown"
        self._served_ref = (commits, ref)
        return ref

    def refresh_age(self) -> float:
        """Seconds since the last refresh that fully worked (fiml_content_refresh_age_seconds)."""
        return 0.0 if self.refreshed_at is None else max(0.0, time.monotonic() - self.refreshed_at)

    def staleness_problem(self) -> str | None:
        """Why the content may be out of date (no successful refresh for too long), or None."""
        if self.max_staleness is None or self.refreshed_at is None:
            return None
        age = time.monotonic() - self.refreshed_at
        if age <= self.max_staleness:
            return None
        why = f": {self.refresh_error}" if self.refresh_error else ""
        return f"content not refreshed for {age:.0f} s (limit {self.max_staleness:g} s){why}"

    # -- content canaries --------------------------------------------------------------------
    def canaries(self) -> dict[str, Canary]:
        """The content canaries as published: the flag file committed on the release branch (what a
        bot that only fetches has), not a file in a checkout. The same dict until the file changes."""
        return self._canaries

    def _read_canaries(self) -> None:
        if self.store.is_git:
            data = self.store.read_published(CANARY_FILE.as_posix())
        else:
            try:
                data = (self.settings.root / CANARY_FILE).read_bytes()
            except OSError:
                data = None
        if data == self._canaries_from:
            return
        try:
            self._canaries = canaries_in(data, f"{CANARY_FILE} (published)")
        except (
            FimlError
        ) as exc:  # a broken file keeps the canaries in force: never a full release by accident
            log.error("content canaries unchanged: %s", exc)
            return
        self._canaries_from = data
        log.info(
            "content canaries: %s",
            ", ".join(f"{c.lesson} {c.version} {c.percent} %" for c in self._canaries.values()) or "none",
        )

    def _build_catalogue(self) -> Catalogue:
        return Catalogue.build(self._summaries.summaries(self.store, self._parsed_latest), self._read_paths())

    def catalogue(self) -> Catalogue:
        return self._catalogue

    # -- lessons -----------------------------------------------------------------------------
    def latest(self, lesson_id: str) -> Lesson:
        """The newest version that can be served (the store's cache: a refresh forgets what changed)."""
        return self.store.servable(lesson_id, _report_fallback).lesson

    def _parsed_latest(self, lesson_id: str) -> Lesson | None:
        try:
            return self.latest(lesson_id)
        except FimlError as exc:
            log.error("lesson %s is not listed: %s", lesson_id, exc)
            return None

    def get(self, lesson_id: str, version: str) -> Lesson:
        """A version of a lesson, also one published under an id it has since replaced, or only archived."""
        try:
            return self._get(lesson_id, version)
        except ContentError:
            archive = self._archive_store()
            if archive is None:
                raise
            try:
                return archive.get(lesson_id, version)
            except ContentError:
                pass
            raise

    def _get(self, lesson_id: str, version: str) -> Lesson:
        """A version tagged under a former id wins over an untagged one found in the renamed file's
        history: that file may hold the same number with new content before its bump."""
        former_ids = self._catalogue.former_ids(lesson_id)
        if former_ids and version not in self._tagged(lesson_id):
            for former in former_ids:
                if version in self._tagged(former):
                    return replace(
                        self.store.get(former, version), id=lesson_id
                    )  # served under the id the learner's records use now
        try:
            return self.store.get(lesson_id, version)
        except ContentError:
            for former in former_ids:
                try:
                    lesson = self.store.get(former, version)
                except ContentError:
                    continue
                return replace(lesson, id=lesson_id)
            raise

    def _tagged(self, lesson_id: str) -> list[str]:
        try:
            return self.store.versions(lesson_id)
        except ContentError:
            return []

    def _archive_store(self) -> ContentStore | None:
        """`content/archive/` beside a git repository: versions whose tags are gone may still be there."""
        with self._lock:
            if self._archive is False:
                index = self.settings.archive / "index.json"
                git = (self.settings.root / ".git").exists()
                self._archive = (
                    ContentStore(ArchiveBackend(self.settings.archive)) if git and index.is_file() else None
                )
            return self._archive if isinstance(self._archive, ContentStore) else None

    def versions(self, lesson_id: str) -> list[str]:
        return self.store.versions(lesson_id)

    def newest_version(self, lesson_id: str) -> str | None:
        """The newest published version (from the tag index), None for an unknown lesson."""
        try:
            ordered = self.store.versions(lesson_id)
        except ContentError:
            return None
        return ordered[-1] if ordered else None

    def is_yanked(self, lesson_id: str, version: str) -> bool:
        """Yanked by the version served as the newest; False for a lesson with none."""
        try:
            return version in self.latest(lesson_id).yanked
        except FimlError:
            return False

    def current_id(self, lesson_id: str) -> str | None:
        return self._catalogue.current_id(lesson_id)

    def lesson_ids(self) -> list[str]:
        return self._catalogue.lesson_ids()

    def paths(self) -> list[LearningPath]:
        return list(self._catalogue.paths)

    def _paths_signature(self) -> tuple[tuple[str, int, int], ...]:
        folder = self.settings.paths
        files = sorted(folder.glob("*.y*ml")) if folder.is_dir() else []
        signature = []
        for file in files:
            try:
                stat = file.stat()
            except OSError:
                continue
            signature.append((file.name, stat.st_mtime_ns, stat.st_size))
        return tuple(signature)

    def _read_paths(self) -> tuple[LearningPath, ...]:
        signature = self._paths_signature()
        if signature == self._paths_seen:
            return self._paths
        paths = []
        for name, _, _ in signature:
            file = self.settings.paths / name
            checked = check_file(file, str(file), PATH, self.settings.root)
            if checked.path is None:
                log.error(
                    "learning path %s is invalid and is not shown: %s",
                    file,
                    "; ".join(f.message for f in checked.findings[:2]),
                )
                continue
            paths.append(checked.path)
        self._paths_seen, self._paths = signature, tuple(paths)
        return self._paths

    def changelog_since(self, lesson_id: str, version: str) -> list[ChangelogEntry]:
        latest = self.latest(lesson_id)
        try:
            floor = versions.parse(version)
        except ValueError:
            return list(latest.changelog)
        return [
            e for e in latest.changelog if versions.is_valid(e.version) and versions.parse(e.version) > floor
        ]


def canaries_in(data: bytes | None, source: str) -> dict[str, Canary]:
    """The content canaries of a flag file's bytes (none when there is no file); ConfigError if broken."""
    if data is None:
        return {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: not UTF-8 text") from None
    flags = flagfile.parse(text, source).get("flags", {})
    found = {}
    for key, flag in flags.items() if isinstance(flags, dict) else ():
        canary = flagfile.canary_of(key, flag)
        if canary is not None:
            found[canary.lesson] = canary
    return found


def _report_fallback(lesson_id: str, found: Servable) -> None:
    log.error(
        "lesson %s: serving %s, the newest version that works: %s",
        lesson_id,
        found.lesson.version,
        "; ".join(found.skipped),
    )
