"""Re-scoring after an answer-key fix: answers that the published key now marks right are credited.

An author publishes a question with a wrong key, learners who picked the truly right option are
marked wrong, and a later version fixes the key (`fiml-cms diff`: "answer changed (learners
re-scored)"). Each such answer is credited once:

* **Who**: an answer marked wrong under version V of a question whose key differs in the newest
  published version, and which that newest key marks right. The question must still ask the same
  thing: same type and, for a choice, the same options in the same order (an option index given
  under a reordered list would mean something else).
* **How much**: the question's XP under V (what the learner would have been paid then), under the
  question's own answer key in the ledger (`answer:<lesson>:<question>`): a question is paid once
  per learner whatever happens, so a learner paid for it since (a retake, a second fix) gets
  nothing more, and a retake after the credit pays nothing again. Nobody loses XP: answers marked
  right under the old key stay paid (grandfathering).
* **Completion**: when the credited attempt is the learner's current one, every question answered
  and the quiz not passed, the recomputed score is checked against the pass ratio; a pass completes
  the lesson as the quiz would have (lesson XP, completion record, badges).
* **Why**: a message is scheduled for the learner saying which answer was right after all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from fiml_cms.errors import FimlError
from fiml_cms.lesson import Lesson, MultipleChoiceQuestion, NumericQuestion, Question

from . import finishing, gamification, questions
from .model import QUIZ, Notice, StoredAnswer, XpAward
from .ports import Content
from .turn import Turn

REASON_RESCORE = "answer re-scored"
KIND = "rescore"


@dataclass(frozen=True)
class Credit:
    """One answer that the fixed key marks right."""

    learner_id: str
    lesson_id: str
    question_id: str
    attempt: int
    given: str
    answered_version: str
    fixed_version: str
    xp: int


@dataclass(frozen=True)
class Rescored:
    """What crediting one learner did (or, in a dry run, would do)."""

    learner_id: str
    credits: tuple[Credit, ...]
    xp: int  # paid for answers (0 when every credited question was paid before)
    completed: bool  # the quiz now passes: the lesson was completed
    lesson_xp: int  # paid for the completion

    @property
    def changed(self) -> bool:
        return bool(self.xp or self.completed)


def credits(content: Content, lesson_id: str, answers: Iterable[StoredAnswer]) -> list[Credit]:
    """The answers the newest published key marks right and the key they were marked by did not,
    one per learner and question (the first such answer)."""
    latest = content.latest(lesson_id)
    now_asked = {q.id: q for q in latest.quiz.questions}
    asked: dict[str, Lesson | None] = {}
    found: dict[tuple[str, str], Credit] = {}
    for answer in answers:
        question = now_asked.get(answer.question_id)
        if answer.correct or question is None or (answer.learner_id, question.id) in found:
            continue
        then = _question_at(content, lesson_id, answer.version, question.id, asked)
        if then is None or not _same_question(then, question) or not _key_changed(then, question):
            continue
        if questions.grade(question, answer.given):
            found[(answer.learner_id, question.id)] = Credit(
                answer.learner_id,
                lesson_id,
                question.id,
                answer.attempt,
                answer.given,
                answer.version,
                latest.version,
                then.xp,
            )
    return list(found.values())


def _question_at(
    content: Content, lesson_id: str, version: str, question_id: str, cache: dict[str, Lesson | None]
) -> Question | None:
    if version not in cache:
        try:
            cache[version] = content.get(lesson_id, version)
        except FimlError:
            cache[version] = None
    lesson = cache[version]
    return None if lesson is None else next((q for q in lesson.quiz.questions if q.id == question_id), None)


def _same_question(then: Question, now: Question) -> bool:
    if type(then) is not type(now):
        return False
    if isinstance(then, MultipleChoiceQuestion) and isinstance(now, MultipleChoiceQuestion):
        return then.options == now.options
    return True


def _key_changed(then: Question, now: Question) -> bool:
    if isinstance(then, NumericQuestion) and isinstance(now, NumericQuestion):
        return (then.answer, then.tolerance) != (now.answer, now.tolerance)
    return then.answer != now.answer


def answer_keys_differ(before: Lesson, after: Lesson) -> bool:
    """Whether some question asked the same way in both versions has another answer key in `after`."""
    earlier = {q.id: q for q in before.quiz.questions}
    return any(
        q.id in earlier and _same_question(earlier[q.id], q) and _key_changed(earlier[q.id], q)
        for q in after.quiz.questions
    )


def apply(turn: Turn, learner_credits: list[Credit]) -> Rescored:
    """Credit one learner's answers (inside the caller's transaction) and schedule the message why."""
    lesson = turn.content.latest(learner_credits[0].lesson_id)
    paid = 0
    lines = []
    for credit in learner_credits:
        award = XpAward(
            turn.learner_id,
            credit.xp,
            REASON_RESCORE,
            gamification.answer_key(credit.lesson_id, credit.question_id),
            credit.lesson_id,
            credit.fixed_version,
            turn.now,
        )
        earned = credit.xp if credit.xp > 0 and turn.repo.award_xp(award) else 0
        paid += earned
        question = next(q for q in lesson.quiz.questions if q.id == credit.question_id)
        number = [q.id for q in lesson.quiz.questions].index(question.id) + 1
        lines.append(
            f"Question {number} (“{question.prompt}”): your answer {given_text(question, credit.given)} "
            f"was right after all{f': +{earned} XP' if earned else ''}."
        )
    completion = _complete_if_passing(turn, learner_credits)
    header = (
        f"🔧 **{lesson.title}**: the answer key was fixed in version {lesson.version}, and your quiz "
        "was marked again."
    )
    text = "\n\n".join([header, *lines, *([completion[0]] if completion else [])])
    key = f"{KIND}:{lesson.id}@{lesson.version}"
    turn.repo.schedule(Notice(turn.learner_id, key, KIND, text, turn.now))
    return Rescored(
        turn.learner_id,
        tuple(learner_credits),
        paid,
        completion is not None,
        completion[1] if completion else 0,
    )


def _complete_if_passing(turn: Turn, learner_credits: list[Credit]) -> tuple[str, int] | None:
    """Complete the lesson when the credited attempt is the current, finished, failed one and now passes."""
    lesson_id = learner_credits[0].lesson_id
    progress = turn.repo.progress(turn.learner_id, lesson_id)
    if progress is None or progress.status != QUIZ:
        return None
    credited = {c.question_id for c in learner_credits if c.attempt == progress.attempt}
    if not credited:
        return None
    asked = turn.pinned(progress)
    if questions.next_question(asked, progress) is not None:
        return None  # still answering: the remaining questions are marked by the fixed key anyway
    answers = tuple(replace(a, correct=True) if a.question_id in credited else a for a in progress.answers)
    progress = turn.repo.save_progress(replace(progress, answers=answers, updated_at=turn.now))
    score = sum(1 for a in answers if a.correct)
    total = len(asked.quiz.questions)
    if total and score / total < asked.quiz.pass_ratio:
        return None
    before = turn.repo.xp_total(turn.learner_id)
    messages = finishing.complete(turn, progress, asked, score, total)
    return messages[-1].text, turn.repo.xp_total(turn.learner_id) - before


def given_text(question: Question, given: str) -> str:
    """An answer as the learner saw it: the option's text, true/false, or the number typed."""
    if (
        isinstance(question, MultipleChoiceQuestion)
        and given.isdigit()
        and int(given) < len(question.options)
    ):
        return f"“{question.options[int(given)]}”"
    if given in ("t", "f"):
        return "true" if given == "t" else "false"
    return given
