"""Which learner a person means on the command line: `carol` is `console:carol` when only one fits.

Learner ids carry their platform (`telegram:123`, `console:carol`); people type the name they chat
under. An exact id wins; a bare name matches the ids that end in `:<name>`; otherwise the closest
ids are listed, so a typo is one step from the right command.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from .migrations import normalize_learner_id
from .transfer import UnknownLearnerError


class LearnerNotFound(UnknownLearnerError):
    """No learner, or more than one, fits what was typed; the message lists the candidates."""

    def __init__(self, typed: str, detail: str) -> None:
        super().__init__(typed)
        self.args = (f"export: {detail}",)

    def __str__(self) -> str:
        return str(self.args[0])


def resolve_learner(units: Callable[[], Any], typed: str) -> str:
    """The learner id `typed` names in the store; LearnerNotFound with the candidates otherwise."""
    wanted = normalize_learner_id(typed)
    with units() as uow:
        known = list(uow.progress.learner_ids())
    if wanted in known:
        return wanted
    if ":" not in typed:
        named = sorted(i for i in known if i.partition(":")[2] == typed.strip())
        if len(named) == 1:
            return named[0]
        if named:
            raise LearnerNotFound(typed, f"{typed!r} is ambiguous: {', '.join(named)}; give the full id")
    close = difflib.get_close_matches(wanted, known, n=3, cutoff=0.6)
    names = {i.partition(":")[2]: i for i in known}
    close += [
        names[n]
        for n in difflib.get_close_matches(typed.strip(), list(names), n=3, cutoff=0.6)
        if names[n] not in close
    ]
    hint = (
        f"; did you mean {', '.join(close)}?"
        if close
        else (f"; learners: {', '.join(sorted(known)[:10])}" if known else "; the store has no learners yet")
    )
    raise LearnerNotFound(typed, f"no learner {typed!r} in the progress store{hint}")
