"""The driver: N learners acting on the real `Tutor` while the release train publishes new versions.

Learners act only through `Tutor.handle`: Start, ListLessons, Progress, buttons pressed from the
messages they were sent (sometimes an old one: stale buttons), typed numbers, a little garbage, and now
and then the same update delivered twice (same `event_key`). Storage is a real database (a SQLite file
by default, or any `open_storage` URL). Every action goes past the oracle; the driver only chooses.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from fiml_bot.content import LessonContent
from fiml_bot.tutor import callbacks
from fiml_bot.tutor.engine import Tutor
from fiml_bot.tutor.events import Command, Event, Help, ListLessons, Pressed, Progress, Start, Text
from fiml_bot.tutor.messages import Message
from fiml_bot.tutor.model import COMPLETED, LessonProgress
from fiml_cms.config import load_settings
from fiml_cms.lesson import NumericQuestion

from .lessons import button_kind, grade
from .oracle import Oracle
from .release_train import MARKET, ORDERS, RELEASE_TRAIN, ContentRepo, git_identity
from .report import Config, Report


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


@dataclass
class Agent:
    """One simulated learner: its own random stream, the messages it was last sent, older buttons."""

    id: str
    rng: random.Random
    last: list[Message] = field(default_factory=list)
    old_buttons: list[str] = field(default_factory=list)
    seq: int = 0
    started: bool = False
    previous: tuple[Event, str] | None = None  # the last update, for a replay

    def buttons(self) -> list[str]:
        """The buttons this learner may press: "Report a problem" is left out (its words would
        swallow the next typed answer, which the oracle then misses; tests/integration/bot covers reports)."""
        return [b.data for m in self.last for b in m.all_buttons if button_kind(b.data) != "x"]

    def observe(self, messages: list[Message]) -> None:
        if messages:
            self.old_buttons.extend(self.buttons())
            del self.old_buttons[:-40]
            self.last = messages


class Simulation:
    """The content repository, the database and the tutor, driven by the learners through the release train."""

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
        self.oracle = Oracle(config, self.content, self.storage, self.report)
        self.lessons = self.oracle.lessons
        self.watch = _LogWatch()

    @property
    def learner_ids(self) -> list[str]:
        return [agent.id for agent in self.agents]

    # -- running -----------------------------------------------------------------------------
    def run(self) -> Report:
        started = time.perf_counter()
        logger = logging.getLogger("fiml_bot")
        logger.addHandler(self.watch)
        try:
            self._phase("warm-up", self.config.warmup_max, idle=0.0)
            self.oracle.checkpoint("before the first release", self.learner_ids)
            for day, release in enumerate(RELEASE_TRAIN, start=2):
                t0 = time.perf_counter()
                published = release.publish(self.repo, f"2026-12-{day:02d}")
                self.content.refresh()
                self.report.release_seconds += time.perf_counter() - t0
                self.report.releases.append((release.name, published))
                self.oracle.phase = release.name
                self.report.decisions_by_release[release.name] = Counter()
                self._phase(release.name, self.config.phase_max, idle=self.config.idle)
                self.oracle.checkpoint(f"after {release.name}", self.learner_ids)
            self.oracle.phase = "final sweep"
            self.report.decisions_by_release[self.oracle.phase] = Counter()
            self._final_sweep()
        finally:
            logger.removeHandler(self.watch)
            self.storage.close()
        for error in self.watch.errors:
            self.oracle.violate("the bot logged an error", "-", error[:2000])
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
            for progress in self.oracle.records(agent.id).values():
                if progress.status != COMPLETED:
                    self.step(agent, Pressed(callbacks.encode("o", progress.lesson_id)))
                    if any(
                        button_kind(b) == "c" for b in agent.buttons()
                    ):  # a choice: take it, then look again
                        self.step(
                            agent,
                            Pressed(agent.rng.choice([b for b in agent.buttons() if button_kind(b) == "c"])),
                        )
        self.oracle.checkpoint("after the final sweep", self.learner_ids)
        self.oracle.final_checks(self.learner_ids)

    # -- one action --------------------------------------------------------------------------
    def step(self, agent: Agent, event: Event | None = None) -> None:
        before = self.oracle.records(agent.id)
        if event is None and agent.previous is not None and agent.rng.random() < self.config.replay:
            self._replay(agent, before)
            return
        if event is None:
            event = self._choose(agent, before)
        agent.seq += 1
        key = f"{agent.id}#{agent.seq}"
        expectation = self.oracle.expect(agent.id, event, before)
        t0 = time.perf_counter()
        messages = self.tutor.handle(agent.id, event, event_key=key, name=f"Learner {agent.id[-5:]}")
        self.report.handle_seconds += time.perf_counter() - t0
        self.report.actions += 1
        agent.previous = (event, key)
        self.oracle.check_action(agent.id, event, before, messages, expectation)
        agent.observe(messages)
        if isinstance(event, Start):
            agent.started = True

    def _replay(self, agent: Agent, before: dict[str, LessonProgress]) -> None:
        assert agent.previous is not None
        event, key = agent.previous
        total = self.oracle.xp_total(agent.id)
        messages = self.tutor.handle(agent.id, event, event_key=key)
        self.report.replays += 1
        self.oracle.check_replay(agent.id, event, before, total, messages)

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
            kinds[button_kind(data)].append(data)
        typed = self.lessons.typed_question(records)
        if (
            agent.last
            and "as a number" in agent.last[-1].text
            and typed
            and isinstance(typed[2], NumericQuestion)
        ):
            return Text(self._typed_answer(rng, typed[2]))
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
                question = self.lessons.question(self.lessons.resolve(lesson_id), version, question_key)
                if question is not None and grade(question, given):
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


def run_simulation(config: Config, workdir: Path) -> Report:
    """Build the repository and the database in `workdir`, run the learners and the release train."""
    with git_identity():
        return Simulation(config, workdir).run()
