"""The one place that imports GitPython: tags, blobs at refs, history, commits.

Reads go through git's long-running `cat-file --batch` / `--batch-check` processes (GitPython's
`get_object_data` / `get_object_header`), which answer in tens of microseconds; GitPython's
object model (`repo.commit(tag).tree / path`, `repo.tags`) is avoided on hot paths because it
scans packed refs in Python. Those processes are not thread-safe, so every call holds a lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import ContentError, MissingInput
from .gitlocks import explain_lock, locked_file

_FIELD = "\x1f"
_RECORD = "\x1e"


@dataclass(frozen=True)
class TagRef:
    name: str  # without refs/tags/
    object: str  # the tag object (annotated) or the commit (lightweight)
    commit: str  # what it points at, peeled
    date: str  # tagger date for annotated tags, else committer date (ISO 8601)
    annotated: bool


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    date: str  # committer date, ISO 8601
    author_date: str
    subject: str


class OutsideRepository(MissingInput):
    """A file or folder of the content that a symbolic link puts outside the repository (exit 2):
    git does not track files through a symbolic link, so they can never be published."""

    def __init__(self, path: Path, real: Path, root: Path) -> None:
        link = _link_to(real, root)
        through = (
            f"{link.relative_to(root)} is a symbolic link to {link.resolve()}"
            if link is not None
            else "a symbolic link puts it"
        )
        super().__init__(
            f"{path}: {through}, outside the repository {root}; git does not track files through a "
            "symbolic link: move the folder into the repository (a link to a folder inside it works)"
        )


def _link_to(real: Path, root: Path) -> Path | None:
    """The symbolic link in the repository's top two levels that leads to `real`, else None."""
    try:
        top = [p for p in root.iterdir() if p.name != ".git"]
        second = [c for p in top if p.is_dir() and not p.is_symlink() for c in p.iterdir()]
    except OSError:
        return None
    for candidate in (*top, *second):
        if candidate.is_symlink() and real.is_relative_to(candidate.resolve()):
            return candidate
    return None


class GitRepo:
    """A git repository at `root` (the work tree's top folder)."""

    def __init__(self, path: Path) -> None:
        import git

        try:
            self._repo = git.Repo(path, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise MissingInput(
                f"{path}: not inside a git repository (run `git init`, or work in a clone)"
            ) from None
        if self._repo.bare:
            raise ContentError(f"{path}: a bare repository has no work tree to read lessons from")
        self.root = Path(self._repo.working_tree_dir).resolve()  # type: ignore[arg-type]
        self._lock = threading.RLock()

    @property
    def git_dir(self) -> Path:
        """The repository's private folder (`.git`, or a worktree's own folder): for caches and locks."""
        return Path(self._repo.git_dir)

    # -- reading -------------------------------------------------------------------------
    def _git(self, *args: str, **kwargs: object) -> str:
        import git

        try:
            with self._lock:
                return getattr(self._repo.git, args[0])(*args[1:], **kwargs)
        except git.GitCommandError as exc:
            detail = (exc.stderr or "").strip().removeprefix("stderr: ").strip("'\n ")
            lock = locked_file(detail)
            if lock is not None:
                detail = explain_lock(lock, self.root)
            raise ContentError(f"git {args[0].replace('_', '-')} failed: {detail or exc}") from None

    def head(self) -> str | None:
        """The commit HEAD points at, or None in a repository with no commits yet."""
        try:
            return self._git("rev_parse", "--verify", "-q", "HEAD") or None
        except ContentError:
            return None

    def newest_commit(self, commits: tuple[str, ...] | list[str]) -> str | None:
        """Of `commits`, one that none of the others descends from (the newest of a line of history),
        by topology, not by date (dates can be equal or wrong)."""
        if not commits:
            return None
        return self._git("rev_list", "--topo-order", "--max-count=1", *commits).strip() or None

    def is_detached(self) -> bool:
        with self._lock:
            return self._repo.head.is_detached

    def is_shallow(self) -> bool:
        return (Path(self._repo.git_dir) / "shallow").exists()

    def resolve(self, ref: str) -> str:
        """A commit sha for `ref` (a tag, a branch, a sha); ContentError when unknown."""
        try:
            return self._git("rev_parse", "--verify", "-q", f"{ref}^{{commit}}")
        except ContentError:
            hint = (
                " (this is a shallow clone: fetch it, e.g. actions/checkout with fetch-depth: 0)"
                if self.is_shallow()
                else ""
            )
            raise MissingInput(f"unknown git ref {ref!r}{hint}") from None

    def rev_parse(self, ref: str) -> str | None:
        """The commit `ref` names, or None when there is no such commit (no hint, no error)."""
        try:
            return self._git("rev_parse", "--verify", "-q", f"{ref}^{{commit}}") or None
        except ContentError:
            return None

    def tags(
        self, prefix: str = "", names: list[str] | None = None, *, merged_into: str | None = None
    ) -> list[TagRef]:
        """Every tag whose name starts with `prefix` (or just the tags `names`), from one `git for-each-ref`
        call; with `merged_into` (a commit) only the tags pointing at commits reachable from it."""
        fmt = (
            _FIELD.join(
                [
                    "%(refname:strip=2)",
                    "%(objectname)",
                    "%(*objectname)",
                    "%(objecttype)",
                    "%(creatordate:iso-strict)",
                ]
            )
            + _RECORD
        )
        patterns = _tag_patterns(prefix) if names is None else [f"refs/tags/{name}" for name in names]
        if not patterns:
            return []
        merged = [f"--merged={merged_into}"] if merged_into is not None else []
        out = self._git("for_each_ref", f"--format={fmt}", *merged, *patterns)
        tags = []
        for record in out.split(_RECORD):
            record = record.strip("\n")
            if not record:
                continue
            name, obj, peeled, kind, date = record.split(_FIELD)
            if names is None and not name.startswith(prefix):
                continue
            tags.append(TagRef(name, obj, peeled or obj, date, kind == "tag"))
        return tags

    def tag_objects(self, prefix: str = "") -> dict[str, str]:
        """Tag name -> the object it points at, for every tag under `refs/tags/<prefix>`: a fraction of the
        cost of `tags()` (no tag object is read), so a running bot can see cheaply what changed."""
        out = self._git("for_each_ref", "--format=%(objectname) %(refname:strip=2)", f"refs/tags/{prefix}")
        found = {}
        for line in out.splitlines():
            obj, _, name = line.partition(" ")
            if name:
                found[name] = obj
        return found

    def merged_tag_names(self, prefix: str, commit: str) -> set[str]:
        """Names of the tags under `refs/tags/<prefix>` whose commit is reachable from `commit`."""
        out = self._git(
            "for_each_ref", "--format=%(refname:strip=2)", f"--merged={commit}", *_tag_patterns(prefix)
        )
        return {name for name in out.splitlines() if name.startswith(prefix)}

    def is_ancestor(self, commit: str, of: str) -> bool:
        """Whether `commit` is reachable from `of` (merged into it)."""
        import subprocess

        done = subprocess.run(
            ["git", "merge-base", "--is-ancestor", commit, of],
            cwd=self.root,
            capture_output=True,
            check=False,
        )
        return done.returncode == 0

    def current_branch(self) -> str | None:
        """The checked-out branch's short name; None when HEAD is detached."""
        try:
            return self._git("symbolic_ref", "-q", "--short", "HEAD") or None
        except ContentError:
            return None

    def remotes(self) -> list[str]:
        try:
            return self._git("remote").split()
        except ContentError:
            return []

    def remote_default_branch(self, remote: str) -> str | None:
        """The branch `refs/remotes/<remote>/HEAD` names (the remote's default branch, set by clone)."""
        try:
            ref = self._git("symbolic_ref", "-q", f"refs/remotes/{remote}/HEAD")
        except ContentError:
            return None
        return ref.removeprefix(f"refs/remotes/{remote}/") or None

    def tag_message(self, name: str) -> str:
        return self._git("for_each_ref", "--format=%(contents)", f"refs/tags/{name}").rstrip("\n")

    def blob_sha(self, commit: str, path: str) -> str | None:
        """The blob sha of `path` at `commit`, or None when the file is not there."""
        try:
            with self._lock:
                sha, kind, _ = self._repo.git.get_object_header(f"{commit}:{path}")
        except ValueError:
            return None
        return _text(sha) if _text(kind) == "blob" else None

    def blob_shas(self, specs: list[tuple[str, str]]) -> list[str | None]:
        """`blob_sha` for many (commit, path) pairs in one `git cat-file --batch-check` run."""
        import subprocess

        if not specs:
            return []
        request = "".join(f"{commit}:{path}\n" for commit, path in specs)
        done = subprocess.run(
            ["git", "cat-file", "--batch-check=%(objectname) %(objecttype)"],
            cwd=self.root,
            input=request.encode(),
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            raise ContentError(f"git cat-file failed: {done.stderr.decode(errors='replace').strip()}")
        answers = []
        for line in done.stdout.decode().splitlines():
            sha, _, kind = line.partition(" ")
            answers.append(sha if kind == "blob" else None)
        if len(answers) != len(specs):
            raise ContentError("git cat-file answered a different number of lines than asked")
        return answers

    def read_blob(self, sha: str) -> bytes:
        with self._lock:
            return self._repo.git.get_object_data(sha)[3]

    def read_blobs(self, shas: list[str]) -> dict[str, bytes]:
        """The bytes of many blobs from one `git cat-file --batch` run (the catalogue's first build)."""
        import subprocess

        if not shas:
            return {}
        done = subprocess.run(
            ["git", "cat-file", "--batch"],
            cwd=self.root,
            input="".join(f"{s}\n" for s in shas).encode(),
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            raise ContentError(f"git cat-file failed: {done.stderr.decode(errors='replace').strip()}")
        out, found, at = done.stdout, {}, 0
        for sha in shas:
            end = out.index(b"\n", at)
            header = out[at:end].split()
            at = end + 1
            if len(header) == 3 and header[1] == b"blob":
                size = int(header[2])
                found[sha] = out[at : at + size]
                at += size + 1
        return found

    def remote_for_tags(self, preferred: str | None = None) -> str | None:
        """Where new tags come from: `preferred` (a remote name or URL), else `origin` if the clone has one."""
        if preferred:
            return preferred
        try:
            return "origin" if "origin" in self._git("remote").split() else None
        except ContentError:
            return None

    def fetch_tags(self, remote: str, timeout: float = 30.0, refspecs: tuple[str, ...] = ()) -> None:
        """`git fetch --tags REMOTE [REFSPEC...]`, non-interactive and bounded; ContentError (with git's
        own reason) when it fails."""
        import os
        import subprocess

        env = {
            **os.environ,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "true",
            "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"),
        }
        try:
            done = subprocess.run(
                ["git", "fetch", "--tags", "--no-recurse-submodules", remote, *refspecs],
                cwd=self.root,
                env=env,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ContentError(f"git fetch --tags {remote} took longer than {timeout:g} s") from None
        if done.returncode != 0:
            raise ContentError(
                f"git fetch --tags {remote} failed: {_git_reason(done.stderr, done.returncode)}"
            )

    def read_spec(self, commit: str, path: str) -> tuple[str, bytes] | None:
        """(blob sha, bytes) of `path` at `commit` in one `cat-file --batch` round trip; None if absent."""
        try:
            with self._lock:
                sha, kind, _, data = self._repo.git.get_object_data(f"{commit}:{path}")
        except ValueError:
            return None
        return (_text(sha), data) if _text(kind) == "blob" else None

    def read_at(self, commit: str, path: str) -> bytes | None:
        found = self.read_spec(commit, path)
        return None if found is None else found[1]

    def list_files(self, commit: str, folder: str) -> list[tuple[str, str]]:
        """(path, blob sha) of the files directly in `folder` at `commit` ("" for the root)."""
        spec = f"{commit}:{folder}" if folder else f"{commit}^{{tree}}"
        try:
            out = self._git("ls_tree", spec)
        except ContentError:
            return []
        files = []
        for line in out.splitlines():
            meta, name = line.split("\t", 1)
            _, kind, sha = meta.split()
            if kind == "blob":
                files.append((f"{folder}/{name}" if folder else name, sha))
        return files

    def commits(self, paths: tuple[str, ...] = (), ref: str = "HEAD") -> list[CommitInfo]:
        """Commits reachable from `ref` touching `paths`, oldest first."""
        fmt = _FIELD.join(["%H", "%cI", "%aI", "%s"]) + _RECORD
        out = self._git("log", "--reverse", "--topo-order", f"--format={fmt}", ref, "--", *paths)
        infos = []
        for record in out.split(_RECORD):
            record = record.strip("\n")
            if record:
                sha, date, author_date, subject = record.split(_FIELD, 3)
                infos.append(CommitInfo(sha, date, author_date, subject))
        return infos

    def last_commit(self, path: str) -> CommitInfo | None:
        """The newest commit reachable from HEAD that touched `path`; None when none did."""
        fmt = _FIELD.join(["%H", "%cI", "%aI", "%s"])
        try:
            out = self._git("log", "-1", f"--format={fmt}", "HEAD", "--", path).strip("\n")
        except ContentError:
            return None
        if not out:
            return None
        sha, date, author_date, subject = out.split(_FIELD, 3)
        return CommitInfo(sha, date, author_date, subject)

    def changed_files(self, commit: str, folder: str = "") -> list[str]:
        """Files added or modified by `commit` (against its first parent), under `folder`."""
        args = ["diff_tree", "--no-commit-id", "-r", "--root", "--name-only", "--diff-filter=AMR", commit]
        if folder:
            args += ["--", folder]
        return [p for p in self._git(*args).splitlines() if p]

    def diff_names(self, base: str, head: str | None, *folders: str) -> list[tuple[str, str, str | None]]:
        """(status, old path, new path) of files changed between `base` and `head` (None: work tree)."""
        args = ["diff", "--name-status", "-M", "-z", base]
        if head:
            args.append(head)
        out = self._git(*args, "--", *folders)
        parts = [p for p in out.split("\x00") if p != ""]
        changes: list[tuple[str, str, str | None]] = []
        i = 0
        while i < len(parts):
            status = parts[i]
            if status.startswith(("R", "C")):
                changes.append((status[0], parts[i + 1], parts[i + 2]))
                i += 3
            else:
                changes.append((status[0], parts[i + 1], None))
                i += 2
        return changes

    def commit_date(self, commit: str) -> str:
        """The committer date of `commit`, ISO 8601."""
        return self._git("show", "-s", "--format=%cI", commit).strip()

    def merge_base(self, a: str, b: str) -> str | None:
        try:
            return self._git("merge_base", a, b) or None
        except ContentError:
            return None

    def is_dirty(self, path: str) -> bool:
        """Uncommitted changes to `path`, staged or not (untracked counts as dirty)."""
        return bool(self._git("status", "--porcelain", "--", path).strip())

    def relative(self, path: Path) -> str:
        """The path git tracks `path` under: where it really is in the work tree, symbolic links
        followed (`content -> src/content` makes `content/lessons/x.yaml` git's
        `src/content/lessons/x.yaml`). A path whose real place is outside the work tree (through a
        link to a folder elsewhere) cannot be tracked: OutsideRepository (exit 2) names the link."""
        real = path.resolve()
        if real.is_relative_to(self.root):
            return real.relative_to(self.root).as_posix()
        raise OutsideRepository(path, real, self.root)

    # -- writing -------------------------------------------------------------------------
    def commit_file(self, path: str, message: str) -> str:
        """Commit exactly `path` (nothing else that is staged) and return the new commit."""
        self._git("add", "--", path)
        self._git("commit", "-q", "-m", message, "--only", "--", path)
        return self._git("rev_parse", "HEAD")

    def create_tag(self, name: str, commit: str, message: str, date: str | None = None) -> None:
        """An annotated tag; refuses to move an existing one. `date` backdates the tagger date."""
        self._git("check_ref_format", f"refs/tags/{name}")
        env = {"GIT_COMMITTER_DATE": date} if date else {}
        self._git("tag", "-a", name, commit, "-m", message, env=env)

    def tag_exists(self, name: str) -> bool:
        try:
            self._git("rev_parse", "--verify", "-q", f"refs/tags/{name}")
        except ContentError:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._repo.close()

    def __enter__(self) -> GitRepo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _git_reason(stderr: bytes, code: int) -> str:
    """Git's own words for a failure: its `fatal:`/`error:`/`! [rejected]` lines (joined), else all it
    said, else the exit code. (`fetch --quiet` would hide a rejected tag and exit 1 saying nothing.)"""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    picked = [line for line in lines if line.startswith(("fatal:", "error:", "!"))] or lines
    if not picked:
        return f"exit {code} (git said nothing)"
    return "; ".join(line.removeprefix("fatal: ").removeprefix("error: ") for line in picked)


def _text(value: str | bytes) -> str:
    """GitPython's cat-file answers are bytes (its type stubs say str)."""
    return value.decode() if isinstance(value, bytes) else value


def _tag_patterns(prefix: str) -> list[str]:
    """`for-each-ref` matches a literal pattern only whole or up to a `/`: a prefix that ends inside a
    name (`lesson-`) lists every tag, and `tags()` keeps those that start with it."""
    return [f"refs/tags/{prefix}" if prefix.endswith("/") else "refs/tags/"]


def worktree_blob_shas(root: Path, folders: list[str]) -> dict[str, str]:
    """Blob shas of the files under `folders` (relative to `root`) whose work-tree content equals the
    index: `git ls-files -s` less what `git diff-files` reports changed. Files missing here (changed,
    untracked, symlinks) must be hashed by the caller. Plain subprocesses: no GitPython start-up cost."""
    import subprocess

    def git_z(*args: str) -> list[str]:
        done = subprocess.run(
            ["git", "-C", str(root), *args, "-z", "--", *folders], capture_output=True, check=True
        )
        return [item for item in done.stdout.decode("utf-8", errors="surrogateescape").split("\0") if item]

    try:
        staged = git_z("ls-files", "-s")
        changed = set(git_z("diff-files", "--name-only"))
    except (OSError, subprocess.CalledProcessError):
        return {}
    shas = {}
    for line in staged:
        meta, path = line.split("\t", 1)
        mode, sha, stage = meta.split()
        if mode.startswith("100") and stage == "0" and path not in changed:
            shas[path] = sha
    return shas
