"""The release train: a real git content repository and the releases the simulation publishes to it.

The project's lessons are copied into a fresh repository, every lesson published at 1.0.0 with
`fiml-cms tag`. Each release is a real commit and tag made with `fiml-cms bump ... --commit --tag` (or
the same edits and `fiml-cms tag` where bump cannot do it in one go): a patch, two minors, a major, a
yanked version, a renamed id and a raised `xp_reward`, in that order (`RELEASE_TRAIN`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
CONTENT = PROJECT / "content"

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Simulation Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Simulation Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}

# The lessons the train changes (the driver's garbage and the oracle's final checks name them too).
MARKET = "what_is_a_market"
QUOTES = "reading_stock_prices"
ORDERS = "market_and_limit_orders"
ORDERS_NEW = "order_types"


class ReleaseError(Exception):
    """A release could not be made with fiml-cms (a problem of the simulation or of fiml-cms)."""


@contextlib.contextmanager
def git_identity() -> Iterator[None]:
    """fiml-cms commits and tags with the process's git identity: lend it one while the simulation
    runs when there is none (the tests' autouse fixture sets its own), and restore the environment."""
    added = [key for key in GIT_IDENTITY if key not in os.environ]
    os.environ.update({key: GIT_IDENTITY[key] for key in added})
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


class ContentRepo:
    """A git content repository in a folder, changed only by commits and `fiml-cms` commands."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lessons = root / "content" / "lessons"
        self.published: list[str] = []  # tags made by the releases, in order

    @classmethod
    def create(cls, folder: Path) -> ContentRepo:
        """The project's lessons and paths, committed, every lesson tagged at its version."""
        root = folder / "content-repo"
        shutil.copytree(CONTENT / "lessons", root / "content" / "lessons")
        shutil.copytree(CONTENT / "paths", root / "content" / "paths")
        (root / ".fiml-cms.toml").write_text("# defaults\n", encoding="utf-8")
        repo = cls(root)
        repo.git("init", "-q", "-b", "main")
        repo.commit("Initial lessons")
        for path in sorted(repo.lessons.glob("*.yaml")):
            repo.cms("tag", path.stem)
        return repo

    # -- tools -------------------------------------------------------------------------------
    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            env={**GIT_IDENTITY, **os.environ},
            check=False,
        )
        if done.returncode != 0:
            raise ReleaseError(f"git {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout.strip()

    def cms(self, *args: str) -> str:
        """`fiml-cms ARGS` in the repository, through Typer's runner (as the tests do)."""
        from typer.testing import CliRunner

        from fiml_cms.cli import app

        with contextlib.chdir(self.root):
            result = CliRunner().invoke(app, list(args), env={"GITHUB_ACTIONS": "false"})
        if result.exit_code != 0 or (result.exception and not isinstance(result.exception, SystemExit)):
            raise ReleaseError(
                f"fiml-cms {' '.join(args)} exited {result.exit_code}: {result.output.strip()} {result.exception!r}"
            )
        return result.output

    def commit(self, message: str) -> None:
        """Commit everything changed (nothing when nothing changed)."""
        self.git("add", "-A")
        if self.git("status", "--porcelain"):
            self.git("commit", "-q", "-m", message)

    def path(self, lesson_id: str) -> Path:
        return self.lessons / f"{lesson_id}.yaml"

    def edit(self, lesson_id: str, change: Callable[[str], str]) -> None:
        path = self.path(lesson_id)
        before = path.read_text(encoding="utf-8")
        after = change(before)
        if after == before:
            raise ReleaseError(f"the edit of {lesson_id} changed nothing")
        path.write_text(after, encoding="utf-8")

    # -- publishing --------------------------------------------------------------------------
    def bump(self, lesson_id: str, expected_level: str, message: str, date: str, level: str = "auto") -> str:
        """Commit the edits, then `fiml-cms bump ID auto --commit --tag`; checks the level diff chose."""
        self.commit(f"{lesson_id}: {message}")
        out = self.cms("bump", lesson_id, level, "-m", message, "--date", date, "--commit", "--tag")
        found = re.search(r": (\S+) -> (\S+) \((\w+)\)", out)
        if found is None:
            raise ReleaseError(f"unexpected bump output: {out!r}")
        if found.group(3) != expected_level:
            raise ReleaseError(
                f"{lesson_id}: fiml-cms chose a {found.group(3)} bump, the release train expected {expected_level}: {out.strip()}"
            )
        self.published.append(f"{lesson_id}@{found.group(2)}")
        return found.group(2)

    def yank_fix(self, lesson_id: str, message: str, date: str) -> str:
        """A patch that fixes the current version and lists it in `yanked`.

        `bump` parses the file it edits, and a file whose own version is yanked is invalid (FIML045),
        so: bump (no commit), then add `yanked`, commit, `fiml-cms tag`.
        """
        bad = _version_of(self.path(lesson_id).read_text(encoding="utf-8"))
        self.commit(f"{lesson_id}: {message}")
        out = self.cms(
            "bump", lesson_id, "auto", "-m", message, "-m", f"Version {bad} is withdrawn", "--date", date
        )
        if "(patch)" not in out:
            raise ReleaseError(f"{lesson_id}: the fix should be a patch: {out.strip()}")
        self.edit(
            lesson_id, lambda t: t.replace("retired: false\n", f'retired: false\nyanked: ["{bad}"]\n', 1)
        )
        self.commit(f"{lesson_id}: withdraw {bad}")
        self.cms("tag", lesson_id)
        version = _version_of(self.path(lesson_id).read_text(encoding="utf-8"))
        self.published.append(f"{lesson_id}@{version} (yanks {bad})")
        return version

    def rename(self, old: str, new: str, message: str, date: str) -> str:
        """One commit: `<new>.yaml` with `replaces: [old]` and the next major version, the old file removed
        (the learning paths name the new id); then `fiml-cms tag <new>`."""
        from fiml_cms import versions, yamlfile
        from fiml_cms.versions import Level

        text = self.path(old).read_text(encoding="utf-8")
        text = text.replace(f"id: {old}\n", f"id: {new}\n", 1).replace(
            "replaces: []\n", f"replaces: [{old}]\n", 1
        )
        version = versions.bump(_version_of(text), Level.MAJOR)
        self.path(new).write_text(yamlfile.bump_text(text, version, date, [message]), encoding="utf-8")
        self.path(old).unlink()
        for path_file in (self.root / "content" / "paths").glob("*.yaml"):
            path_file.write_text(
                path_file.read_text(encoding="utf-8").replace(f"- {old}\n", f"- {new}\n"), encoding="utf-8"
            )
        self.commit(f"Rename {old} to {new}")
        self.cms("tag", new)
        self.published.append(f"{new}@{version} (replaces {old})")
        return version


def _version_of(text: str) -> str:
    found = re.search(r'(?m)^version: "?([^"\s]+)"?', text)
    assert found, "no version"
    return found.group(1)


def _sections(text: str) -> tuple[str, list[str], str]:
    """The lesson text split into (before the sections, the section blocks, from `quiz:` on)."""
    start = text.index("\nsections:\n") + len("\nsections:\n")
    end = text.index("\nquiz:\n", start) + 1
    blocks = [b for b in re.split(r"(?m)^(?=  - id: )", text[start:end]) if b]
    return text[:start], blocks, text[end:]


def _block_id(block: str) -> str:
    found = re.match(r"  - id: (\S+)", block)
    assert found
    return found.group(1)


def reorder_sections(order: list[str]) -> Callable[[str], str]:
    """Keep only the sections named, in that order (a removal and a re-ordering: a major change)."""

    def change(text: str) -> str:
        head, blocks, tail = _sections(text)
        by_id = {_block_id(b): b for b in blocks}
        return head + "".join(by_id[i] for i in order) + tail

    return change


def insert_section(after: str, section_id: str, title: str, body: str) -> Callable[[str], str]:
    block = f"  - id: {section_id}\n    type: text\n    title: {title}\n    body: |\n      {body}\n"

    def change(text: str) -> str:
        head, blocks, tail = _sections(text)
        ids = [_block_id(b) for b in blocks]
        blocks.insert(ids.index(after) + 1, block)
        return head + "".join(blocks) + tail

    return change


def replace_once(old: str, new: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        if old not in text:
            raise ReleaseError(f"{old!r} is not in the lesson")
        return text.replace(old, new, 1)

    return change


@dataclass(frozen=True)
class Release:
    name: str
    publish: Callable[[ContentRepo, str], list[str]]  # (repo, date) -> "id@version" published


def _patch(repo: ContentRepo, date: str) -> list[str]:
    repo.edit(
        MARKET,
        replace_once(
            "A market is any place where people who want something meet people who have it.",
            "A market is any place where people who want something meet the people who have it.",
        ),
    )
    repo.edit(QUOTES, replace_once("    title: ", "    title: The "))  # the first section's title
    return [
        f"{MARKET}@{repo.bump(MARKET, 'patch', 'Clearer wording in the introduction', date)}",
        f"{QUOTES}@{repo.bump(QUOTES, 'patch', 'Clearer first title', date)}",
    ]


def _minor_section(repo: ContentRepo, date: str) -> list[str]:
    repo.edit(
        MARKET,
        insert_section(
            "exchanges",
            "order_book",
            "The order book",
            "An exchange keeps an **order book**: every buy and sell order waiting to be matched, sorted by price.",
        ),
    )
    repo.edit(
        QUOTES,
        insert_section(
            "bid_ask",
            "tick_size",
            "Tick size",
            "Prices move in small fixed steps called ticks; for most US shares one tick is one cent.",
        ),
    )
    return [
        f"{MARKET}@{repo.bump(MARKET, 'minor', 'New section: the order book', date)}",
        f"{QUOTES}@{repo.bump(QUOTES, 'minor', 'New section: tick size', date)}",
    ]


def _minor_example(repo: ContentRepo, date: str) -> list[str]:
    repo.edit(
        MARKET,
        replace_once(
            "data: {symbol: SPY, period: 1y, kind: line}", "data: {symbol: QQQ, period: 1y, kind: line}"
        ),
    )
    repo.edit(QUOTES, replace_once("data: {symbol: AAPL,", "data: {symbol: MSFT,"))
    return [
        f"{MARKET}@{repo.bump(MARKET, 'minor', 'The chart now shows QQQ', date)}",
        f"{QUOTES}@{repo.bump(QUOTES, 'minor', 'The live example now shows MSFT', date)}",
    ]


def _major(repo: ContentRepo, date: str) -> list[str]:
    repo.edit(MARKET, reorder_sections(["intro", "price_discovery", "exchanges", "order_book", "summary"]))
    return [
        f"{MARKET}@{repo.bump(MARKET, 'major', 'Shorter: participants removed, price discovery first', date)}"
    ]


def _yank(repo: ContentRepo, date: str) -> list[str]:
    repo.edit(MARKET, replace_once("Every trade has two sides.", "Every trade always has two sides."))
    repo.edit(
        QUOTES,
        replace_once(
            "Prices move in small fixed steps called ticks;",
            "Prices move in small fixed steps, called ticks;",
        ),
    )
    return [
        repo.yank_fix(MARKET, "Fixed a wrong statement", date),
        repo.yank_fix(QUOTES, "Fixed the MSFT example", date),
    ]


def _rename(repo: ContentRepo, date: str) -> list[str]:
    return [f"{ORDERS_NEW}@{repo.rename(ORDERS, ORDERS_NEW, f'Renamed from {ORDERS}', date)}"]


def _xp_raise(repo: ContentRepo, date: str) -> list[str]:
    repo.edit(MARKET, replace_once("xp_reward: 50\n", "xp_reward: 80\n"))
    repo.edit(ORDERS_NEW, replace_once("xp_reward: 50\n", "xp_reward: 70\n"))
    return [
        f"{MARKET}@{repo.bump(MARKET, 'minor', 'Worth more XP', date)}",
        f"{ORDERS_NEW}@{repo.bump(ORDERS_NEW, 'minor', 'Worth more XP', date)}",
    ]


RELEASE_TRAIN: tuple[Release, ...] = (
    Release("patch (wording)", _patch),
    Release("minor (added section)", _minor_section),
    Release("minor (changed example)", _minor_example),
    Release("major (removed and re-ordered sections)", _major),
    Release("yanked (a fix that yanks the previous version)", _yank),
    Release("renamed id (replaces, major)", _rename),
    Release("raised xp_reward (minor)", _xp_raise),
)
