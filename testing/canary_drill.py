"""A content-canary drill: a scripted learner population on a real content repository, a real SQLite
progress store and the real tutor, with `fiml-bot canary watch`'s check after every few learners.

The repository holds one lesson (a one-section copy of `what_is_a_market`), tagged 1.0.0; 1.1.0 is
tagged as a canary (`fiml-cms tag --canary 50`) either unchanged or with a wrong answer key for one
question. A learner opens the lesson, reads to the quiz, and answers every question: rightly (by the
*true* answer, the stable key) with probability `skill`, else a random option; some stop after the
first section (they abandon), a few report a problem. Each run is seeded, so a run is reproducible.
With `history`, that many learners took the stable version before the canary began (a lesson that was
live for a while); the canary starts two days later.
"""

from __future__ import annotations

import datetime as dt
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fiml_bot.content import LessonContent
from fiml_bot.ops.canary import CanaryRollout
from fiml_bot.ops.canary_stats import ROLLBACK
from fiml_bot.ops.canary_watch import CanaryWatch, Check
from fiml_bot.ops.flags import FeatureFlags, FlagFileProvider, read_file
from fiml_bot.storage.migrations_api import upgrade
from fiml_bot.storage.unit_of_work import Storage, open_storage
from fiml_bot.tutor.callbacks import Answer, Next, Open, encode
from fiml_bot.tutor.engine import Tutor
from fiml_bot.tutor.events import Command, Pressed
from fiml_cms.config import load_settings
from fiml_cms.flagfile import DEFAULT_PATH, Canary, set_canary
from fiml_cms.lesson import MultipleChoiceQuestion, TrueFalseQuestion

LESSON = "what_is_a_market"
STABLE, CANARY = "1.0.0", "1.1.0"
BROKEN = "q3"  # the question whose key the broken canary gets wrong
ENV = {
    "GIT_AUTHOR_NAME": "Drill",
    "GIT_AUTHOR_EMAIL": "drill@example.org",
    "GIT_COMMITTER_NAME": "Drill",
    "GIT_COMMITTER_EMAIL": "drill@example.org",
    "GIT_AUTHOR_DATE": "2026-12-01T10:00:00Z",
    "GIT_COMMITTER_DATE": "2026-12-01T10:00:00Z",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "PATH": "/usr/bin:/bin:/usr/local/bin",
}


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, env=ENV, capture_output=True)


def _tag(root: Path, *args: str) -> None:
    import os

    from typer.testing import CliRunner

    from fiml_cms.cli import app

    before = Path.cwd()
    os.chdir(root)
    try:
        result = CliRunner().invoke(app, ["tag", *args])
    finally:
        os.chdir(before)
    if result.exit_code != 0:
        raise RuntimeError(f"fiml-cms tag {' '.join(args)}: {result.output}")


def make_repository(root: Path, bundled_lesson: Path, *, broken: bool) -> Path:
    """A content repository with the lesson at 1.0.0 and its 1.1.0 canary at 50 %; the flag file's path."""
    text = bundled_lesson.read_text(encoding="utf-8")
    text = text[: text.index("  - id: exchanges")] + text[text.index("quiz:") :]  # one section
    lessons = root / "content" / "lessons"
    lessons.mkdir(parents=True)
    (root / "content" / "paths").mkdir()
    (root / ".fiml-cms.toml").write_text("# defaults\n", encoding="utf-8")
    lesson = lessons / f"{LESSON}.yaml"
    lesson.write_text(text, encoding="utf-8")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "Lesson 1.0.0")
    _tag(root, LESSON)
    text = text.replace('\nversion: "1.0.0"', f'\nversion: "{CANARY}"').replace(
        "changelog:\n",
        f'changelog:\n  - version: "{CANARY}"\n    date: 2026-12-02\n    changes: [Clearer wording]\n',
        1,
    )
    if broken:  # q3's right option is 2 ("Through a broker"); the canary's key says 0
        head, tail = text.split("    - id: q3", 1)
        text = head + "    - id: q3" + tail.replace("      answer: 2\n", "      answer: 0\n", 1)
    lesson.write_text(text, encoding="utf-8")
    _git(root, "commit", "-q", "-am", "Lesson 1.1.0")
    _tag(root, LESSON, "--canary", "50")
    return root / DEFAULT_PATH


@dataclass
class DrillResult:
    learners: int  # learners who began the lesson in this run
    canary_learners: int
    rolled_back: bool
    checks: int
    broken_answers_at_rollback: int | None  # canary learners who had answered BROKEN when it was rolled back
    last: Check | None


class Drill:
    """One run: a fresh database, the canary reset to 50 %, `learners` scripted learners."""

    def __init__(
        self, root: Path, flags: Path, database: Path, seed: int, *, check_every: int = 1, history: int = 0
    ) -> None:
        self.root = root
        self.flags = flags
        self.rng = random.Random(seed)
        self.seed = seed
        self.check_every = check_every
        self.now = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
        self._set_canary(0 if history else 50)
        url = f"sqlite:///{database}"
        upgrade(url)
        self.storage: Storage = open_storage(url)
        self.content = LessonContent.open(root, load_settings(root))
        self.feature_flags = FeatureFlags(FlagFileProvider(read_file(flags)))
        self.tutor = Tutor(
            self.content,
            self.storage,
            clock=self.clock,
            rollout=CanaryRollout(self.feature_flags),
        )
        self.watch = CanaryWatch(self.storage, LESSON, flags, root, clock=self.clock)
        self.truth = {q.id: q for q in self.content.get(LESSON, STABLE).quiz.questions}
        if history:  # the lesson was live before the canary: `history` learners took the stable version
            for index in range(history):
                assert self.learner(f"telegram:{seed}h{index:05d}") == STABLE
            self.now += dt.timedelta(days=2)
            self._set_canary(50)
            self.feature_flags.provider.replace(read_file(flags))

    def _set_canary(self, percent: int) -> None:
        """Set the share in the flag file and commit it, as `fiml-cms tag --canary` does (a canary is
        content: the watcher's own `canary`/`promote` refuse a flag file with uncommitted changes)."""
        set_canary(self.flags, Canary(LESSON, CANARY, STABLE, percent))
        if self.flags.resolve().is_relative_to(self.root.resolve()):
            _git(self.root, "add", str(self.flags))
            _git(self.root, "commit", "-q", "--allow-empty", "-m", f"Canary {LESSON} {CANARY} at {percent} %")

    def clock(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=20)
        return self.now

    def close(self) -> None:
        self.storage.close()

    def learner(self, learner_id: str, skill: float = 0.8) -> str:
        """One learner's whole script; the version they were served."""
        rng = self.rng
        self.tutor.handle(learner_id, Pressed(encode(Open(LESSON))), name="Drill")
        with self.storage() as uow:
            progress = uow.progress.progress(learner_id, LESSON)
        assert progress is not None, f"{learner_id} could not open the lesson"
        version = progress.pinned_version
        served = self.content.get(LESSON, version)
        if rng.random() < 0.05:
            return version  # stops after the first section: abandons
        self.tutor.handle(learner_id, Pressed(encode(Next(LESSON, version, served.sections[-1].id))))
        for question in served.quiz.questions:
            self.tutor.handle(
                learner_id,
                Pressed(encode(Answer(LESSON, version, question.id, self._given(question.id, skill)))),
            )
        if rng.random() < 0.02:
            self.tutor.handle(learner_id, Command("report", "I am not sure about one answer"))
        return version

    def _given(self, question_id: str, skill: float) -> str:
        question = self.truth[question_id]
        rng = self.rng
        if isinstance(question, MultipleChoiceQuestion):
            right = question.answer
            return str(right if rng.random() < skill else rng.randrange(len(question.options)))
        assert isinstance(question, TrueFalseQuestion)
        truth = question.answer if rng.random() < skill else rng.random() < 0.5
        return "t" if truth else "f"

    def run(self, learners: int) -> DrillResult:
        canary_learners = checks = 0
        last: Check | None = None
        for index in range(learners):
            if self.learner(f"telegram:{self.seed}{index:05d}") == CANARY:
                canary_learners += 1
            if (index + 1) % self.check_every:
                continue
            last = self.watch.check()
            checks += 1
            if last.verdict.action == ROLLBACK:
                self.feature_flags.provider.replace(read_file(self.flags))  # as the bot's reloader does
                broken = next(
                    c.outcome.canary_n
                    for c in last.verdict.comparisons
                    if c.outcome.metric == f"first answers {BROKEN}"
                )
                return DrillResult(index + 1, canary_learners, True, checks, broken, last)
        return DrillResult(learners, canary_learners, False, checks, None, last)
