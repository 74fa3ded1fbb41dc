"""Release branches: a version is published when its tag exists AND its commit is merged into one.

A tag made on a pull-request branch must not reach learners before review (the way semantic-release
and release-please publish only from release branches). The branches come from `release_branches`
in the settings; by default the remote's default branch, else `main`. Each branch is looked up as the
fetched remote branch first (`refs/remotes/<remote>/<branch>`: what the remote has, which is what a
bot clone that only fetches knows), then as the local branch. Without `main`, `master` (git's old
default); with neither (one local branch under another name, no remote) the checked-out branch, so a
lone author's repository keeps working; that fallback is named in `ReleaseTips.note`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .config import Settings

if TYPE_CHECKING:
    from .gitrepo import GitRepo

DEFAULT_BRANCH = "main"
LEGACY_DEFAULT = "master"  # git's default branch name before `main`: taken when there is no `main`
#: Where a content remote given as a URL (FIML_CONTENT_REMOTE) keeps its fetched release branches.
URL_REMOTE_NAME = "fiml-content"


@dataclass(frozen=True)
class ReleaseTips:
    branches: tuple[str, ...]  # the release branch names
    tips: tuple[tuple[str, str], ...]  # (ref used, commit) of each branch found
    note: str | None = None  # a fallback taken, or a configured branch not found

    @property
    def commits(self) -> tuple[str, ...]:
        return tuple(commit for _, commit in self.tips)


def tracking_remote(repo: GitRepo, preferred: str | None = None) -> str | None:
    """The remote whose fetched branches count: `preferred` (a name, or a URL kept under
    `fiml-content`), else `origin` when the clone has it."""
    remotes = repo.remotes()
    if preferred:
        return preferred if preferred in remotes else URL_REMOTE_NAME
    return "origin" if "origin" in remotes else None


def branch_names(repo: GitRepo, settings: Settings, remote: str | None) -> tuple[str, ...]:
    if settings.release_branches:
        return settings.release_branches
    default = repo.remote_default_branch(remote) if remote else None
    return (default or DEFAULT_BRANCH,)


def release_tips(repo: GitRepo, settings: Settings, remote: str | None = None) -> ReleaseTips:
    """The commits of the release branches, as the remote has them when it was fetched."""
    names = branch_names(repo, settings, remote)
    tips = []
    missing = []
    for name in names:
        candidates = ([f"refs/remotes/{remote}/{name}"] if remote else []) + [f"refs/heads/{name}"]
        for ref in candidates:
            commit = repo.rev_parse(ref)
            if commit is not None:
                tips.append((ref, commit))
                break
        else:
            missing.append(name)
    if tips:
        note = f"release branch(es) not found: {', '.join(missing)}" if missing else None
        return ReleaseTips(names, tuple(tips), note)
    if settings.release_branches:
        return ReleaseTips(
            names,
            (),
            f"no release branch found ({', '.join(names)} in `release_branches`): nothing is published until one exists",
        )
    for ref in ([f"refs/remotes/{remote}/{LEGACY_DEFAULT}"] if remote else []) + [
        f"refs/heads/{LEGACY_DEFAULT}"
    ]:
        commit = repo.rev_parse(ref)
        if commit is not None and names == (DEFAULT_BRANCH,):  # a repository from before `main`
            return ReleaseTips((LEGACY_DEFAULT,), ((ref, commit),), None)
    current = repo.current_branch()
    head = repo.head()
    if current is None or head is None:
        return ReleaseTips(names, (), f"no branch {names[0]!r}: nothing is published until one exists")
    return ReleaseTips(
        (current,),
        ((f"refs/heads/{current}", head),),
        f"no branch {names[0]!r}: the checked-out branch {current!r} is taken as the release branch (set `release_branches`)",
    )


def fetch_refspecs(repo: GitRepo, remote: str) -> tuple[str, ...]:
    """What a bot's fetch brings besides the tags. A named remote's own refspec already updates
    `refs/remotes/<remote>/*` (the release branches among them); a URL has none, so its branches are
    kept under `refs/remotes/fiml-content/` (a wildcard: a missing branch never fails the fetch)."""
    if remote in repo.remotes():
        return ()
    return (f"+refs/heads/*:refs/remotes/{URL_REMOTE_NAME}/*",)


def is_release_branch(repo: GitRepo, settings: Settings) -> bool:
    """Whether the checked-out branch is a release branch (tagging there publishes once pushed)."""
    current = repo.current_branch()
    if current is None:
        return False
    tips = release_tips(repo, settings, tracking_remote(repo))
    return current in tips.branches


def require_release_branch(repo: GitRepo, settings: Settings, lesson_id: str | None, pending: bool) -> None:
    """Refuse to tag off a release branch (the tag would go live before review), unless `pending`: then
    the tag is made knowingly and goes live when its commit is merged."""
    from .errors import Refused

    if pending or is_release_branch(repo, settings):
        return
    tips = release_tips(repo, settings, tracking_remote(repo))
    where = repo.current_branch()
    on = f"branch {where!r}" if where else "a detached HEAD"
    names = ", ".join(tips.branches)
    retry = f"`fiml-cms tag {lesson_id}`" if lesson_id else "`fiml-cms tag --merged`"
    raise Refused(
        f"HEAD is on {on}, not a release branch ({names}): a version is published when it is merged there, after review. "
        f"Commit without tagging, push and merge; then run `fiml-cms tag --merged` on {tips.branches[0]} (what CI's tag-on-merge does) or {retry} there; "
        f"or tag now with --pending (the tag is listed as pending merge and goes live when its commit is merged)"
    )
