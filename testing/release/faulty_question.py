"""Bugs in the tutor, for the release drill and bench (FIML_PLUGINS=testing.release.faulty_question):

* FIML_FAULT_QUESTION=ID: the quiz's answer handler raises for that question, inside the tutor's
  transaction, so the tutor's own error handling meets it (testing/release/fault_plugin.py fails the
  update before the tutor runs). The same update fails every time it comes back, as a real bug does.
* FIML_NOISE_PERCENT=P: any action fails at random with probability P% (a transient fault: a
  redelivery usually passes), the background of errors a healthy release must not be rolled back for.
"""

from __future__ import annotations

import os
import random
from typing import Any


class QuizBug(RuntimeError):
    pass


class TransientFault(RuntimeError):
    pass


def install(tutor: Any) -> None:
    from fiml_bot.tutor import dispatch, quiz
    from fiml_bot.tutor.turn import same_key

    broken = os.environ.get("FIML_FAULT_QUESTION", "")
    noise = float(os.environ.get("FIML_NOISE_PERCENT", "0")) / 100
    answer, run = quiz.answer, dispatch.run

    def buggy(turn: Any, lesson_id: str, version: str, question_key: str, given: str) -> Any:
        if broken and same_key(question_key, broken):
            raise QuizBug(f"the answer handler of question {broken} is broken")
        return answer(turn, lesson_id, version, question_key, given)

    def noisy(turn: Any, event: Any) -> Any:
        if noise and random.random() < noise:
            raise TransientFault("a transient fault")
        return run(turn, event)

    quiz.answer = buggy
    dispatch.run = noisy
