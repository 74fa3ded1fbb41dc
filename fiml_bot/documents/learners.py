"""Which learner a person means on the command line: `carol` is `console:carol` when only one fits.

Learner ids carry their platform (`telegram:123`, `console:carol`); people type the name they chat
under. An exact id wins; a bare number is `telegram:<number>`; a bare name matches the ids that end
in `:<name>`, and a name two learners share is a usage error (exit 2) listing both. `progress
export` needs a learner the store has (otherwise the closest ids are listed, so a typo is one step
from the right command); `progress import --as` and `flags explain` may name a learner the store
does not have yet, and then a bare name is the id `fiml-bot chat --user NAME` uses (`console:NAME`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from .migrations import normalize_learner_id
from .transfer import UnknownLearnerError


class LearnerNotFound(UnknownLearnerError):
    """No learner fits what was typed; the message lists the candidates (exit 1)."""

    def __init__(self, typed: str, detail: str, command: str = "export") -> None:
        super().__init__(typed)
        self.args = (f"{command}: {detail}",)

    def __str__(self) -> str:
        return str(self.args[0])


class AmbiguousLearner(LearnerNotFound):
    """A bare name that more than one learner answers to: the command cannot guess (exit 2)."""

    exit_code = 2


CHAT_PLATFORM = "console"  # the platform of `fiml-bot chat --user NAME`


def known_learners(units: Callable[[], Any]) -> list[str]:
    with units() as uow:
        return list(uow.progress.learner_ids())


def resolve_learner(units: Callable[[], Any], typed: str, command: str = "export") -> str:
    """The learner id `typed` names in the store; LearnerNotFound with the candidates otherwise."""
    known = known_learners(units)
    found = _match(known, typed, command)
    if found is not None:
        return found
    wanted = normalize_learner_id(typed)
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
    raise LearnerNotFound(typed, f"no learner {typed!r} in the progress store{hint}", command)


def learner_reference(known: list[str], typed: str, command: str) -> str:
    """The id `typed` names, for a command that may name a learner the store does not have yet:
    a known learner as `resolve_learner` finds them, else a bare name is the terminal chat's id."""
    found = _match(known, typed, command)
    if found is not None:
        return found
    wanted = normalize_learner_id(typed)
    return wanted if ":" in wanted else f"{CHAT_PLATFORM}:{wanted}"


def _match(known: list[str], typed: str, command: str) -> str | None:
    wanted = normalize_learner_id(typed)
    if wanted in known:
        return wanted
    if ":" in typed:
        return None
    named = sorted(i for i in known if i.partition(":")[2] == typed.strip())
    if len(named) > 1:
        raise AmbiguousLearner(
            typed, f"{typed!r} is ambiguous: {', '.join(named)}; give the full id", command
        )
    return named[0] if named else None
