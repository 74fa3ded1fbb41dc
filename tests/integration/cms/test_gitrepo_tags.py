"""GitRepo answers notify's question "what was published at REF" (git is run only in gitrepo.py)."""

from __future__ import annotations

from pathlib import Path

from fiml_cms.gitrepo import GitRepo
from testing.repo import commit_all, git


def test_rev_parse_names_a_commit_or_none(git_repo: Path) -> None:
    with GitRepo(git_repo) as repo:
        assert repo.rev_parse("main") == git(git_repo, "rev-parse", "HEAD")
        assert repo.rev_parse("no-such-ref") is None


def test_tags_merged_into_a_commit(git_repo: Path) -> None:
    first = git(git_repo, "rev-parse", "HEAD")
    git(git_repo, "tag", "-a", "-m", "one", "lesson/a/v1.0.0")
    (git_repo / "later.txt").write_text("later\n")
    commit_all(git_repo, "Later")
    git(git_repo, "tag", "-a", "-m", "two", "lesson/a/v1.1.0")
    git(git_repo, "tag", "other-1")
    with GitRepo(git_repo) as repo:
        assert [t.name for t in repo.tags("lesson/", merged_into=first)] == ["lesson/a/v1.0.0"]
        assert [t.name for t in repo.tags("lesson/")] == ["lesson/a/v1.0.0", "lesson/a/v1.1.0"]


def test_a_prefix_that_ends_inside_a_name(git_repo: Path) -> None:
    git(git_repo, "tag", "lesson-a-v1.0.0")
    git(git_repo, "tag", "lessons")
    git(git_repo, "tag", "other")
    with GitRepo(git_repo) as repo:
        assert [t.name for t in repo.tags("lesson-")] == ["lesson-a-v1.0.0"]
