"""`fiml-cms tag --merged`: tag on merge, run by CI on a push to the release branch.

Authors commit bumps in pull requests without tagging; once merged, every lesson whose version on the
release branch has no tag yet gets one, on the last commit that changed its file (the commit holding
exactly that text). Idempotent and resumable: what is tagged already is skipped, so a rerun after a
failure (or a second push) tags only what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import versions
from ..document import parse_lesson
from ..errors import FimlError, Refused
from ..workspace import Workspace
from .bump import tag_message


@dataclass
class MergedTags:
    created: list[tuple[str, str]] = field(default_factory=list)  # (tag, commit)
    existing: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0

    def render(self) -> str:
        lines = [f"created {name} at {commit[:12]}" for name, commit in self.created]
        lines += [f"problem: {p}" for p in self.problems]
        lines.append(
            f"{len(self.created)} tag(s) created, {self.existing} version(s) already tagged, {len(self.problems)} problem(s)"
            + ("; push them: `git push origin --tags`" if self.created else "")
        )
        return "\n".join(lines)


def tag_merged(ws: Workspace) -> MergedTags:
    """Tag every lesson version on the release branch (HEAD must be on it) that has no tag yet."""
    from ..release import release_tips, tracking_remote

    repo = ws.repo
    head = repo.head()
    tips = release_tips(repo, ws.settings, tracking_remote(repo))
    if head is None or not any(repo.is_ancestor(head, tip) for tip in tips.commits):
        raise Refused(
            f"HEAD is not on a release branch ({', '.join(tips.branches)}): `tag --merged` tags what was merged there; "
            f"run it on {tips.branches[0]} (in CI: on a push to it)"
        )
    folder = repo.relative(ws.settings.lessons) if ws.settings.lessons != repo.root else ""
    done = MergedTags()
    for path, blob in repo.list_files(head, folder):
        if not path.endswith((".yaml", ".yml")):
            continue
        try:
            lesson = parse_lesson(repo.read_blob(blob), f"{path} at {head[:12]}")
        except FimlError as exc:
            done.problems.append(f"{exc} (not tagged)")
            continue
        name = ws.tag_format.name(lesson.id, lesson.version)
        if repo.tag_exists(name):
            done.existing += 1
            continue
        last = ws.last_published(lesson.id)
        if last and versions.parse(lesson.version) < versions.parse(last):
            done.problems.append(
                f"{path}: version {lesson.version} is lower than the published {last} (not tagged)"
            )
            continue
        changed = repo.last_commit(path)
        commit = changed.sha if changed is not None else head
        try:
            repo.create_tag(name, commit, tag_message(lesson.changelog[0]))
        except FimlError as exc:
            done.problems.append(f"{name}: {exc}")
            continue
        done.created.append((name, commit))
    return done
