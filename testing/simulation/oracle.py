"""The oracle: what every action must do to a learner's records, and the invariants across releases.

It reads the learner's records before and after every action, works out what the action must do (the
§5 decision from `policy.decide` on the pinned and the latest version, the position from
`policy.map_position`, then the action itself) and compares. Checkpoints at every release compare the
whole store with the previous checkpoint: the XP ledger only grows, completions never disappear. A
broken invariant is a `Violation` in the report: a finding about the bot, never about the oracle's
inputs.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from fiml_bot.content import LessonContent
from fiml_bot.tutor import callbacks, gamification
from fiml_bot.tutor.events import Event, Pressed, Text
from fiml_bot.tutor.messages import Message
from fiml_bot.tutor.model import COMPLETED, IN_PROGRESS, QUIZ, LessonProgress
from fiml_bot.tutor.policy import Action, Decision, after_rename, decide, map_position
from fiml_bot.tutor.questions import typed_choice
from fiml_cms.lesson import Lesson, NumericQuestion, Question

from .lessons import Lessons, button_kind, grade
from .release_train import MARKET, ORDERS_NEW
from .report import Config, Report, Violation

FAILURE_TEXTS = ("Something went wrong", "I can't reach my records", "Lots is happening")


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


class Oracle:
    """Checks every action of every learner and the whole store at every checkpoint; records what broke."""

    def __init__(self, config: Config, content: LessonContent, storage: Any, report: Report) -> None:
        self.config = config
        self.content = content
        self.lessons = Lessons(content)
        self.storage = storage
        self.report = report
        self.phase = "warm-up"  # the release the learners act after, named in violations
        self.previous_checkpoint: dict[str, dict[str, Any]] | None = None
        self.xp_seen: dict[str, int] = defaultdict(int)
        self.raise_seen: set[str] = set()
        # learner id -> lesson id -> the major version they chose not to take (§5 asks them once)
        self.declined: dict[str, dict[str, str]] = defaultdict(dict)

    # -- reading the store -------------------------------------------------------------------
    def records(self, learner_id: str) -> dict[str, LessonProgress]:
        with self.storage() as uow:
            return {p.lesson_id: p for p in uow.progress.all_progress(learner_id)}

    def xp_total(self, learner_id: str) -> int:
        with self.storage() as uow:
            return uow.progress.xp_total(learner_id)

    def ledger(self, learner_id: str) -> list[Any]:
        with self.storage() as uow:
            return uow.progress.xp_awards(learner_id)

    # -- what the driver calls around every action ------------------------------------------------
    def expect(self, learner: str, event: Event, records: dict[str, LessonProgress]) -> Expectation | None:
        """What the action must do, worked out before the tutor sees it (None: only the general checks)."""
        expectation = self._expectation(learner, event, records)
        if expectation is not None:
            expectation.event = event
        return expectation

    def check_action(
        self,
        learner: str,
        event: Event,
        before: dict[str, LessonProgress],
        messages: list[Message],
        expectation: Expectation | None,
    ) -> None:
        """Every invariant after one action: the replies, the XP, the action's own effect, the records."""
        after = self.records(learner)
        self._check_messages(learner, event, messages)
        self._check_xp(learner)
        self._note_raise_credit(learner, before)
        if expectation is not None:
            expectation.check(learner, before, after, messages)
        self._check_records(learner, event, before, after, expectation)

    def check_replay(
        self,
        learner: str,
        event: Event,
        before: dict[str, LessonProgress],
        total: int,
        messages: list[Message],
    ) -> None:
        """The platform delivered the previous update again (same event_key): nothing may change."""
        after = self.records(learner)
        if messages:
            self.violate(
                "a repeated update (same event_key) was applied again",
                learner,
                f"{event!r} -> {[m.text[:60] for m in messages]}",
            )
        if {k: State.of(v) for k, v in before.items()} != {
            k: State.of(v) for k, v in after.items()
        } or self.xp_total(learner) != total:
            self.violate("a repeated update (same event_key) changed the records", learner, repr(event))

    def _expectation(
        self, learner: str, event: Event, records: dict[str, LessonProgress]
    ) -> Expectation | None:
        if isinstance(event, Text):
            found = self.lessons.typed_question(records)
            if found is None:
                return Expectation(self, "text-unmatched", None, None, False)
            progress, lesson, question = found
            current = self.content.current_id(progress.lesson_id) or progress.lesson_id
            given = (
                event.text.strip()
                if isinstance(question, NumericQuestion)
                else typed_choice(question, event.text)
            )
            if given is None:  # not an option: the question again, after §5's policy, as opening it would
                return Expectation(self, "open", current, progress, progress.lesson_id != current)
            exp = Expectation(self, "answer", current, progress, progress.lesson_id != current)
            exp.version, exp.question, exp.given = lesson.version, question, given
            exp.text_via_id = progress.lesson_id
            return exp
        if not isinstance(event, Pressed):
            return None
        cb = callbacks.decode(event.data)
        if cb is None or cb.kind in ("h", "p", "l"):
            return None
        target = self.lessons.resolve(cb.fields[0])
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
            exp.question = self.lessons.question(
                target, cb.fields[1], cb.fields[2], progress.pinned_version if progress else None
            )
            exp.question_key = cb.fields[2]
        elif cb.kind == "c":
            exp.version, exp.choice = cb.fields[1], cb.fields[2]
        return exp

    def _find(self, records: dict[str, LessonProgress], lesson_id: str) -> tuple[LessonProgress | None, bool]:
        if lesson_id in records:
            return records[lesson_id], False
        for old in self.lessons.former(lesson_id):
            if old in records:
                return records[old], True
        return None, False

    def decision(self, learner: str, lesson_id: str, progress: LessonProgress) -> tuple[Decision, Lesson]:
        latest = self.content.latest(lesson_id)
        if self.config.renamed_versions_resolvable:
            available = self.lessons.lesson(lesson_id, progress.pinned_version) is not None
        else:
            available = self.lessons.exact(lesson_id, progress.pinned_version) is not None
        decision = decide(
            progress.pinned_version,
            latest.version,
            pinned_available=available,
            pinned_yanked=self.content.is_yanked(lesson_id, progress.pinned_version),
            declined=self.declined[learner].get(lesson_id) == latest.version,
            settings=self.config.policy,
        )
        # A rename alone is not a new edition (issue 15): a version published under a former id, whose
        # content differs from the latest by less than a major change, auto-migrates whatever the number.
        under_former_id = progress.pinned_version not in self.content.versions(lesson_id)
        decision = after_rename(
            decision, self.lessons.lesson(lesson_id, progress.pinned_version), latest, under_former_id
        )
        return decision, latest

    def count_decision(self, action: Action) -> None:
        self.report.decisions[action.value] += 1
        if self.phase in self.report.decisions_by_release:
            self.report.decisions_by_release[self.phase][action.value] += 1

    # -- invariants after every action ----------------------------------------------------------
    def violate(self, kind: str, learner: str, detail: str) -> None:
        self.report.violation_counts[kind] += 1
        if self.report.violation_counts[kind] <= self.config.max_examples:
            self.report.violations.append(Violation(kind, learner, f"[{self.phase}] {detail}"))

    def _check_messages(self, learner: str, event: Event, messages: list[Message]) -> None:
        if not messages:
            self.violate("no reply to an action", learner, repr(event))
        for message in messages:
            if not message.text.strip():
                self.violate("an empty message", learner, repr(event))
            if any(text in message.text for text in FAILURE_TEXTS):
                self.violate("the learner saw a failure reply", learner, f"{event!r} -> {message.text[:100]}")
            for button in message.all_buttons:
                if len(button.data.encode()) > callbacks.LIMIT:
                    self.violate("callback data over 64 bytes", learner, button.data)
                if callbacks.decode(button.data) is None:
                    self.violate("a button the tutor cannot decode", learner, button.data)
                if not button.label.strip():
                    self.violate("an empty button label", learner, button.data)

    def _note_raise_credit(self, learner: str, before: dict[str, LessonProgress]) -> None:
        """Information, not an invariant: is a raised xp_reward credited at the completer's very next
        action (XP_RULES: "the next time they use the bot"), or only later (/progress, opening the lesson)?"""
        if not self.phase.startswith("raised xp_reward") or learner in self.raise_seen:
            return
        record = before.get(MARKET)
        if record is None or record.completed_version is None:
            return
        self.raise_seen.add(learner)
        paid = gamification.paid_for_lesson(self.ledger(learner), (MARKET,))
        self.report.final.setdefault("raised reward credited at the completer's next action", Counter())[
            "yes" if paid >= 80 else "no"
        ] += 1

    def _check_xp(self, learner: str) -> None:
        total = self.xp_total(learner)
        if total < self.xp_seen[learner]:
            self.violate("XP went down", learner, f"{self.xp_seen[learner]} -> {total}")
        self.xp_seen[learner] = max(total, self.xp_seen[learner])

    def _check_records(
        self,
        learner: str,
        event: Event,
        before: dict[str, LessonProgress],
        after: dict[str, LessonProgress],
        exp: Expectation | None,
    ) -> None:
        target = exp.lesson if exp is not None else None
        for lesson_id, progress in after.items():
            if before.get(lesson_id) is not None and State.of(before[lesson_id]) == State.of(progress):
                continue  # unchanged: checked when it was written
            lesson = self.lessons.lesson(lesson_id, progress.pinned_version)
            if lesson is None:
                self.violate(
                    "a pinned version that cannot be served",
                    learner,
                    f"{lesson_id}@{progress.pinned_version}",
                )
                continue
            ids = [s.id for s in lesson.sections]
            if progress.status == IN_PROGRESS:
                if progress.current_section not in ids:
                    self.violate(
                        "an in-progress record whose section is not in its pinned version",
                        learner,
                        f"{lesson_id}@{progress.pinned_version}: {progress.current_section!r} not in {ids}",
                    )
                was = before.get(lesson_id)
                if progress.answers and not (was is not None and was.status == IN_PROGRESS and was.answers):
                    self.violate(
                        "an in-progress record (reading sections) that already holds quiz answers",
                        learner,
                        f"{lesson_id}@{progress.pinned_version} at {progress.current_section} holds {[(a.question_id, a.version) for a in progress.answers]} after {event!r}",
                    )
            elif progress.status == QUIZ and progress.current_section is not None:
                self.violate(
                    "a quiz record with a current section",
                    learner,
                    f"{lesson_id}: {progress.current_section}",
                )
            if [s for s in progress.sections_done if s not in ids]:
                self.violate(
                    "sections done that are not in the pinned version",
                    learner,
                    f"{lesson_id}@{progress.pinned_version}: {progress.sections_done}",
                )
            for answer in progress.answers:  # graded against the version it was given under (grandfathering)
                question = self.lessons.question(lesson_id, answer.version, answer.question_id)
                if (
                    question is not None
                    and grade(question, answer.given) is not None
                    and bool(grade(question, answer.given)) != answer.correct
                ):
                    self.violate(
                        "an answer graded against the wrong version", learner, f"{lesson_id} {answer}"
                    )
        for lesson_id, progress in after.items():
            current = self.content.current_id(lesson_id)
            if (
                current not in (lesson_id, None)
                and current in after
                and (lesson_id not in before or current not in before)
            ):
                self.violate(
                    "an action left two records for one lesson (one under a renamed lesson's old id)",
                    learner,
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
                self.violate(
                    "an action changed a lesson it was not about",
                    learner,
                    f"{event!r} changed {lesson_id}: {old} -> {State.of(progress)}",
                )
        for lesson_id, progress in before.items():
            if progress.completed_version is not None:
                now = after.get(self.content.current_id(lesson_id) or lesson_id) or after.get(lesson_id)
                if now is None or now.completed_version is None:
                    self.violate(
                        "a completion disappeared from the progress record",
                        learner,
                        f"{lesson_id} completed at {progress.completed_version}; after {event!r}: {now and State.of(now)}",
                    )

    # -- checkpoints -------------------------------------------------------------------------
    def checkpoint(self, name: str, learners: list[str]) -> None:
        snap: dict[str, dict[str, Any]] = {}
        with self.storage() as uow:
            repo = uow.progress
            for learner in learners:
                ledger = repo.xp_awards(learner)
                completions = repo.completions(learner)
                snap[learner] = {
                    "total": sum(a.amount for a in ledger),
                    "ledger": Counter((a.key, a.amount) for a in ledger),
                    "keys": Counter(a.key for a in ledger),
                    "completions": Counter(
                        (c.lesson_id, c.version, c.attempt, c.completed_at) for c in completions
                    ),
                    "awards": ledger,
                    "progress": repo.all_progress(learner),
                }
        in_progress = sum(1 for s in snap.values() for p in s["progress"] if p.status != COMPLETED)
        completed = sum(sum(s["completions"].values()) for s in snap.values())
        xp = sum(s["total"] for s in snap.values())
        lost_xp = lost_completions = 0
        for agent_id, now in snap.items():
            dup = [k for k, n in now["keys"].items() if n > 1]
            if dup:
                self.violate("an XP key paid twice", agent_id, str(dup))
            self._check_no_double_pay(agent_id, now["awards"])
            if self.previous_checkpoint is None:
                continue
            was = self.previous_checkpoint[agent_id]
            if now["total"] < was["total"]:
                lost_xp += was["total"] - now["total"]
                self.violate("XP lost between checkpoints", agent_id, f"{was['total']} -> {now['total']}")
            missing = was["ledger"] - now["ledger"]
            if missing:
                self.violate("ledger rows disappeared", agent_id, str(dict(missing)))
            gone = self._by_current_id(was["completions"]) - self._by_current_id(now["completions"])
            if gone:
                lost_completions += sum(gone.values())
                self.violate("completions lost between checkpoints", agent_id, str(dict(gone)))
        self.previous_checkpoint = snap
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
                self.violate(
                    "a question's XP paid twice (across a rename)", agent_id, f"{lesson_id} {question}: {n}×"
                )
        for lesson_id, n in lesson_keys.items():
            if n > 1:
                self.violate("a lesson's XP paid twice (across a rename)", agent_id, f"{lesson_id}: {n}×")
        for lesson_id, paid in lesson_paid.items():
            highest = self._highest_reward(lesson_id)
            if highest is not None and paid > highest:
                self.violate(
                    "paid more for a lesson than its highest xp_reward",
                    agent_id,
                    f"{lesson_id}: {paid} > {highest}",
                )

    def _highest_reward(self, lesson_id: str) -> int | None:
        rewards = []
        for candidate in (lesson_id, *self.lessons.former(lesson_id)):
            for version in self.content.versions(candidate):
                lesson = self.lessons.exact(candidate, version)
                if lesson is not None:
                    rewards.append(lesson.xp_reward)
        return max(rewards) if rewards else None

    def final_checks(self, learners: list[str]) -> None:
        aliases = {old for old in self.content.store.ids() if self.content.current_id(old) not in (old, None)}
        stale_records = stale_completions = unpaid = completers = 0
        raised = {MARKET: 80, ORDERS_NEW: 70}
        raised_paid = Counter()
        in_progress = Counter()
        with self.storage() as uow:
            repo = uow.progress
            for learner in learners:
                progress = repo.all_progress(learner)
                completions = repo.completions(learner)
                awards = repo.xp_awards(learner)
                for p in progress:
                    if p.lesson_id in aliases:
                        stale_records += 1
                        self.violate(
                            "a record still under a renamed lesson's old id after the final sweep",
                            learner,
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
                        self.violate(
                            "a completion still under a renamed lesson's old id after the final sweep",
                            learner,
                            f"{c.lesson_id}@{c.version}",
                        )
                for lesson_id in {self.content.current_id(c.lesson_id) or c.lesson_id for c in completions}:
                    completers += 1
                    ids = (lesson_id, *self.lessons.former(lesson_id))
                    paid = gamification.paid_for_lesson(awards, ids)
                    latest = self.content.latest(lesson_id)
                    if paid < latest.xp_reward:
                        unpaid += 1
                        self.violate(
                            "a completer was not paid the lesson's current xp_reward (retroactive credit)",
                            learner,
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


@dataclass
class Expectation:
    """The oracle for one action on one lesson: the §5 decision, then the action's own effect."""

    oracle: Oracle
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

    def fail(self, learner: str, kind: str, detail: str) -> None:
        self.oracle.violate(kind, learner, f"{self.event!r} ({self.path} {self.lesson}): {detail}")

    def _former_stops(self, learner: str, path: str, p0: LessonProgress) -> bool:
        """A button of a record still under an old id only opens the lesson when §5 stops the action
        (a choice or a restart); an auto-migration (a rename alone) lets it go on, as for any button."""
        if not self.former:
            return False
        return path == "choose" or self.oracle.decision(learner, self.lesson, p0)[0].action in (
            Action.CHOICE,
            Action.FORCED_RESTART,
        )  # type: ignore[arg-type]

    def check(
        self,
        learner: str,
        before: dict[str, LessonProgress],
        after: dict[str, LessonProgress],
        messages: list[Message],
    ) -> None:
        self.oracle.report.paths[self.path] += 1
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
            and (p0 is None or self._former_stops(learner, path, p0))
            and self.text_via_id is None
        ):
            path = "open"
        if path == "next" and p0 is not None and p0.status == COMPLETED:
            path = "open"
        if path == "choose" and (
            p0 is None or p0.pending_choice != self.version or self.choice not in ("c", "r")
        ):
            path = "open"
        self.oracle.report.paths[f"→ {path}"] += 1
        if path in ("retake", "updates", "quiz"):
            return self._check_retake(learner, p0, p1) if path == "retake" and not self.former else None
        if path == "choose":
            return self._check_choose(learner, p0, p1, messages)
        if p0 is None:
            if path == "open":
                self._check_begin(learner, before, p1, messages)
            return
        if p0.status == COMPLETED:
            if p1 is None or p1.completed_version is None:
                self.fail(
                    learner,
                    "a completed lesson lost its completion",
                    f"{State.of(p0)} -> {p1 and State.of(p1)}",
                )
            return
        if path == "answer":
            applies = self._answer_applies_policy(p0)
            if not applies:
                if p1 is None or State.of(p1) != State.of(p0):
                    self.fail(
                        learner,
                        "a stale or repeated answer changed the record",
                        f"{State.of(p0)} -> {p1 and State.of(p1)}",
                    )
                return
        decision, latest = self.oracle.decision(learner, self.lesson, p0)
        self.oracle.count_decision(decision.action)
        if (
            self.former
            and p1 is not None
            and p1.lesson_id != self.lesson
            and decision.action is not Action.NONE
        ):
            self.fail(
                learner,
                "a typed answer to a record still under a renamed lesson's old id skipped the §5 policy",
                f"expected {decision.action.value} ({p0.pinned_version} -> {self.lesson}@{latest.version}); the answer was recorded under "
                f"{p1.lesson_id}@{p1.pinned_version}: {State.of(p0)} -> {State.of(p1)}",
            )
            return
        expected = self._after_policy(p0, decision, latest)
        if p1 is None:
            self.fail(learner, "the record disappeared", f"{State.of(p0)}")
            return
        self._check_notices(learner, decision, latest, p0, messages)
        if decision.action is Action.CHOICE:
            self._check_choice_offer(learner, latest, p0, p1, messages)
            return
        self._check_effect(learner, path, decision, latest, expected, p0, p1)

    # -- pieces ---------------------------------------------------------------------------------
    def _answer_applies_policy(self, p0: LessonProgress) -> bool:
        if p0.status != QUIZ or self.question is None:
            return False
        return not any(a.question_id == self.question.id for a in p0.answers)

    def _after_policy(self, p0: LessonProgress, decision: Decision, latest: Lesson) -> State:
        s = State.of(p0)
        if decision.action in (Action.AUTO_MIGRATE, Action.AUTO_MIGRATE_NOTIFY):
            pinned = self.oracle.lessons.lesson(self.lesson, p0.pinned_version)
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
        self, learner: str, decision: Decision, latest: Lesson, p0: LessonProgress, messages: list[Message]
    ) -> None:
        text = "\n".join(m.text for m in messages)
        if decision.action is Action.AUTO_MIGRATE_NOTIFY:
            if "Updated" not in text:
                self.fail(
                    learner,
                    "auto-migrate + notify without an 'Updated' notice",
                    f"{p0.pinned_version} -> {latest.version}: {text[:120]!r}",
                )
            lines = [c for e in latest.changelog if _newer(e.version, p0.pinned_version) for c in e.changes]
            missing = [c for c in lines if c not in text]
            if missing:
                self.fail(
                    learner,
                    "the 'Updated' notice misses changelog lines since the learner's version",
                    f"{p0.pinned_version} -> {latest.version}: missing {missing}",
                )
        elif decision.action in (Action.NONE, Action.AUTO_MIGRATE) and "Updated" in text:
            self.fail(
                learner,
                f"an 'Updated' notice on a silent row ({decision.action.value})",
                f"{p0.pinned_version} -> {latest.version}",
            )
        if decision.action is Action.FORCED_RESTART and "restart" not in text.lower():
            self.fail(
                learner,
                "a forced restart without a notice",
                f"{p0.pinned_version} -> {latest.version}: {text[:120]!r}",
            )

    def _check_choice_offer(
        self, learner: str, latest: Lesson, p0: LessonProgress, p1: LessonProgress, messages: list[Message]
    ) -> None:
        s0, s1 = State.of(p0), State.of(p1)
        if dataclasses.replace(s1, pending=None) != dataclasses.replace(s0, pending=None):
            self.fail(
                learner,
                "CHOICE expected (§5: major newer), but the learner was moved without being asked",
                f"{p0.pinned_version} -> {latest.version}: {s0} -> {s1}; replies {[m.text[:90] for m in messages]}",
            )
            return
        offers = [m for m in messages if any(button_kind(b.data) == "c" for b in m.all_buttons)]
        datas = sorted(b.data for m in offers for b in m.all_buttons)
        expected = sorted(callbacks.encode("c", latest.id, latest.version, c) for c in "cr")
        if len(offers) != 1 or datas != expected:
            self.fail(
                learner,
                "CHOICE without the two choice buttons",
                f"{p0.pinned_version} -> {latest.version}: buttons {datas}, messages {[m.text[:50] for m in messages]}",
            )
        if p1.pending_choice != latest.version:
            self.fail(learner, "CHOICE not recorded as pending", f"{s0} -> {s1}")

    def _check_choose(
        self, learner: str, p0: LessonProgress | None, p1: LessonProgress | None, messages: list[Message]
    ) -> None:
        assert p0 is not None
        if p1 is None:
            self.fail(learner, "the record disappeared", f"{State.of(p0)}")
            return
        s0, s1 = State.of(p0), State.of(p1)
        self.oracle.report.paths[f"choice taken: {self.choice}"] += 1
        if self.choice == "c":
            self.oracle.declined[learner][self.lesson] = self.version  # type: ignore[index]
            if (
                dataclasses.replace(s1, pending=None) != dataclasses.replace(s0, pending=None)
                or s1.pending is not None
            ):
                self.fail(learner, "'continue my version' moved the learner", f"{s0} -> {s1}")
            return
        latest = self.oracle.content.latest(self.lesson)  # type: ignore[arg-type]
        offered = self.oracle.lessons.exact(self.lesson, self.version) or latest  # type: ignore[arg-type]
        if self.oracle.content.is_yanked(self.lesson, offered.version):  # type: ignore[arg-type]
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
                if s1.pinned != latest.version and self.oracle.content.is_yanked(self.lesson, s1.pinned)  # type: ignore[arg-type]
                else "'restart on the new one' did not restart on the offered version"
            )
            self.fail(
                learner,
                kind,
                f"offered {self.version}, latest {latest.version}: {s0} -> {s1}, expected one of {candidates}",
            )

    def _check_retake(self, learner: str, p0: LessonProgress | None, p1: LessonProgress | None) -> None:
        latest = self.oracle.content.latest(self.lesson)  # type: ignore[arg-type]
        if p1 is None:
            return  # not started: prerequisites refused it
        if p0 is None:
            return self._check_new_record(learner, p1, latest)
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
                learner, "a retake did not restart on the latest version", f"{s0} -> {s1}, expected {want}"
            )

    def _check_begin(
        self,
        learner: str,
        before: dict[str, LessonProgress],
        p1: LessonProgress | None,
        messages: list[Message],
    ) -> None:
        latest = self.oracle.content.latest(self.lesson)  # type: ignore[arg-type]
        done = {
            self.oracle.content.current_id(k) or k
            for k, p in before.items()
            if p.status == COMPLETED or p.completed_version
        }
        missing = [r for r in latest.prerequisites if (self.oracle.content.current_id(r) or r) not in done]
        if p1 is None:
            if not missing and not latest.retired:
                self.fail(
                    learner,
                    "a lesson with its prerequisites done did not start",
                    f"{[m.text[:60] for m in messages]}",
                )
            return
        if missing:
            self.fail(learner, "a lesson started without its prerequisites", f"missing {missing}")
        self._check_new_record(learner, p1, latest)

    def _check_new_record(self, learner: str, p1: LessonProgress, latest: Lesson) -> None:
        if (
            p1.pinned_version != latest.version
            or p1.current_section != latest.sections[0].id
            or p1.status != IN_PROGRESS
            or p1.sections_done
        ):
            self.fail(
                learner,
                "a new start is not pinned to the latest version at its first section",
                f"{State.of(p1)} vs {latest.version}",
            )

    def _check_effect(
        self,
        learner: str,
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
            self.fail(learner, kind, f"{label}: {State.of(p0)} -> {s1}")
            return
        lesson = self.oracle.lessons.lesson(self.lesson, s.pinned) or latest
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
            graded = grade(self.question, self.given or "") if self.question is not None else None
            asked = (
                self.oracle.lessons.asked(
                    self.lesson, self.version or "", self.before.pinned_version if self.before else None
                )
                or lesson
            )
            if graded is not None:
                candidates = [
                    dataclasses.replace(
                        s, answers=s.answers + ((self.question.id, self.given, bool(graded), asked.version),)
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
            self.fail(learner, kind, f"{label}: {State.of(p0)} -> {s1}; expected one of {candidates}")


def _newer(a: str, b: str) -> bool:
    from fiml_cms import versions

    try:
        return versions.parse(a) > versions.parse(b)
    except ValueError:
        return False
