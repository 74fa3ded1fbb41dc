"""How a quiz question is asked (its message and answer buttons) and marked (choices, true/false, numbers)."""

from __future__ import annotations

import re

from fiml_cms import message
from fiml_cms.lesson import Lesson, MultipleChoiceQuestion, Question, TrueFalseQuestion

from .callbacks import QUESTION, Answer, ReportProblem, encode
from .messages import Button, Message, rows
from .model import LessonProgress

REPORT_LABEL = "⚠️ Report a problem"


def question_message(lesson: Lesson, question: Question) -> Message:
    """The question with its answer buttons, and "Report a problem" in a row of its own below."""
    asked = _asked(lesson, question)
    return Message(asked.text, (*asked.buttons, (report_button(lesson, QUESTION, question.id),)))


def report_button(lesson: Lesson, place: str, item_id: str) -> Button:
    """Under a section (`place` SECTION) or a question (QUESTION): starts a learner report."""
    return Button(REPORT_LABEL, encode(ReportProblem(lesson.id, lesson.version, place, item_id)))


def _asked(lesson: Lesson, question: Question) -> Message:
    number = [q.id for q in lesson.quiz.questions].index(question.id) + 1
    text = message.question_text(lesson.title, number, len(lesson.quiz.questions), question)
    if isinstance(question, MultipleChoiceQuestion):
        buttons = [
            Button(f"{i + 1}. {o}"[:60], encode(Answer(lesson.id, lesson.version, question.id, str(i))))
            for i, o in enumerate(question.options)
        ]
        return Message(text, rows(buttons))
    if isinstance(question, TrueFalseQuestion):
        pair = (
            Button("True", encode(Answer(lesson.id, lesson.version, question.id, "t"))),
            Button("False", encode(Answer(lesson.id, lesson.version, question.id, "f"))),
        )
        return Message(text, (pair,))
    return Message(text)


def next_question(lesson: Lesson, progress: LessonProgress) -> Question | None:
    answered = {a.question_id for a in progress.answers}
    return next((q for q in lesson.quiz.questions if q.id not in answered), None)


_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")


def parse_number(text: str) -> float | None:
    """A typed number: `12.5`, `1,000`, `$12.50`, `5 %`, `12,5` (decimal comma)."""
    cleaned = text.replace(" ", "").replace("\u00a0", "")
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", cleaned.strip("$€£%")):
        cleaned = cleaned.replace(",", "")
    match = _NUMBER.search(cleaned)
    if not match:
        return None
    return float(match.group(0).replace(",", "."))


_TRUE_WORDS = frozenset({"true", "t", "yes", "y"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n"})


def typed_choice(question: Question, text: str) -> str | None:
    """The button a typed word stands for at a choice question: an option's text (case-insensitive),
    its number, or true/false (yes/no); None when it names none of them (the question is asked again)."""
    word = " ".join(text.split()).casefold().rstrip(".!")
    if isinstance(question, TrueFalseQuestion):
        return "t" if word in _TRUE_WORDS else "f" if word in _FALSE_WORDS else None
    if isinstance(question, MultipleChoiceQuestion):
        named = [i for i, o in enumerate(question.options) if " ".join(o.split()).casefold() == word]
        if len(named) == 1:
            return str(named[0])
        if word.isdigit() and 1 <= int(word) <= len(question.options):
            return str(int(word) - 1)
    return None


def grade(question: Question, given: str) -> bool | None:
    """Right or wrong; None when a numeric answer is not a number (the question is asked again)."""
    if isinstance(question, MultipleChoiceQuestion):
        return given.isdigit() and int(given) == question.answer
    if isinstance(question, TrueFalseQuestion):
        return (given == "t") == question.answer if given in ("t", "f") else False
    value = parse_number(given)
    if value is None:
        return None
    return abs(value - question.answer) <= question.tolerance + 1e-9


def answer_text(question: Question) -> str:
    if isinstance(question, MultipleChoiceQuestion):
        return f"“{question.options[question.answer]}”"
    if isinstance(question, TrueFalseQuestion):
        return "true" if question.answer else "false"
    value = f"{question.answer:g}"
    return f"{value} {question.unit}".strip() if question.unit else value
