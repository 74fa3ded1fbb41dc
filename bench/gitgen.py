"""A generated content repository for the store and archive benchmarks (shared by both).

`ensure_repo(count)` returns a git repository (cached under /tmp, keyed by the count, the
number of versions, this generator's revision and the source lessons) holding `count` lessons
built from the project's own `content/lessons/*.yaml`:

- copy `r` of source lesson `x` is the lesson `x_<r>` (file `content/lessons/x_<r>.yaml`),
  with its prerequisites cleared (`prerequisites: []`); the text is otherwise the authors';
- version 1 (1.0.0, the source as written) of every lesson is one commit, version 2 (1.1.0)
  of every lesson the next commit, version 3 (1.2.0) the third; each later version is what
  `fiml-cms bump` writes (new `version`, a changelog entry prepended, via
  `fiml_cms.yamlfile.bump_text`) plus a wording change in the first text body;
- every version has an annotated tag `lesson/<id>/v<version>` on its commit (3,000 for the
  default 1,000 lessons), with the changelog entry as its message, as `fiml-cms tag` writes;
- commits and tags are written with one `git fast-import` stream (they are ordinary commit and
  tag objects; creation speed is not what is measured), then `git gc` packs objects and refs
  (refs end up in `packed-refs`, as in a long-lived repository).

Every generated version of the first round of copies is parsed with `parse_lesson` before the
repository is written, so a generator bug cannot hand the benchmarks invalid lessons.

Usage: .venv/bin/python -m bench.gitgen [--count 1000] [--versions 3] [--force]   (prints the path)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.benchlib import ID_LINE, PROJECT_LESSONS, project_lessons

CACHE = Path(tempfile.gettempdir()) / "fiml-bench-gitgen"
REVISION = "4"  # bump when the generated repository changes shape
LESSONS_REL = "content/lessons"

PREREQ_LINE = re.compile(r"^prerequisites:.*(?:\n[ \t]+- .*)*$", re.M)
BODY_FIRST_LINE = re.compile(r"^( +)body: \|[-+]?\n( +)(.+)$", re.M)

# Same environment for every git the generator runs: no user or system configuration.
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Bench Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Bench Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.invalid",
}
DATES = ["2026-11-26", "2026-12-01", "2026-12-08", "2026-12-15", "2026-12-22"]


@dataclass(frozen=True)
class GeneratedRepo:
    root: Path
    ids: list[str]
    versions: list[str]  # the versions every lesson has, oldest first

    def lesson_path(self, lesson_id: str) -> str:
        return f"{LESSONS_REL}/{lesson_id}.yaml"

    def tag(self, lesson_id: str, version: str) -> str:
        return f"lesson/{lesson_id}/v{version}"


def git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(GIT_ENV)
    return env


def git(cwd: Path, *args: str, input: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=git_env())
    if done.returncode:
        raise RuntimeError(
            f"git {' '.join(args)} failed ({done.returncode}): {done.stderr.decode(errors='replace')}"
        )
    return done.stdout.decode()


def version_names(count: int) -> list[str]:
    return ["1.0.0"] + [f"1.{i}.0" for i in range(1, count)]


def _reword(text: str, version: str) -> str:
    """A wording change: one sentence appended to the first line of the first text body."""
    match = BODY_FIRST_LINE.search(text)
    if not match:
        raise SystemExit("a source lesson has no `body: |` block to reword")
    return text[: match.end(3)] + f" (Wording revised for {version}.)" + text[match.end(3) :]


def templates(version_count: int) -> list[tuple[str, list[str]]]:
    """Per source lesson: its id and the text of each version (prerequisites cleared)."""
    from fiml_cms import yamlfile

    out = []
    for source_id, text in project_lessons():
        text, n = PREREQ_LINE.subn("prerequisites: []", text, count=1)
        if not n:
            text = text.replace(f"id: {source_id}\n", f"id: {source_id}\nprerequisites: []\n", 1)
        if not text.endswith("\n"):
            text += "\n"
        versions = [text]
        for i, version in enumerate(version_names(version_count)[1:], start=1):
            text = yamlfile.bump_text(
                text, version, DATES[min(i, len(DATES) - 1)], [f"Clearer wording ({version})"]
            )
            text = _reword(text, version)
            versions.append(text)
        out.append((source_id, versions))
    return out


def _with_id(text: str, lesson_id: str) -> str:
    return ID_LINE.sub(f"id: {lesson_id}", text, count=1)


def _check(templ: list[tuple[str, list[str]]], versions: list[str]) -> None:
    from fiml_cms.document import parse_lesson

    for source_id, texts in templ:
        for version, text in zip(versions, texts):
            lesson = parse_lesson(_with_id(text, f"{source_id}_0").encode(), f"{source_id}@{version}")
            if lesson.version != version or lesson.prerequisites:
                raise SystemExit(
                    f"generator bug: {source_id}@{version} parsed as {lesson.version}, prerequisites {lesson.prerequisites}"
                )


def _epoch(day: str) -> int:
    import datetime as dt

    return int(dt.datetime.fromisoformat(f"{day}T09:00:00+00:00").timestamp())


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def _stream(count: int, version_count: int) -> tuple[bytes, list[str]]:
    templ = templates(version_count)
    versions = version_names(version_count)
    _check(templ, versions)
    width = max(4, len(str(count // len(templ))))
    plan = [(templ[i % len(templ)], i // len(templ)) for i in range(count)]
    ids = [f"{source_id}_{r:0{width}d}" for (source_id, _), r in plan]
    if any(len(i) > 64 for i in ids):
        raise SystemExit("a generated id is longer than 64 characters")
    out = bytearray()
    for v, version in enumerate(versions):
        when = _epoch(DATES[min(v, len(DATES) - 1)])  # commit and tags dated as the changelog entry
        message = f"Version {version} of all {count} lessons\n".encode()
        out += b"commit refs/heads/main\nmark :%d\n" % (v + 1)
        out += b"author Bench Author <author@example.invalid> %d +0000\n" % when
        out += b"committer Bench Committer <committer@example.invalid> %d +0000\n" % when
        out += _data(message)
        if v:
            out += b"from :%d\n" % v
        else:
            out += b"M 100644 inline .fiml-cms.toml\n" + _data(
                b'# generated by bench/gitgen.py\ntag_format = "lesson/{id}/v{version}"\n'
            )
        for lesson_id, ((_source_id, texts), _) in zip(ids, plan):
            out += f"M 100644 inline {LESSONS_REL}/{lesson_id}.yaml\n".encode() + _data(
                _with_id(texts[v], lesson_id).encode()
            )
        out += b"\n"
        for i, lesson_id in enumerate(ids):
            date = DATES[min(v, len(DATES) - 1)]
            change = "Initial release" if v == 0 else f"Clearer wording ({version})"
            note = f"{version} ({date})\n\n- {change}\n".encode()
            out += f"tag lesson/{lesson_id}/v{version}\n".encode() + b"from :%d\n" % (v + 1)
            out += b"tagger Bench Committer <committer@example.invalid> %d +0000\n" % (when + 3600 + i)
            out += _data(note)
    return bytes(out), ids


def _key(count: int, version_count: int) -> str:
    digest = hashlib.sha1(REVISION.encode())
    for path in sorted(PROJECT_LESSONS.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"n{count}-v{version_count}-{digest.hexdigest()[:12]}"


def ensure_repo(
    count: int = 1000, version_count: int = 3, force: bool = False, quiet: bool = False
) -> GeneratedRepo:
    """The cached repository for (count, versions), generated on first use."""
    target = CACHE / _key(count, version_count)
    repo = target / "repo"
    versions = version_names(version_count)
    if force and target.exists():
        shutil.rmtree(target)
    if (target / "complete").is_file():
        ids = (target / "ids.txt").read_text(encoding="utf-8").split()
        return GeneratedRepo(repo, ids, versions)
    if not quiet:
        print(f"generating {count} lessons x {version_count} versions in {target} ...", file=sys.stderr)
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{target.name}.", dir=CACHE))
    try:
        stream, ids = _stream(count, version_count)
        root = work / "repo"
        root.mkdir()
        git(root, "init", "-q", "-b", "main")
        git(root, "fast-import", "--quiet", "--done", input=stream + b"done\n")
        git(root, "reset", "-q", "--hard", "main")
        git(root, "gc", "-q")
        tags = git(root, "for-each-ref", "--format=%(objecttype)", "refs/tags/lesson/").split()
        if len(tags) != count * version_count or set(tags) != {"tag"}:
            raise RuntimeError(
                f"expected {count * version_count} annotated tags, found {len(tags)} ({set(tags)})"
            )
        if (root / ".git" / "refs" / "tags" / "lesson").exists() and any(
            (root / ".git" / "refs" / "tags" / "lesson").rglob("v*")
        ):
            raise RuntimeError("tags are not packed after git gc")
        (work / "ids.txt").write_text("\n".join(ids) + "\n", encoding="utf-8")
        (work / "complete").write_text("ok\n", encoding="utf-8")
        try:
            os.rename(work, target)
        except OSError:
            if not (target / "complete").is_file():  # someone else's run won the race, or a stale half folder
                shutil.rmtree(target, ignore_errors=True)
                os.rename(work, target)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return GeneratedRepo(repo, ids, versions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--force", action="store_true", help="regenerate even when cached")
    args = parser.parse_args()
    generated = ensure_repo(args.count, args.versions, args.force)
    print(generated.root)


if __name__ == "__main__":
    main()
