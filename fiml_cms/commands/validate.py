"""`fiml-cms validate`: every file's findings, including the repository-wide rules."""

from __future__ import annotations

import datetime as dt
import gc
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import rules, yamlfile
from ..config import Settings
from ..document import LESSON, PATH, add_positions, check_file
from ..errors import UsageError
from ..findings import Finding, Severity, sort_findings

YAML_SUFFIXES = (".yaml", ".yml")
#: Below this many files a worker pool costs more than it saves.
PARALLEL_THRESHOLD = 200


@dataclass(frozen=True)
class ValidationResult:
    files: int
    findings: list[Finding]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.WARNING)

    def exit_code(self, strict: bool = False) -> int:
        return 1 if self.errors or (strict and self.warnings) else 0


@dataclass(frozen=True)
class FileOutcome:
    """One file's own findings (positioned) and what the repository rules need of it."""

    path: Path
    file: str
    kind: str
    findings: list[Finding]
    entry: rules.LessonEntry | rules.PathEntry


def in_configured_folders(path: Path, settings: Settings) -> bool:
    """A YAML file directly in the configured lessons or paths folder (what the pre-commit hook checks:
    its `files:` matches any YAML, since the folders are the repository's to choose)."""
    if not path.name.endswith(YAML_SUFFIXES):
        return False
    parent = Path(os.path.abspath(path)).parent
    return parent in (settings.lessons, settings.paths) or parent.resolve() in (
        settings.lessons,
        settings.paths,
    )


def validate(targets: list[Path], settings: Settings) -> ValidationResult:
    """Check `targets` (files or folders; none: the repository's lessons and paths).

    The repository's other lessons and paths are read as context, so a single changed file
    is still checked against every id and prerequisite; only the targets' findings count.
    """
    with _collector_paused():
        return _validate(targets, settings)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while the repository is read.

    Reading 10,000 lessons' context makes ~10 small objects per file, none of them in a reference
    cycle; the collector's full passes over that growing heap were ~15% of `validate FILE`'s CPU in
    a 10,000-lesson repository, and freed nothing. Reference counting still frees everything.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _validate(targets: list[Path], settings: Settings) -> ValidationResult:
    if not targets:
        targets = [d for d in (settings.lessons, settings.paths) if d.is_dir()]
        if not targets:
            raise UsageError(
                f"no lessons folder at {settings.lessons}; pass files or folders, or set `lessons` in {settings.config_file or '.fiml-cms.toml'}"
            )
    chosen = _expand(targets, settings)
    chosen_set = {str(p) for p in chosen}
    context = [
        p
        for p in _walk_yaml([d for d in (settings.lessons, settings.paths) if d.is_dir()], settings)
        if p not in chosen_set
    ]
    outcomes = check_files(chosen, settings)
    reported = {o.file: o for o in outcomes}
    entries = [o.entry for o in outcomes] + context_entries(context, settings)
    lessons = [e for e in entries if isinstance(e, rules.LessonEntry)]
    paths = [e for e in entries if isinstance(e, rules.PathEntry)]
    repository = [
        f for f in rules.check_repository(lessons, paths, focus=set(reported)) if f.file in reported
    ]
    findings = [f for o in reported.values() for f in o.findings] + _position(repository, reported)
    return ValidationResult(len(chosen), sort_findings(findings))


def context_entries(files: list[str], settings: Settings) -> list[rules.LessonEntry | rules.PathEntry]:
    """What the repository rules need of the files not reported on (absolute path strings): from the
    blob-sha cache under `.git/` where the content is known, by checking the file otherwise (then
    cached). Strings, not Paths, on this path: it runs over every file of a big repository."""
    from ..context_cache import ContextCache, decode, encode, git_dir_of
    from ..gitrepo import worktree_blob_shas
    from ..store import git_blob_sha

    git_dir = git_dir_of(settings.root)
    if git_dir is None or not files:
        return [o.entry for o in check_files([Path(f) for f in files], settings)]
    cache = ContextCache.load(git_dir)
    folders = [os.path.relpath(d, settings.root) for d in (settings.lessons, settings.paths) if d.is_dir()]
    indexed = worktree_blob_shas(settings.root, folders)
    root = str(settings.root) + os.sep
    here = os.getcwd() + os.sep
    paths_folder = str(settings.paths) + os.sep
    entries: dict[str, rules.LessonEntry | rules.PathEntry] = {}
    missing: list[tuple[str, str | None]] = []
    for file in files:
        name = file[file.rfind(os.sep) + 1 :]
        is_path = file.startswith(paths_folder) and len(paths_folder) + len(name) == len(file)
        sha = indexed.get(file[len(root) :]) if file.startswith(root) else None
        if sha is None and not os.path.islink(file):
            try:
                with open(file, "rb") as handle:
                    sha = git_blob_sha(handle.read())
            except OSError:
                sha = None
        key = f"{'path' if is_path else 'lesson'}:{sha}"
        found = cache.get(key) if sha else None
        if found is not None:
            display = file[len(here) :] if file.startswith(here) else display_name(Path(file))
            entries[file] = decode(is_path, found, display, name.rsplit(".", 1)[0])
        else:
            missing.append((file, key if sha else None))
    for (file, cache_key), outcome in zip(missing, check_files([Path(f) for f, _ in missing], settings)):
        entries[file] = outcome.entry
        if cache_key is not None:
            cache.put(cache_key, encode(outcome.entry))
    cache.save()
    return [entries[f] for f in files]


def check_files(paths: Sequence[Path], settings: Settings) -> list[FileOutcome]:
    """Check each file on its own, on every core when there are many."""
    workers = min(os.cpu_count() or 1, 8)
    if len(paths) < PARALLEL_THRESHOLD or workers < 2 or not _can_fork():
        return [_outcome(p, settings) for p in paths]
    import multiprocessing

    chunks = [list(paths[i::workers]) for i in range(workers)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        parts = pool.starmap(_outcomes, [(chunk, settings) for chunk in chunks])
    order = {p: i for i, p in enumerate(paths)}
    return sorted((o for part in parts for o in part), key=lambda o: order[o.path])


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _outcomes(paths: list[Path], settings: Settings) -> list[FileOutcome]:
    return [_outcome(p, settings) for p in paths]


def _outcome(path: Path, settings: Settings) -> FileOutcome:
    kind = PATH if path.parent.resolve() == settings.paths else LESSON
    checked = check_file(path, display_name(path), kind, settings.root)
    if checked.lesson is not None:
        today = dt.datetime.now(dt.UTC).date()
        checked.findings.extend(
            rules.stale_fallbacks(
                rules.LessonParts.of(checked.lesson), checked.file, settings.fallback_max_age_days, today
            )
        )
    add_positions([checked])
    entry = checked.lesson_entry() if kind == LESSON else checked.path_entry()
    return FileOutcome(path, checked.file, kind, checked.findings, entry)


def _position(findings: list[Finding], outcomes: dict[str, FileOutcome]) -> list[Finding]:
    """Line and column for repository findings, read from their files (only those with one)."""
    by_file: dict[str, list[Finding]] = {}
    for f in findings:
        by_file.setdefault(f.file, []).append(f)
    placed: list[Finding] = []
    for file, group in by_file.items():
        try:
            text = outcomes[file].path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            text = ""
        where = yamlfile.locate(text, {(f.path, f.at_key) for f in group})
        placed.extend(f.at(*where[(f.path, f.at_key)]) for f in group)
    return placed


def _walk_yaml(folders: list[Path], settings: Settings) -> list[str]:
    """The YAML files under `folders` as absolute path strings, in `_expand`'s order (cheap for 10,000)."""
    archive = str(settings.archive)
    found: dict[str, None] = {}
    for top in folders:
        for dirpath, dirnames, filenames in os.walk(os.path.abspath(top)):
            dirnames[:] = sorted(
                d
                for d in dirnames
                if not d.startswith(".") and os.path.realpath(os.path.join(dirpath, d)) != archive
            )
            prefix = dirpath.rstrip(os.sep) + os.sep
            for name in sorted(filenames):
                if name.endswith(YAML_SUFFIXES):
                    found.setdefault(prefix + name, None)
    return list(found)


def _expand(targets: list[Path], settings: Settings) -> list[Path]:
    """Files to check, in a stable order, without duplicates; folders are walked for YAML."""
    seen: dict[Path, None] = {}
    for target in targets:
        if target.is_dir():
            before = len(seen)
            for dirpath, dirnames, filenames in os.walk(target):
                dirnames[:] = sorted(
                    d
                    for d in dirnames
                    if not d.startswith(".") and Path(dirpath, d).resolve() != settings.archive
                )
                for name in sorted(filenames):
                    if name.endswith(YAML_SUFFIXES):
                        seen.setdefault(Path(dirpath, name).absolute(), None)
            if len(seen) == before and not _is_default_folder(target, settings):
                raise UsageError(f"{target}: a folder that holds no lesson or path files (*.yaml, *.yml)")
        elif target.exists() or target.is_symlink():
            seen.setdefault(target.absolute(), None)
        else:
            raise UsageError(f"{target}: no such file or folder")
    return list(seen)


def _is_default_folder(target: Path, settings: Settings) -> bool:
    """The configured lessons or paths folder may be empty (a new repository); a folder named by hand may not."""
    return target.resolve() in (settings.lessons.resolve(), settings.paths.resolve())


def display_name(path: Path) -> str:
    """The path as the user would type it: relative to the working folder when inside it."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else Path(relative).as_posix()


def fix_files(findings: Sequence[Finding]) -> tuple[int, int]:
    """Apply every finding's fix to its file (atomically); how many fixes, in how many files."""
    from collections import defaultdict

    from ..atomic import write_bytes
    from ..fixes import apply_fixes

    by_file: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        if finding.fix is not None:
            by_file[finding.file].append(finding)
    fixed = files = 0
    for name, found in by_file.items():
        path = Path(name)
        text, count = apply_fixes(path.read_text(encoding="utf-8"), found)
        if count:
            write_bytes(path, text.encode("utf-8"))
            fixed, files = fixed + count, files + 1
    return fixed, files
