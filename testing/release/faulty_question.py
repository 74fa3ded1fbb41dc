"""A real bug in a tutor handler, for the release drill and bench (FIML_PLUGINS=testing.release.faulty_question):
the quiz's answer handler raises for the question FIML_FAULT_QUESTION names (its id), inside the
tutor's transaction, so the tutor's own error handling meets it (unlike tests/release/fault_plugin.py,
which fails the update before the tutor runs).
"""

from __future__ import annotations

import os
from typing import Any


class QuizBug(RuntimeError):
    pass


def install(tutor: Any) -> None:
    from fiml_bot.tutor import quiz
    from fiml_bot.tutor.turn import same_key

    broken = os.environ.get("FIML_FAULT_QUESTION", "")
    answer = quiz.answer

    def buggy(turn: Any, lesson_id: str, version: str, question_key: str, given: str) -> Any:
        if broken and same_key(question_key, broken):
            raise QuizBug(f"the answer handler of question {broken} is broken")
        return answer(turn, lesson_id, version, question_key, given)

    quiz.answer = buggy
