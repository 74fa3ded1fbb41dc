"""Learners earning XP, completions and badges through the progress store, and the tally the restore
tests compare before and after (a restore must never leave a learner with less of any)."""

from __future__ import annotations

import datetime as dt

from fiml_bot.storage.unit_of_work import open_storage
from fiml_bot.tutor.model import BadgeAward, Completion, Learner, XpAward

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def earn(
    url: str, who: str, key: str, amount: int, complete: str | None = None, badge: str = "first_steps"
) -> None:
    """One learner action: XP under `key`, a completion of `complete` and a badge (one transaction)."""
    with open_storage(url) as storage, storage() as uow:
        if uow.progress.learner(who) is None:
            uow.progress.save_learner(Learner(id=who, name=who))
        uow.progress.award_xp(XpAward(who, amount, "lesson completed", key, complete, "1.0.0", T0))
        if complete is not None:
            at = T0 + dt.timedelta(seconds=len(key) + amount)
            uow.progress.add_completion(Completion(who, complete, "1.0.0", 1, 3, 3, amount, at))
            uow.progress.award_badge(BadgeAward(who, badge, T0))
        uow.commit()


def tally(url: str) -> dict[str, tuple[int, int, int]]:
    """learner -> (XP, completions, badges)."""
    with open_storage(url) as storage, storage() as uow:
        return {
            who: (
                uow.progress.xp_total(who),
                len(uow.progress.completions(who)),
                len(uow.progress.badges(who)),
            )
            for who in uow.progress.learner_ids()
        }


def losses(before: dict[str, tuple[int, int, int]], after: dict[str, tuple[int, int, int]]) -> list[str]:
    """Every learner who has less of anything after than before (empty: nothing was lost)."""
    lost = []
    for who, (xp, done, badges) in before.items():
        now = after.get(who)
        if now is None:
            lost.append(f"{who} is gone")
        elif now[0] < xp or now[1] < done or now[2] < badges:
            lost.append(f"{who}: {(xp, done, badges)} -> {now}")
    return lost
