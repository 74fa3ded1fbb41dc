"""The continuity simulation: N learners across a release train on a real content repository.

Shared by `tests/bot/test_continuity.py` (N=100) and `bench/continuity.py` (N=1,000).

- **Content**: the project's lessons copied into a fresh git repository, every lesson published at
  1.0.0 with `fiml-cms tag`. Each release is a real commit and tag made with `fiml-cms bump ... --commit
  --tag` (or the same edits and `fiml-cms tag` where bump cannot do it in one go), then
  `content.refresh()`.
- **Storage**: a real database (a SQLite file by default, or any `open_storage` URL).
- **Learners** act only through `Tutor.handle`: Start, ListLessons, Progress, buttons pressed from the
  messages they were sent (sometimes an old one: stale buttons), typed numbers, a little garbage, and
  now and then the same update delivered twice (same `event_key`).
- **The oracle** reads the learner's records before and after every action, works out what the action
  must do (the §5 decision from `policy.decide` on the pinned and the latest version, the position from
  `policy.map_position`, then the action itself) and compares. Checkpoints at every release compare the
  whole store with the previous checkpoint: the XP ledger only grows, completions never disappear.

`run_simulation(Config(...), workdir)` returns a `Report`; `report.violations` is empty when every
invariant held. Nothing here edits the bot: a failure is a finding about the bot.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import random
import re
import shutil
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fiml_bot.content import LessonContent
from fiml_bot.tutor import callbacks, gamification
from fiml_bot.tutor.engine import Tutor, parse_number
from fiml_bot.tutor.events import (
    Command,
    Event,
    Help,
    ListLessons,
    Pressed,
    Progress,
    Start,
    Text,
)
from fiml_bot.tutor.messages import Message
from fiml_bot.tutor.model import COMPLETED, IN_PROGRESS, QUIZ, LessonProgress
from fiml_bot.tutor.policy import Action, Decision, PolicySettings, after_rename, decide, map_position
from fiml_cms.config import load_settings
from fiml_cms.errors import FimlError
from fiml_cms.lesson import (
    Lesson,
    MultipleChoiceQuestion,
    NumericQuestion,
    Question,
    TrueFalseQuestion,
)

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

MARKET = "what_is_a_market"
QUOTES = "reading_stock_prices"
ORDERS = "market_and_limit_orders"
ORDERS_NEW = "order_types"

STALE_REPLY = "earlier message"
FAILURE_TEXTS = ("Something went wrong", "I can't reach my records", "Lots is happening")


# ==============================================================================================
# The content repository and the release train
# ==============================================================================================


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


# ==============================================================================================
# Configuration, report
# ==============================================================================================


@dataclass(frozen=True)
class Config:
    learners: int = 100
    seed: int = 20261201
    warmup_max: int = 45  # actions per learner before the first release: uniform 0..warmup_max
    phase_max: int = 10  # actions per learner between two releases: uniform 0..phase_max (when not idle)
    idle: float = 0.3  # probability that a learner does nothing between two releases
    correct: float = 0.8  # probability of answering a question correctly
    stale: float = 0.04  # probability of pressing an old button instead of a current one
    chaos: float = 0.02  # probability of garbage (unknown command, forged data, free text)
    replay: float = 0.02  # probability that the platform delivers the previous update again
    database_url: str | None = None  # default: a SQLite file in the work folder
    policy: PolicySettings = field(default_factory=PolicySettings)
    # The rename is published as a major version of the new id, while the learners' pinned versions stay
    # published under the old id's tags. True: such a version is still resolvable (follow `replaces`), and
    # since the content did not change, it is no new edition: auto-migrate; False: treat it as "no longer
    # resolvable" (FORCED_RESTART).
    renamed_versions_resolvable: bool = True
    max_examples: int = 6  # violations kept per kind (all are counted)


@dataclass
class Violation:
    kind: str
    learner: str
    detail: str


CATEGORIES = (  # the first whose words appear in a violation's kind names its category
    ("errors", ("logged an error", "failure reply")),
    ("idempotency", ("repeated update",)),
    ("xp", ("XP", "paid", "ledger", "xp_reward")),
    ("completions", ("completion",)),
    (
        "policy",
        (
            "CHOICE",
            "AUTO_MIGRATE",
            "FORCED_RESTART",
            "NONE",
            "restart",
            "continue",
            "Updated",
            "retake",
            "new start",
            "prerequisites",
            "did not do",
            "record disappeared",
            "stale or repeated answer",
            "§5",
        ),
    ),
    ("messages", ("message", "reply", "button", "callback", "label")),
    ("records", ("record", "section", "graded", "pinned version", "lesson it was not about")),
)


def category(kind: str) -> str:
    for name, words in CATEGORIES:
        if any(word in kind for word in words):
            return name
    return "other"


@dataclass
class Report:
    config: Config
    actions: int = 0
    replays: int = 0
    seconds: float = 0.0
    handle_seconds: float = 0.0
    release_seconds: float = 0.0
    releases: list[tuple[str, list[str]]] = field(default_factory=list)
    decisions: Counter = field(default_factory=Counter)  # §5 decisions checked, by action
    decisions_by_release: dict[str, Counter] = field(default_factory=dict)
    paths: Counter = field(default_factory=Counter)  # oracle paths taken (open, next, answer, ...)
    violation_counts: Counter = field(default_factory=Counter)
    violations: list[Violation] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    warnings: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.violation_counts

    def failures(self, *categories: str) -> list[str]:
        """The violation kinds (with counts and examples) in those categories: empty when they held."""
        out = []
        for kind, n in self.violation_counts.most_common():
            if category(kind) in categories:
                examples = [v for v in self.violations if v.kind == kind][:3]
                out.append(f"{n}× {kind}" + "".join(f"\n    {v.learner}: {v.detail[:600]}" for v in examples))
        return out

    def summary(self) -> str:
        lines = [
            (
                f"learners {self.config.learners}, seed {self.config.seed}, actions {self.actions} (+{self.replays} replayed updates), "
                f"{self.seconds:.1f} s in all, {self.handle_seconds:.1f} s in Tutor.handle ({self.actions / max(self.handle_seconds, 1e-9):.0f} actions/s), "
                f"{self.release_seconds:.1f} s publishing"
            ),
            "releases: " + "; ".join(f"{name}: {', '.join(tags)}" for name, tags in self.releases),
            "§5 decisions checked: " + ", ".join(f"{a}: {n}" for a, n in sorted(self.decisions.items())),
        ]
        for name, counts in self.decisions_by_release.items():
            moved = {a: n for a, n in counts.items() if a != Action.NONE.value}
            if moved:
                lines.append(f"  after {name}: " + ", ".join(f"{a}: {n}" for a, n in sorted(moved.items())))
        lines.append("oracle paths: " + ", ".join(f"{p}: {n}" for p, n in sorted(self.paths.items())))
        lines += [f"checkpoint {c}" for c in self.checkpoints]
        lines.append("final: " + ", ".join(f"{k}: {v}" for k, v in self.final.items()))
        if self.warnings:
            lines.append(
                "bot warnings logged: " + "; ".join(f"{n}× {w}" for w, n in self.warnings.most_common(8))
            )
        if self.ok:
            lines.append("INVARIANTS HOLD: 0 violations")
        else:
            lines.append(
                f"VIOLATIONS: {sum(self.violation_counts.values())} in {len(self.violation_counts)} kinds"
            )
            for kind, n in self.violation_counts.most_common():
                lines.append(f"  {n}× [{category(kind)}] {kind}")
                for v in [v for v in self.violations if v.kind == kind][: self.config.max_examples]:
                    lines.append(f"      {v.learner}: {v.detail}")
        return "\n".join(lines)


class _Clock:
    """Deterministic time: each action happens 97 seconds after the previous one."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=97)
        return self.now


class _LogWatch(logging.Handler):
    """Errors the bot logs (an exception caught by Tutor.handle, storage down) are violations."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.errors: list[str] = []
        self.warnings: Counter = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            self.errors.append(text)
        else:
            self.warnings[re.sub(r"'[^']*'|\"[^\"]*\"|\S+:\S+", "…", str(record.msg))] += 1


# ==============================================================================================
# Learners
# ==============================================================================================


@dataclass
class Agent:
    id: str
    rng: random.Random
    last: list[Message] = field(default_factory=list)
    old_buttons: list[str] = field(default_factory=list)
    declined: dict[str, str] = field(
        default_factory=dict
    )  # lesson id -> the major version they chose not to take
    seq: int = 0
    started: bool = False
    previous: tuple[Event, str] | None = None  # the last update, for a replay

    def buttons(self) -> list[str]:
        return [b.data for m in self.last for b in m.all_buttons]

    def observe(self, messages: list[Message]) -> None:
        if messages:
            self.old_buttons.extend(self.buttons())
            del self.old_buttons[:-40]
            self.last = messages


def _kind(data: str) -> str:
    cb = callbacks.decode(data)
    return cb.kind if cb else "?"


# ==============================================================================================
# The simulation and its oracle
# ==============================================================================================


@dataclass(frozen=True)
class State:
    """The parts of a progress record an action is expected to set."""

    pinned: str
    status: str
    current: str | None
    done: tuple[str, ...]
    answers: tuple[tuple[str, str, bool, str], ...]
    attempt: int
    pending: str | None
    completed_version: str | None

    @classmethod
    def of(cls, p: LessonProgress) -> State:
        return cls(
            p.pinned_version,
            p.status,
            p.current_section,
            tuple(p.sections_done),
            tuple((a.question_id, a.given, a.correct, a.version) for a in p.answers),
            p.attempt,
            p.pending_choice,
            p.completed_version,
        )


class Simulation:
    def __init__(self, config: Config, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.rng = random.Random(config.seed)
        self.report = Report(config)
        self.repo = ContentRepo.create(workdir)
        self.content = LessonContent.open(self.repo.root, load_settings(self.repo.root))
        from fiml_bot.storage import open_storage

        url = config.database_url or f"sqlite:///{workdir / 'var' / 'fiml.db'}"
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        self.storage = open_storage(url, auto_upgrade=True)
        self.tutor = Tutor(self.content, self.storage, policy=config.policy, clock=_Clock())
        self.agents = [
            Agent(f"sim:{i:05d}", random.Random(self.rng.random())) for i in range(config.learners)
        ]
        self.phase = "warm-up"
        self.checkpoint: dict[str, dict[str, Any]] | None = None
        self.watch = _LogWatch()
        self.xp_seen: dict[str, int] = defaultdict(int)
        self.raise_seen: set[str] = set()

    # -- running -----------------------------------------------------------------------------
    def run(self) -> Report:
        started = time.perf_counter()
        logger = logging.getLogger("fiml_bot")
        logger.addHandler(self.watch)
        try:
            self._phase("warm-up", self.config.warmup_max, idle=0.0)
            self._checkpoint("before the first release")
            for day, release in enumerate(RELEASE_TRAIN, start=2):
                t0 = time.perf_counter()
                published = release.publish(self.repo, f"2026-12-{day:02d}")
                self.content.refresh()
                self.report.release_seconds += time.perf_counter() - t0
                self.report.releases.append((release.name, published))
                self.phase = release.name
                self.report.decisions_by_release[release.name] = Counter()
                self._phase(release.name, self.config.phase_max, idle=self.config.idle)
                self._checkpoint(f"after {release.name}")
            self.phase = "final sweep"
            self.report.decisions_by_release[self.phase] = Counter()
            self._final_sweep()
        finally:
            logger.removeHandler(self.watch)
            self.storage.close()
        for error in self.watch.errors:
            self._violate("the bot logged an error", "-", error[:2000])
        self.report.warnings = self.watch.warnings
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _phase(self, name: str, most: int, idle: float) -> None:
        schedule: list[Agent] = []
        for agent in self.agents:
            if agent.rng.random() < idle:
                continue
            schedule.extend([agent] * agent.rng.randint(0, most))
        self.rng.shuffle(schedule)  # learners' actions interleave
        for agent in schedule:
            self.step(agent)

    def _final_sweep(self) -> None:
        """Everyone looks at their progress (renames followed, raised rewards credited), then opens
        every lesson they are in the middle of: each in-progress learner meets the last release."""
        for agent in self.agents:
            self.step(agent, Progress())
        for agent in self.agents:
            for progress in self._records(agent.id).values():
                if progress.status != COMPLETED:
                    self.step(agent, Pressed(callbacks.encode("o", progress.lesson_id)))
                    if any(_kind(b) == "c" for b in agent.buttons()):  # a choice: take it, then look again
                        self.step(
                            agent, Pressed(agent.rng.choice([b for b in agent.buttons() if _kind(b) == "c"]))
                        )
        self._checkpoint("after the final sweep")
        self._final_checks()

    # -- one action --------------------------------------------------------------------------
    def step(self, agent: Agent, event: Event | None = None) -> None:
        before = self._records(agent.id)
        if event is None and agent.previous is not None and agent.rng.random() < self.config.replay:
            self._replay(agent, before)
            return
        if event is None:
            event = self._choose(agent, before)
        agent.seq += 1
        key = f"{agent.id}#{agent.seq}"
        expectation = self._expect(agent, event, before)
        if expectation is not None:
            expectation.event = event
        t0 = time.perf_counter()
        messages = self.tutor.handle(agent.id, event, event_key=key, name=f"Learner {agent.id[-5:]}")
        self.report.handle_seconds += time.perf_counter() - t0
        self.report.actions += 1
        agent.previous = (event, key)
        after = self._records(agent.id)
        self._check_messages(agent, event, messages)
        self._check_xp(agent)
        self._note_raise_credit(agent, before)
        if expectation is not None:
            expectation.check(self, agent, before, after, messages)
        self._check_records(agent, event, before, after, expectation)
        agent.observe(messages)
        if isinstance(event, Start):
            agent.started = True

    def _replay(self, agent: Agent, before: dict[str, LessonProgress]) -> None:
        assert agent.previous is not None
        event, key = agent.previous
        total = self._xp_total(agent.id)
        messages = self.tutor.handle(agent.id, event, event_key=key)
        self.report.replays += 1
        after = self._records(agent.id)
        if messages:
            self._violate(
                "a repeated update (same event_key) was applied again",
                agent.id,
                f"{event!r} -> {[m.text[:60] for m in messages]}",
            )
        if {k: State.of(v) for k, v in before.items()} != {
            k: State.of(v) for k, v in after.items()
        } or self._xp_total(agent.id) != total:
            self._violate("a repeated update (same event_key) changed the records", agent.id, repr(event))

    def _choose(self, agent: Agent, records: dict[str, LessonProgress]) -> Event:
        rng = agent.rng
        if not agent.started:
            return Start()
        roll = rng.random()
        if roll < self.config.chaos:
            return rng.choice(
                [
                    Command("frobnicate"),
                    Text("hello there"),
                    Help(),
                    Progress(),
                    ListLessons(page=7),
                    Pressed("o|no_such_lesson"),
                    Pressed("zz|1|2"),
                    Pressed("a|" + MARKET + "|9.9.9|q1|0"),
                    Pressed("n|" + MARKET + "|1.0.0|no_such_section"),
                    Pressed("c|" + MARKET + "|7.0.0|c"),
                    Pressed("x" * 80),
                    Pressed(f"o|{ORDERS}"),
                    Pressed(f"r|{ORDERS}"),
                    Pressed(f"u|{MARKET}"),
                ]
            )
        if roll < self.config.chaos + self.config.stale and agent.old_buttons:
            return Pressed(rng.choice(agent.old_buttons))
        buttons = agent.buttons()
        kinds = defaultdict(list)
        for data in buttons:
            kinds[_kind(data)].append(data)
        numeric = self._numeric_question(records)
        if agent.last and "as a number" in agent.last[-1].text and numeric is not None:
            return Text(self._typed_answer(rng, numeric[2]))
        if kinds["c"]:
            return Pressed(rng.choice(kinds["c"]))
        if kinds["a"]:
            return Pressed(self._pick_answer(rng, kinds["a"]))
        if kinds["n"]:
            return Pressed(kinds["n"][0]) if rng.random() < 0.92 else ListLessons()
        if kinds["o"]:
            marks = {
                data: label for m in agent.last for b in m.all_buttons for data, label in [(b.data, b.label)]
            }
            going = [d for d in kinds["o"] if marks[d].startswith("▶")]
            fresh = [d for d in kinds["o"] if marks[d].startswith("📘")]
            pool = (
                going
                if going and rng.random() < 0.6
                else fresh
                if fresh and rng.random() < 0.85
                else kinds["o"]
            )
            if kinds["l"] and rng.random() < 0.1:
                return Pressed(rng.choice(kinds["l"]))  # another page
            return Pressed(rng.choice(pool))
        if kinds["r"] or kinds["u"]:
            weighted = kinds["l"] * 5 + kinds["r"] * 2 + kinds["u"] * 2 + kinds["p"]
            return Pressed(rng.choice(weighted))
        if buttons and rng.random() < 0.9:
            return Pressed(rng.choice(buttons))
        return ListLessons()

    def _pick_answer(self, rng: random.Random, answers: list[str]) -> str:
        if rng.random() < self.config.correct:
            for data in answers:
                cb = callbacks.decode(data)
                assert cb is not None
                lesson_id, version, question_key, given = cb.fields
                question = self._question(self._resolve(lesson_id), version, question_key)
                if question is not None and _grade(question, given):
                    return data
        return rng.choice(answers)

    def _typed_answer(self, rng: random.Random, question: NumericQuestion) -> str:
        roll = rng.random()
        if roll < self.config.correct:
            return rng.choice(
                [f"{question.answer:g}", f" {question.answer:g} {question.unit or ''}".rstrip()]
            )
        if roll < self.config.correct + 0.03:
            return rng.choice(["no idea", "about a lot", "?"])
        return f"{question.answer + question.tolerance + rng.randint(1, 500):g}"

    # -- reading the store -------------------------------------------------------------------
    def _records(self, learner_id: str) -> dict[str, LessonProgress]:
        with self.storage() as uow:
            return {p.lesson_id: p for p in uow.progress.all_progress(learner_id)}

    def _xp_total(self, learner_id: str) -> int:
        with self.storage() as uow:
            return uow.progress.xp_total(learner_id)

    def _ledger(self, learner_id: str) -> list[Any]:
        with self.storage() as uow:
            return uow.progress.xp_awards(learner_id)

    # -- content helpers ---------------------------------------------------------------------
    def _resolve(self, key: str) -> str | None:
        lesson_id = callbacks.KeyResolver(self.content.lesson_ids()).resolve(key)
        if lesson_id is None and key and not key.startswith("~"):
            lesson_id = self.content.current_id(key)
        return lesson_id

    def _lesson(self, lesson_id: str | None, version: str) -> Lesson | None:
        """The lesson at that version, under its id or (renamed) under one of its former ids."""
        if lesson_id is None:
            return None
        for candidate in (lesson_id, *self._former(lesson_id)):
            try:
                return self.content.get(candidate, version)
            except FimlError:
                continue
        return None

    def _exact(self, lesson_id: str, version: str) -> Lesson | None:
        try:
            return self.content.get(lesson_id, version)
        except FimlError:
            return None

    def _former(self, lesson_id: str) -> tuple[str, ...]:
        try:
            return tuple(
                old
                for old in self.content.store.ids()
                if old != lesson_id and self.content.current_id(old) == lesson_id
            )
        except FimlError:
            return ()

    def _asked(self, lesson_id: str | None, version: str, pinned: str | None = None) -> Lesson | None:
        """The version a question was asked under: the button's, else the learner's pinned one, else the latest."""
        if lesson_id is None:
            return None
        return (
            self._lesson(lesson_id, version)
            or (self._lesson(lesson_id, pinned) if pinned else None)
            or _latest_or_none(self.content, lesson_id)
        )

    def _question(
        self, lesson_id: str | None, version: str, key: str, pinned: str | None = None
    ) -> Question | None:
        lesson = self._asked(lesson_id, version, pinned)
        if lesson is None:
            return None
        return next((q for q in lesson.quiz.questions if key in (q.id, callbacks.short_key(q.id))), None)

    def _numeric_question(
        self, records: dict[str, LessonProgress]
    ) -> tuple[LessonProgress, Lesson, NumericQuestion] | None:
        """What the tutor takes typed text for: the latest-updated quiz whose next question is numeric."""
        waiting = [p for p in records.values() if p.status == QUIZ]
        for progress in sorted(
            waiting, key=lambda p: p.updated_at or dt.datetime.min.replace(tzinfo=dt.UTC), reverse=True
        ):
            lesson = self._exact(progress.lesson_id, progress.pinned_version) or _latest_or_none(
                self.content, progress.lesson_id
            )
            if lesson is None:
                continue
            answered = {a.question_id for a in progress.answers}
            question = next((q for q in lesson.quiz.questions if q.id not in answered), None)
            if isinstance(question, NumericQuestion):
                return progress, lesson, question
        return None

    # -- the oracle --------------------------------------------------------------------------
    def _expect(self, agent: Agent, event: Event, records: dict[str, LessonProgress]) -> Expectation | None:
        if isinstance(event, Text):
            found = self._numeric_question(records)
            if found is None:
                return Expectation(self, "text-unmatched", None, None, False)
            progress, lesson, question = found
            current = self.content.current_id(progress.lesson_id) or progress.lesson_id
            exp = Expectation(self, "answer", current, progress, progress.lesson_id != current)
            exp.version, exp.question, exp.given = lesson.version, question, event.text.strip()
            exp.text_via_id = progress.lesson_id
            return exp
        if not isinstance(event, Pressed):
            return None
        cb = callbacks.decode(event.data)
        if cb is None or cb.kind in ("h", "p", "l"):
            return None
        target = self._resolve(cb.fields[0])
        if target is None:
            return Expectation(self, "unknown-lesson", None, None, False)
        progress, former = self._find(records, target)
        kinds = {
            "o": "open",
            "n": "next",
            "a": "answer",
            "c": "choose",
            "u": "updates",
            "r": "retake",
            "q": "quiz",
        }
        exp = Expectation(self, kinds[cb.kind], target, progress, former)
        if cb.kind == "n":
            exp.version, exp.section_key = cb.fields[1], cb.fields[2]
        elif cb.kind == "a":
            exp.version, exp.given = cb.fields[1], cb.fields[3]
            exp.question = self._question(
                target, cb.fields[1], cb.fields[2], progress.pinned_version if progress else None
            )
            exp.question_key = cb.fields[2]
        elif cb.kind == "c":
            exp.version, exp.choice = cb.fields[1], cb.fields[2]
        return exp

    def _find(self, records: dict[str, LessonProgress], lesson_id: str) -> tuple[LessonProgress | None, bool]:
        if lesson_id in records:
            return records[lesson_id], False
        for old in self._former(lesson_id):
            if old in records:
                return records[old], True
        return None, False

    def decision(self, agent: Agent, lesson_id: str, progress: LessonProgress) -> tuple[Decision, Lesson]:
        latest = self.content.latest(lesson_id)
        if self.config.renamed_versions_resolvable:
            available = self._lesson(lesson_id, progress.pinned_version) is not None
        else:
            available = self._exact(lesson_id, progress.pinned_version) is not None
        decision = decide(
            progress.pinned_version,
            latest.version,
            pinned_available=available,
            pinned_yanked=self.content.is_yanked(lesson_id, progress.pinned_version),
            declined=agent.declined.get(lesson_id) == latest.version,
            settings=self.config.policy,
        )
        # A rename alone is not a new edition (issue 15): a version published under a former id, whose
        # content differs from the latest by less than a major change, auto-migrates whatever the number.
        under_former_id = progress.pinned_version not in self.content.versions(lesson_id)
        decision = after_rename(
            decision, self._lesson(lesson_id, progress.pinned_version), latest, under_former_id
        )
        return decision, latest

    def count_decision(self, action: Action) -> None:
        self.report.decisions[action.value] += 1
        if self.phase in self.report.decisions_by_release:
            self.report.decisions_by_release[self.phase][action.value] += 1

    # -- invariants after every action ----------------------------------------------------------
    def _violate(self, kind: str, learner: str, detail: str) -> None:
        self.report.violation_counts[kind] += 1
        if self.report.violation_counts[kind] <= self.config.max_examples:
            self.report.violations.append(Violation(kind, learner, f"[{self.phase}] {detail}"))

    def _check_messages(self, agent: Agent, event: Event, messages: list[Message]) -> None:
        if not messages:
            self._violate("no reply to an action", agent.id, repr(event))
        for message in messages:
            if not message.text.strip():
                self._violate("an empty message", agent.id, repr(event))
            if any(text in message.text for text in FAILURE_TEXTS):
                self._violate(
                    "the learner saw a failure reply", agent.id, f"{event!r} -> {message.text[:100]}"
                )
            for button in message.all_buttons:
                if len(button.data.encode()) > callbacks.LIMIT:
                    self._violate("callback data over 64 bytes", agent.id, button.data)
                if callbacks.decode(button.data) is None:
                    self._violate("a button the tutor cannot decode", agent.id, button.data)
                if not button.label.strip():
                    self._violate("an empty button label", agent.id, button.data)

    def _note_raise_credit(self, agent: Agent, before: dict[str, LessonProgress]) -> None:
        """Information, not an invariant: is a raised xp_reward credited at the completer's very next
        action (XP_RULES: "the next time they use the bot"), or only later (/progress, opening the lesson)?"""
        if not self.phase.startswith("raised xp_reward") or agent.id in self.raise_seen:
            return
        record = before.get(MARKET)
        if record is None or record.completed_version is None:
            return
        self.raise_seen.add(agent.id)
        paid = gamification.paid_for_lesson(self._ledger(agent.id), (MARKET,))
        self.report.final.setdefault("raised reward credited at the completer's next action", Counter())[
            "yes" if paid >= 80 else "no"
        ] += 1

    def _check_xp(self, agent: Agent) -> None:
        total = self._xp_total(agent.id)
        if total < self.xp_seen[agent.id]:
            self._violate("XP went down", agent.id, f"{self.xp_seen[agent.id]} -> {total}")
        self.xp_seen[agent.id] = max(total, self.xp_seen[agent.id])

    def _check_records(
        self,
        agent: Agent,
        event: Event,
        before: dict[str, LessonProgress],
        after: dict[str, LessonProgress],
        exp: Expectation | None,
    ) -> None:
        target = exp.lesson if exp is not None else None
        for lesson_id, progress in after.items():
            if before.get(lesson_id) is not None and State.of(before[lesson_id]) == State.of(progress):
                continue  # unchanged: checked when it was written
            lesson = self._lesson(lesson_id, progress.pinned_version)
            if lesson is None:
                self._violate(
                    "a pinned version that cannot be served",
                    agent.id,
                    f"{lesson_id}@{progress.pinned_version}",
                )
                continue
            ids = [s.id for s in lesson.sections]
            if progress.status == IN_PROGRESS:
                if progress.current_section not in ids:
                    self._violate(
                        "an in-progress record whose section is not in its pinned version",
                        agent.id,
                        f"{lesson_id}@{progress.pinned_version}: {progress.current_section!r} not in {ids}",
                    )
                was = before.get(lesson_id)
                if progress.answers and not (was is not None and was.status == IN_PROGRESS and was.answers):
                    self._violate(
                        "an in-progress record (reading sections) that already holds quiz answers",
                        agent.id,
                        f"{lesson_id}@{progress.pinned_version} at {progress.current_section} holds {[(a.question_id, a.version) for a in progress.answers]} after {event!r}",
                    )
            elif progress.status == QUIZ and progress.current_section is not None:
                self._violate(
                    "a quiz record with a current section",
                    agent.id,
                    f"{lesson_id}: {progress.current_section}",
                )
            if [s for s in progress.sections_done if s not in ids]:
                self._violate(
                    "sections done that are not in the pinned version",
                    agent.id,
                    f"{lesson_id}@{progress.pinned_version}: {progress.sections_done}",
                )
            for answer in progress.answers:  # graded against the version it was given under (grandfathering)
                question = self._question(lesson_id, answer.version, answer.question_id)
                if (
                    question is not None
                    and _grade(question, answer.given) is not None
                    and bool(_grade(question, answer.given)) != answer.correct
                ):
                    self._violate(
                        "an answer graded against the wrong version", agent.id, f"{lesson_id} {answer}"
                    )
        for lesson_id, progress in after.items():
            current = self.content.current_id(lesson_id)
            if (
                current not in (lesson_id, None)
                and current in after
                and (lesson_id not in before or current not in before)
            ):
                self._violate(
                    "an action left two records for one lesson (one under a renamed lesson's old id)",
                    agent.id,
                    f"{lesson_id}@{progress.pinned_version} ({progress.status} at {progress.current_section}) beside {current}@{after[current].pinned_version} "
                    f"({after[current].status}) after {event!r}",
                )
        # records the action did not aim at are left alone (renames aside)
        moved = {self.content.current_id(k) or k: State.of(v) for k, v in before.items()}
        for lesson_id, progress in after.items():
            if lesson_id == target or (
                exp is not None and exp.path == "answer" and lesson_id == getattr(exp, "text_via_id", None)
            ):
                continue
            old = moved.get(lesson_id)
            if old is not None and old != State.of(progress):
                self._violate(
                    "an action changed a lesson it was not about",
                    agent.id,
                    f"{event!r} changed {lesson_id}: {old} -> {State.of(progress)}",
                )
        for lesson_id, progress in before.items():
            if progress.completed_version is not None:
                now = after.get(self.content.current_id(lesson_id) or lesson_id) or after.get(lesson_id)
                if now is None or now.completed_version is None:
                    self._violate(
                        "a completion disappeared from the progress record",
                        agent.id,
                        f"{lesson_id} completed at {progress.completed_version}; after {event!r}: {now and State.of(now)}",
                    )

    # -- checkpoints -------------------------------------------------------------------------
    def _checkpoint(self, name: str) -> None:
        snap: dict[str, dict[str, Any]] = {}
        with self.storage() as uow:
            repo = uow.progress
            for agent in self.agents:
                ledger = repo.xp_awards(agent.id)
                completions = repo.completions(agent.id)
                snap[agent.id] = {
                    "total": sum(a.amount for a in ledger),
                    "ledger": Counter((a.key, a.amount) for a in ledger),
                    "keys": Counter(a.key for a in ledger),
                    "completions": Counter(
                        (c.lesson_id, c.version, c.attempt, c.completed_at) for c in completions
                    ),
                    "awards": ledger,
                    "progress": repo.all_progress(agent.id),
                }
        in_progress = sum(1 for s in snap.values() for p in s["progress"] if p.status != COMPLETED)
        completed = sum(sum(s["completions"].values()) for s in snap.values())
        xp = sum(s["total"] for s in snap.values())
        lost_xp = lost_completions = 0
        for agent_id, now in snap.items():
            dup = [k for k, n in now["keys"].items() if n > 1]
            if dup:
                self._violate("an XP key paid twice", agent_id, str(dup))
            self._check_no_double_pay(agent_id, now["awards"])
            if self.checkpoint is None:
                continue
            was = self.checkpoint[agent_id]
            if now["total"] < was["total"]:
                lost_xp += was["total"] - now["total"]
                self._violate("XP lost between checkpoints", agent_id, f"{was['total']} -> {now['total']}")
            missing = was["ledger"] - now["ledger"]
            if missing:
                self._violate("ledger rows disappeared", agent_id, str(dict(missing)))
            gone = self._by_current_id(was["completions"]) - self._by_current_id(now["completions"])
            if gone:
                lost_completions += sum(gone.values())
                self._violate("completions lost between checkpoints", agent_id, str(dict(gone)))
        self.checkpoint = snap
        self.report.checkpoints.append(
            f"{name}: {xp} XP, {completed} completions, {in_progress} lessons in progress; XP lost {lost_xp}, completions lost {lost_completions}"
        )

    def _by_current_id(self, completions: Counter) -> Counter:
        """Completions keyed by the lesson's id now (a rename moves them; it must not lose them)."""
        mapped: Counter = Counter()
        for (lesson_id, *rest), n in completions.items():
            mapped[(self.content.current_id(lesson_id) or lesson_id, *rest)] += n
        return mapped

    def _check_no_double_pay(self, agent_id: str, awards: list[Any]) -> None:
        """Beyond unique keys: one correct-answer payment per question and one lesson payment per lesson,
        whatever its id was when it paid, and never more for a lesson than its highest reward."""
        answers: Counter = Counter()
        lesson_paid: Counter = Counter()
        lesson_keys: Counter = Counter()
        for award in awards:
            parts = award.key.split(":")
            if parts[0] == "answer" and len(parts) == 3:
                answers[(self.content.current_id(parts[1]) or parts[1], parts[2])] += 1
            elif parts[0] in ("lesson", "lesson-raise"):
                current = self.content.current_id(parts[1]) or parts[1]
                lesson_paid[current] += award.amount
                if parts[0] == "lesson":
                    lesson_keys[current] += 1
        for (lesson_id, question), n in answers.items():
            if n > 1:
                self._violate(
                    "a question's XP paid twice (across a rename)", agent_id, f"{lesson_id} {question}: {n}×"
                )
        for lesson_id, n in lesson_keys.items():
            if n > 1:
                self._violate("a lesson's XP paid twice (across a rename)", agent_id, f"{lesson_id}: {n}×")
        for lesson_id, paid in lesson_paid.items():
            highest = self._highest_reward(lesson_id)
            if highest is not None and paid > highest:
                self._violate(
                    "paid more for a lesson than its highest xp_reward",
                    agent_id,
                    f"{lesson_id}: {paid} > {highest}",
                )

    def _highest_reward(self, lesson_id: str) -> int | None:
        rewards = []
        for candidate in (lesson_id, *self._former(lesson_id)):
            for version in self.content.versions(candidate):
                lesson = self._exact(candidate, version)
                if lesson is not None:
                    rewards.append(lesson.xp_reward)
        return max(rewards) if rewards else None

    def _final_checks(self) -> None:
        aliases = {old for old in self.content.store.ids() if self.content.current_id(old) not in (old, None)}
        stale_records = stale_completions = unpaid = completers = 0
        raised = {MARKET: 80, ORDERS_NEW: 70}
        raised_paid = Counter()
        in_progress = Counter()
        with self.storage() as uow:
            repo = uow.progress
            for agent in self.agents:
                progress = repo.all_progress(agent.id)
                completions = repo.completions(agent.id)
                awards = repo.xp_awards(agent.id)
                for p in progress:
                    if p.lesson_id in aliases:
                        stale_records += 1
                        self._violate(
                            "a record still under a renamed lesson's old id after the final sweep",
                            agent.id,
                            f"{p.lesson_id}",
                        )
                    if p.status != COMPLETED:
                        latest = self.content.latest(p.lesson_id)
                        in_progress[
                            "on latest"
                            if p.pinned_version == latest.version
                            else f"kept {p.pinned_version} (continue chosen)"
                        ] += 1
                for c in completions:
                    if c.lesson_id in aliases:
                        stale_completions += 1
                        self._violate(
                            "a completion still under a renamed lesson's old id after the final sweep",
                            agent.id,
                            f"{c.lesson_id}@{c.version}",
                        )
                for lesson_id in {self.content.current_id(c.lesson_id) or c.lesson_id for c in completions}:
                    completers += 1
                    ids = (lesson_id, *self._former(lesson_id))
                    paid = gamification.paid_for_lesson(awards, ids)
                    latest = self.content.latest(lesson_id)
                    if paid < latest.xp_reward:
                        unpaid += 1
                        self._violate(
                            "a completer was not paid the lesson's current xp_reward (retroactive credit)",
                            agent.id,
                            f"{lesson_id}: paid {paid}, xp_reward {latest.xp_reward}",
                        )
                    if lesson_id in raised and paid == raised[lesson_id]:
                        raised_paid[lesson_id] += 1
        self.report.final.update(
            {
                "completed lessons checked for pay": completers,
                "underpaid": unpaid,
                "completers credited the raised reward": dict(raised_paid),
                "records left under old ids": stale_records,
                "completions left under old ids": stale_completions,
                "in-progress records at the end": dict(in_progress),
            }
        )


def _latest_or_none(content: LessonContent, lesson_id: str) -> Lesson | None:
    try:
        return content.latest(lesson_id)
    except FimlError:
        return None


def _grade(question: Question, given: str) -> bool | None:
    """The answer key: True/False, None when typed text is not a number (nothing is recorded)."""
    if isinstance(question, MultipleChoiceQuestion):
        return given.isdigit() and int(given) == question.answer
    if isinstance(question, TrueFalseQuestion):
        return given in ("t", "f") and (given == "t") == question.answer
    value = parse_number(given)
    if value is None:
        return None
    return abs(value - question.answer) <= question.tolerance + 1e-9


# ==============================================================================================
# What one action must do
# ==============================================================================================


@dataclass
class Expectation:
    """The oracle for one action on one lesson: the §5 decision, then the action's own effect."""

    sim: Simulation
    path: str  # open, next, answer, choose, retake, updates, quiz, unknown-lesson, text-unmatched
    lesson: str | None  # the lesson's current id
    before: LessonProgress | None
    former: bool  # the record is still under an old id (not yet renamed)
    version: str | None = None
    section_key: str | None = None
    question: Question | None = None
    question_key: str | None = None
    given: str | None = None
    choice: str | None = None
    text_via_id: str | None = None
    event: Event | None = None

    def fail(self, agent: Agent, kind: str, detail: str) -> None:
        self.sim._violate(kind, agent.id, f"{self.event!r} ({self.path} {self.lesson}): {detail}")

    def _former_stops(self, sim: Simulation, agent: Agent, path: str, p0: LessonProgress) -> bool:
        """A button of a record still under an old id only opens the lesson when §5 stops the action
        (a choice or a restart); an auto-migration (a rename alone) lets it go on, as for any button."""
        if not self.former:
            return False
        return path == "choose" or sim.decision(agent, self.lesson, p0)[0].action in (
            Action.CHOICE,
            Action.FORCED_RESTART,
        )  # type: ignore[arg-type]

    def check(
        self,
        sim: Simulation,
        agent: Agent,
        before: dict[str, LessonProgress],
        after: dict[str, LessonProgress],
        messages: list[Message],
    ) -> None:
        sim.report.paths[self.path] += 1
        if self.lesson is None:
            return
        p0 = self.before
        p1 = after.get(self.lesson)
        if p1 is None and p0 is not None:
            p1 = after.get(p0.lesson_id)  # typed text reached a record still under an old id
        path = self.path
        # the tutor's own detours, mirrored: a record not found under the lesson's id opens the lesson
        if (
            path in ("next", "answer", "choose")
            and (p0 is None or self._former_stops(sim, agent, path, p0))
            and self.text_via_id is None
        ):
            path = "open"
        if path == "next" and p0 is not None and p0.status == COMPLETED:
            path = "open"
        if path == "choose" and (
            p0 is None or p0.pending_choice != self.version or self.choice not in ("c", "r")
        ):
            path = "open"
        sim.report.paths[f"→ {path}"] += 1
        if path in ("retake", "updates", "quiz"):
            return self._check_retake(agent, p0, p1) if path == "retake" and not self.former else None
        if path == "choose":
            return self._check_choose(agent, p0, p1, messages)
        if p0 is None:
            if path == "open":
                self._check_begin(agent, before, p1, messages)
            return
        if p0.status == COMPLETED:
            if p1 is None or p1.completed_version is None:
                self.fail(
                    agent,
                    "a completed lesson lost its completion",
                    f"{State.of(p0)} -> {p1 and State.of(p1)}",
                )
            return
        if path == "answer":
            applies = self._answer_applies_policy(p0)
            if not applies:
                if p1 is None or State.of(p1) != State.of(p0):
                    self.fail(
                        agent,
                        "a stale or repeated answer changed the record",
                        f"{State.of(p0)} -> {p1 and State.of(p1)}",
                    )
                return
        decision, latest = sim.decision(agent, self.lesson, p0)
        sim.count_decision(decision.action)
        if (
            self.former
            and p1 is not None
            and p1.lesson_id != self.lesson
            and decision.action is not Action.NONE
        ):
            self.fail(
                agent,
                "a typed answer to a record still under a renamed lesson's old id skipped the §5 policy",
                f"expected {decision.action.value} ({p0.pinned_version} -> {self.lesson}@{latest.version}); the answer was recorded under "
                f"{p1.lesson_id}@{p1.pinned_version}: {State.of(p0)} -> {State.of(p1)}",
            )
            return
        expected = self._after_policy(p0, decision, latest)
        if p1 is None:
            self.fail(agent, "the record disappeared", f"{State.of(p0)}")
            return
        self._check_notices(agent, decision, latest, p0, messages)
        if decision.action is Action.CHOICE:
            self._check_choice_offer(agent, latest, p0, p1, messages)
            return
        self._check_effect(agent, path, decision, latest, expected, p0, p1)

    # -- pieces ---------------------------------------------------------------------------------
    def _answer_applies_policy(self, p0: LessonProgress) -> bool:
        if p0.status != QUIZ or self.question is None:
            return False
        return not any(a.question_id == self.question.id for a in p0.answers)

    def _after_policy(self, p0: LessonProgress, decision: Decision, latest: Lesson) -> State:
        s = State.of(p0)
        if decision.action in (Action.AUTO_MIGRATE, Action.AUTO_MIGRATE_NOTIFY):
            pinned = self.sim._lesson(self.lesson, p0.pinned_version)
            assert pinned is not None
            position = map_position(
                pinned, latest, p0.current_section if p0.status == IN_PROGRESS else None, p0.sections_done
            )
            status = QUIZ if p0.status == QUIZ or position.current_section is None else IN_PROGRESS
            return dataclasses.replace(
                s,
                pinned=latest.version,
                status=status,
                current=position.current_section if status == IN_PROGRESS else None,
                done=position.sections_done,
                pending=None,
            )
        if decision.action is Action.FORCED_RESTART:
            return dataclasses.replace(
                s,
                pinned=latest.version,
                status=IN_PROGRESS,
                current=latest.sections[0].id,
                done=(),
                answers=(),
                attempt=p0.attempt + 1,
                pending=None,
            )
        return s

    def _check_notices(
        self, agent: Agent, decision: Decision, latest: Lesson, p0: LessonProgress, messages: list[Message]
    ) -> None:
        text = "\n".join(m.text for m in messages)
        if decision.action is Action.AUTO_MIGRATE_NOTIFY:
            if "Updated" not in text:
                self.fail(
                    agent,
                    "auto-migrate + notify without an 'Updated' notice",
                    f"{p0.pinned_version} -> {latest.version}: {text[:120]!r}",
                )
            lines = [c for e in latest.changelog if _newer(e.version, p0.pinned_version) for c in e.changes]
            missing = [c for c in lines if c not in text]
            if missing:
                self.fail(
                    agent,
                    "the 'Updated' notice misses changelog lines since the learner's version",
                    f"{p0.pinned_version} -> {latest.version}: missing {missing}",
                )
        elif decision.action in (Action.NONE, Action.AUTO_MIGRATE) and "Updated" in text:
            self.fail(
                agent,
                f"an 'Updated' notice on a silent row ({decision.action.value})",
                f"{p0.pinned_version} -> {latest.version}",
            )
        if decision.action is Action.FORCED_RESTART and "restart" not in text.lower():
            self.fail(
                agent,
                "a forced restart without a notice",
                f"{p0.pinned_version} -> {latest.version}: {text[:120]!r}",
            )

    def _check_choice_offer(
        self, agent: Agent, latest: Lesson, p0: LessonProgress, p1: LessonProgress, messages: list[Message]
    ) -> None:
        s0, s1 = State.of(p0), State.of(p1)
        if dataclasses.replace(s1, pending=None) != dataclasses.replace(s0, pending=None):
            self.fail(
                agent,
                "CHOICE expected (§5: major newer), but the learner was moved without being asked",
                f"{p0.pinned_version} -> {latest.version}: {s0} -> {s1}; replies {[m.text[:90] for m in messages]}",
            )
            return
        offers = [m for m in messages if any(_kind(b.data) == "c" for b in m.all_buttons)]
        datas = sorted(b.data for m in offers for b in m.all_buttons)
        expected = sorted(callbacks.encode("c", latest.id, latest.version, c) for c in "cr")
        if len(offers) != 1 or datas != expected:
            self.fail(
                agent,
                "CHOICE without the two choice buttons",
                f"{p0.pinned_version} -> {latest.version}: buttons {datas}, messages {[m.text[:50] for m in messages]}",
            )
        if p1.pending_choice != latest.version:
            self.fail(agent, "CHOICE not recorded as pending", f"{s0} -> {s1}")

    def _check_choose(
        self, agent: Agent, p0: LessonProgress | None, p1: LessonProgress | None, messages: list[Message]
    ) -> None:
        assert p0 is not None
        if p1 is None:
            self.fail(agent, "the record disappeared", f"{State.of(p0)}")
            return
        s0, s1 = State.of(p0), State.of(p1)
        self.sim.report.paths[f"choice taken: {self.choice}"] += 1
        if self.choice == "c":
            agent.declined[self.lesson] = self.version  # type: ignore[index]
            if (
                dataclasses.replace(s1, pending=None) != dataclasses.replace(s0, pending=None)
                or s1.pending is not None
            ):
                self.fail(agent, "'continue my version' moved the learner", f"{s0} -> {s1}")
            return
        latest = self.sim.content.latest(self.lesson)  # type: ignore[arg-type]
        offered = self.sim._exact(self.lesson, self.version) or latest  # type: ignore[arg-type]
        if self.sim.content.is_yanked(self.lesson, offered.version):  # type: ignore[arg-type]
            # offered before it was withdrawn: restarting on it would pin a yanked version
            wants = [latest]
        else:
            wants = [offered, latest]
        candidates = [
            dataclasses.replace(
                s0,
                pinned=w.version,
                status=IN_PROGRESS,
                current=w.sections[0].id,
                done=(),
                answers=(),
                attempt=s0.attempt + 1,
                pending=None,
            )
            for w in wants
        ]
        if s1 not in candidates:
            kind = (
                "'restart on the new one' pinned a version that was yanked after it was offered"
                if s1.pinned != latest.version and self.sim.content.is_yanked(self.lesson, s1.pinned)  # type: ignore[arg-type]
                else "'restart on the new one' did not restart on the offered version"
            )
            self.fail(
                agent,
                kind,
                f"offered {self.version}, latest {latest.version}: {s0} -> {s1}, expected one of {candidates}",
            )

    def _check_retake(self, agent: Agent, p0: LessonProgress | None, p1: LessonProgress | None) -> None:
        latest = self.sim.content.latest(self.lesson)  # type: ignore[arg-type]
        if p1 is None:
            return  # not started: prerequisites refused it
        if p0 is None:
            return self._check_new_record(agent, p1, latest)
        s0, s1 = State.of(p0), State.of(p1)
        want = dataclasses.replace(
            s0,
            pinned=latest.version,
            status=IN_PROGRESS,
            current=latest.sections[0].id,
            done=(),
            answers=(),
            attempt=s0.attempt + 1,
            pending=None,
        )
        if s1 != want:
            self.fail(
                agent, "a retake did not restart on the latest version", f"{s0} -> {s1}, expected {want}"
            )

    def _check_begin(
        self,
        agent: Agent,
        before: dict[str, LessonProgress],
        p1: LessonProgress | None,
        messages: list[Message],
    ) -> None:
        latest = self.sim.content.latest(self.lesson)  # type: ignore[arg-type]
        done = {
            self.sim.content.current_id(k) or k
            for k, p in before.items()
            if p.status == COMPLETED or p.completed_version
        }
        missing = [r for r in latest.prerequisites if (self.sim.content.current_id(r) or r) not in done]
        if p1 is None:
            if not missing and not latest.retired:
                self.fail(
                    agent,
                    "a lesson with its prerequisites done did not start",
                    f"{[m.text[:60] for m in messages]}",
                )
            return
        if missing:
            self.fail(agent, "a lesson started without its prerequisites", f"missing {missing}")
        self._check_new_record(agent, p1, latest)

    def _check_new_record(self, agent: Agent, p1: LessonProgress, latest: Lesson) -> None:
        if (
            p1.pinned_version != latest.version
            or p1.current_section != latest.sections[0].id
            or p1.status != IN_PROGRESS
            or p1.sections_done
        ):
            self.fail(
                agent,
                "a new start is not pinned to the latest version at its first section",
                f"{State.of(p1)} vs {latest.version}",
            )

    def _check_effect(
        self,
        agent: Agent,
        path: str,
        decision: Decision,
        latest: Lesson,
        s: State,
        p0: LessonProgress,
        p1: LessonProgress,
    ) -> None:
        """After the policy: open shows the step, next may advance, an answer is recorded."""
        s1 = State.of(p1)
        label = f"{decision.action.value}, {p0.pinned_version} -> {latest.version}"
        if s1.pinned != s.pinned:
            kind = {
                Action.NONE: "NONE moved the learner to another version",
                Action.AUTO_MIGRATE: "AUTO_MIGRATE did not pin the latest version",
                Action.AUTO_MIGRATE_NOTIFY: "AUTO_MIGRATE_NOTIFY did not pin the latest version",
                Action.FORCED_RESTART: "FORCED_RESTART did not pin the latest version",
            }[decision.action]
            self.fail(agent, kind, f"{label}: {State.of(p0)} -> {s1}")
            return
        lesson = self.sim._lesson(self.lesson, s.pinned) or latest
        candidates = [s]
        # A Next button made before a silent migration still counts (the learner saw that section);
        # after a forced restart the learner must see the new version from its first section.
        shown = (s.pinned,) if decision.action is Action.FORCED_RESTART else (s.pinned, p0.pinned_version)
        if (
            path == "next"
            and s.status == IN_PROGRESS
            and self.version in shown
            and self.section_key in (s.current, callbacks.short_key(s.current or ""))
        ):
            ids = [x.id for x in lesson.sections]
            following = ids[ids.index(s.current) + 1 :] if s.current in ids else []
            done = s.done + ((s.current,) if s.current and s.current not in s.done else ())
            candidates = [
                dataclasses.replace(s, current=following[0], done=done)
                if following
                else dataclasses.replace(s, status=QUIZ, current=None, done=done)
            ]
        if (
            path == "answer" and decision.action is not Action.FORCED_RESTART
        ):  # a restart stops the action: the answer was to the old version
            grade = _grade(self.question, self.given or "") if self.question is not None else None
            asked = (
                self.sim._asked(
                    self.lesson, self.version or "", self.before.pinned_version if self.before else None
                )
                or lesson
            )
            if grade is not None:
                candidates = [
                    dataclasses.replace(
                        s, answers=s.answers + ((self.question.id, self.given, bool(grade), asked.version),)
                    )
                ]  # type: ignore[union-attr]
        finished = [
            c
            for c in candidates
            if c.status == QUIZ
            and not [q for q in lesson.quiz.questions if q.id not in {a[0] for a in c.answers}]
        ]
        for c in finished:  # the quiz is over: passed (completed at the pinned version) or failed (unchanged)
            candidates.append(dataclasses.replace(c, status=COMPLETED, completed_version=c.pinned))
        if s1 not in candidates and not (
            s1.status == COMPLETED and finished and s1.completed_version == s.pinned and s1.pinned == s.pinned
        ):
            kind = {
                Action.NONE: "the action did not do what it should (no version change)",
                Action.AUTO_MIGRATE: "AUTO_MIGRATE: position not mapped by section id",
                Action.AUTO_MIGRATE_NOTIFY: "AUTO_MIGRATE_NOTIFY: position not mapped by section id",
                Action.FORCED_RESTART: "FORCED_RESTART: position not reset (or the action went on from there)",
            }[decision.action]
            self.fail(agent, kind, f"{label}: {State.of(p0)} -> {s1}; expected one of {candidates}")


def _newer(a: str, b: str) -> bool:
    from fiml_cms import versions

    try:
        return versions.parse(a) > versions.parse(b)
    except ValueError:
        return False


# ==============================================================================================
# Entry points
# ==============================================================================================


def run_simulation(config: Config, workdir: Path) -> Report:
    """Build the repository and the database in `workdir`, run the learners and the release train."""
    with git_identity():
        return Simulation(config, workdir).run()


@contextlib.contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A URL whose search_path is a new, empty schema, dropped afterwards (the tests' `postgres_url`)."""
    import uuid

    from sqlalchemy import create_engine, text

    from fiml_bot.storage.database import parse_url

    parsed = parse_url(base_url)
    schema = f"fiml_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(parsed, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
