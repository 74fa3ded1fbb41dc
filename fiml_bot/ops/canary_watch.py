"""`fiml-bot canary watch|status`: judge a running content canary by what its learners learn, and act.

One check reads the canary from the flag file, the two sides' facts from the progress store
(`storage/canary_facts.py`), and judges them (`canary_stats.py`). When the canary is worse it is
rolled back to 0 % with fiml-cms's own `canary LESSON 0` (the bot then restarts its learners on the
stable version, keeping their XP); when it is not worse with enough learners it is promoted with
`fiml-cms promote`, if the watcher was allowed to (`--promote`), else the verdict says so.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fiml_cms.flagfile import Canary

from ..storage.canary_facts import SideFacts, side_facts, window_start
from ..storage.unit_of_work import Storage
from . import canary_stats
from .canary_stats import PROMOTE, ROLLBACK, Outcome, Settings, Verdict

DEFAULT_ABANDON_AFTER = dt.timedelta(hours=24)
DEFAULT_SETTINGS = Settings()


@dataclass(frozen=True)
class Check:
    """One look at a canary: what was compared, and what was done about it."""

    canary: Canary
    verdict: Verdict
    done: str | None = None  # "rolled back ..." / "promoted ..." when the watcher acted

    def as_json(self) -> dict[str, Any]:
        """The look as plain values (`canary status --json`)."""
        return {"canary": asdict(self.canary), "verdict": asdict(self.verdict), "done": self.done}

    def render(self) -> str:
        c = self.canary
        head = f"canary {c.lesson} {c.version} at {c.percent} % of new starts (stable {c.stable})"
        lines = [head, canary_stats.render(self.verdict, c.version, c.stable)]
        if self.done:
            lines.append(self.done)
        return "\n".join(lines)


def outcomes(canary: SideFacts, stable: SideFacts) -> list[Outcome]:
    """What is compared: each shared question's first answers, completions, abandons, reports."""
    compared = []
    for question in sorted(canary.questions):
        c_n, c_ok = canary.questions[question]
        s_n, s_ok = stable.questions.get(question, (0, 0))
        kinds = tuple(sorted(canary_stats.blocks(canary.sequence.get(question, [])).items()))
        compared.append(
            Outcome(f"first answers {question}", c_n - c_ok, c_n, s_n - s_ok, s_n, "correct", kinds)
        )
    compared += [
        Outcome(
            "completion",
            canary.learners - canary.completed,
            canary.learners,
            stable.learners - stable.completed,
            stable.learners,
            "completed",
        ),
        Outcome("abandoned", canary.abandoned, canary.learners, stable.abandoned, stable.learners),
        Outcome("reported a problem", canary.reporters, canary.learners, stable.reporters, stable.learners),
    ]
    return compared


def assess(
    storage: Storage,
    canary: Canary,
    now: dt.datetime,
    settings: Settings = DEFAULT_SETTINGS,
    abandon_after: dt.timedelta = DEFAULT_ABANDON_AFTER,
) -> Verdict:
    """The canary against the stable version, on the learners who started since the canary began."""
    since = window_start(storage.engine, storage.where, canary.lesson, canary.version)
    if since is None:
        empty = [SideFacts(canary.version), SideFacts(canary.stable)]
        return canary_stats.judge(outcomes(*empty), settings, 0, 0)
    facts = side_facts(
        storage.engine,
        storage.where,
        canary.lesson,
        (canary.version, canary.stable),
        since,
        now,
        abandon_after,
    )
    side, stable = facts[canary.version], facts[canary.stable]
    return canary_stats.judge(outcomes(side, stable), settings, side.learners, stable.learners)


class CanaryWatch:
    """Checks one lesson's canary, and rolls it back (or promotes it, when allowed) on the verdict."""

    def __init__(
        self,
        storage: Storage,
        lesson_id: str,
        flags: Path,
        content_root: Path,
        *,
        settings: Settings = DEFAULT_SETTINGS,
        abandon_after: dt.timedelta = DEFAULT_ABANDON_AFTER,
        promote: bool = False,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.storage = storage
        self.lesson_id = lesson_id
        self.flags = flags
        self.content_root = content_root
        self.settings = settings
        self.abandon_after = abandon_after
        self.promote = promote
        self.clock = clock

    def running(self) -> Canary | None:
        """The lesson's canary in the flag file, None when there is none."""
        from .flags import read_file

        return read_file(self.flags).canaries().get(self.lesson_id)

    def check(self, act: bool = True) -> Check:
        """One look; with `act`, roll back or promote on the verdict. ContentError (1) or MissingInput (2) without a canary."""
        from .canary_missing import no_canary
        from .flags import read_file

        canaries = read_file(self.flags).canaries()
        canary = canaries.get(self.lesson_id)
        if canary is None:
            raise no_canary(self.lesson_id, self.flags, self.content_root, canaries)
        verdict = assess(self.storage, canary, self.clock(), self.settings, self.abandon_after)
        if not act or canary.percent == 0:
            return Check(canary, verdict)
        if verdict.action == ROLLBACK:
            return Check(canary, verdict, self._roll_back(canary))
        if verdict.action == PROMOTE and self.promote:
            return Check(canary, verdict, self._promote(canary))
        return Check(canary, verdict)

    def run(
        self,
        interval: float,
        max_checks: int | None,
        echo: Callable[[Check], None],
        sleep: Callable[[float], None] = time.sleep,
    ) -> Check:
        """Check every `interval` seconds until the canary is rolled back, promoted or gone (or
        `max_checks` looks); the last check."""
        checks = 0
        while True:
            result = self.check()
            checks += 1
            echo(result)
            ended = result.done is not None or result.canary.percent == 0
            if ended or (max_checks is not None and checks >= max_checks):
                return result
            sleep(interval)

    def _workspace(self) -> object:
        from fiml_cms.workspace import Workspace

        return Workspace.open(self.content_root)

    def _roll_back(self, canary: Canary) -> str:
        from fiml_cms.commands.canary import set_share

        set_share(self._workspace(), canary.lesson, 0, self.flags)  # type: ignore[arg-type]
        return (
            f"rolled back: {canary.lesson} {canary.version} {canary.percent} % -> 0 %; its learners "
            f"restart on {canary.stable}, keeping their XP"
        )

    def _promote(self, canary: Canary) -> str:
        from fiml_cms.commands.canary import promote

        promote(self._workspace(), canary.lesson, self.flags)  # type: ignore[arg-type]
        return f"promoted: {canary.lesson} {canary.version} is the latest for everyone"
