"""Telling a stale git lock (left by a killed git) from a live one, and saying what to do about it.

git takes `<file>.lock` before changing a ref or the index; a git killed with its parent (kill -9 of
`fiml-cms tag --from-history`) leaves the lock behind, and every later git call fails with "remove the
file manually". Whether a git process is still at work in the repository is visible in /proc, so the
message can say which case it is: wait for pid N, or remove this exact file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

LOCK_EXISTS = re.compile(r"Unable to create '([^']+\.lock)': File exists")


@dataclass(frozen=True)
class GitProcess:
    pid: int
    command: str


def locked_file(stderr: str) -> Path | None:
    """The lock file git could not create, from its error output; None for other errors."""
    match = LOCK_EXISTS.search(stderr)
    return Path(match.group(1)) if match else None


def live_git_processes(root: Path, proc: Path = Path("/proc")) -> list[GitProcess] | None:
    """git processes working in `root` (their working folder is inside it); None when /proc is absent."""
    if not proc.is_dir():
        return None
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if not (entry / "comm").read_text().strip().startswith("git"):
                continue
            cwd = Path(os.readlink(entry / "cwd"))
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # gone meanwhile, or not ours to inspect
            continue
        if (cwd == root or root in cwd.parents) and not _is_reader(command):
            found.append(GitProcess(int(entry.name), command))
    return found


def _is_reader(command: str) -> bool:
    """GitPython's long-lived `git cat-file --batch` helpers (ours or another reader's) take no locks."""
    return " cat-file --batch" in command


def explain_lock(lock: Path, root: Path) -> str:
    """What to do about `lock`: wait for the git that holds it, or remove it when no git is running."""
    running = live_git_processes(root)
    if running:
        who = ", ".join(f"pid {p.pid} ({p.command})" for p in running[:3])
        return f"{lock} is held by a git process still running in this repository: {who}; wait for it to finish, then run the command again"
    if running is None:
        return f"{lock} exists: if no git process is running in this repository, a killed one left it: remove it (rm '{lock}') and run the command again"
    return f"{lock} was left by a git process that was killed (none is running in this repository now): remove it with `rm '{lock}'` and run the command again"
