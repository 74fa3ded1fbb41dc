"""Issue 22, "canary state is content": a content canary is committed with the content and read at the
published commit, so a bot clone that only runs `git fetch` serves it to its share, never to everyone.

The reproduction: `tag L --canary 10` used to create the tag at once and leave `deploy/flags.json`
untracked; a fetch-only bot got the tag without the flag and served the canary to 12 of 12 learners.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fiml_bot.content import LessonContent
from fiml_bot.ops.canary import CanaryRollout, canary_share, in_cohort
from fiml_bot.ops.flags import FeatureFlags, FlagFileProvider
from fiml_bot.storage import MemoryStorage
from fiml_bot.tutor.callbacks import encode
from fiml_bot.tutor.engine import Tutor
from fiml_bot.tutor.events import Pressed
from fiml_cms.config import load_settings
from fiml_cms.flagfile import Canary
from testing.cli import cli
from testing.repo import commit_all, git, replace_in
from testing.tutor_driver import Clock, Learner, progress_of, xp_of

LESSON = "what_is_a_market"
LEARNERS = 2_000


def bump_lesson(root: Path) -> None:
    replace_in(
        root / f"content/lessons/{LESSON}.yaml",
        "sections:\n",
        "sections:\n  - id: warmup\n    type: text\n    title: Before we start\n    body: |\n      Markets are everywhere once you look for them.\n",
    )
    commit_all(root, "A warm-up section")
    assert (
        cli("bump", LESSON, "auto", "-m", "A warm-up section", "--date", "2026-12-01", "--commit").exit_code
        == 0
    )


def binomial_interval(n: int, p: float, confidence: float = 0.999) -> tuple[int, int]:
    """The central `confidence` interval of Binomial(n, p), from its exact distribution."""
    tail = (1 - confidence) / 2
    cdf, low, high = 0.0, None, n
    pmf = (1 - p) ** n
    for k in range(n + 1):
        cdf += pmf
        pmf *= (n - k) / (k + 1) * p / (1 - p)
        if low is None and cdf >= tail:
            low = k
        if cdf >= 1 - tail:
            high = k
            break
    assert low is not None
    return low, high


class FetchOnlyBot:
    """A bot on its own clone that never checks anything out: it only fetches (its `refresh`)."""

    def __init__(self, clone: Path) -> None:
        self.content = LessonContent.open(clone, load_settings(clone))
        self.flags = FeatureFlags(FlagFileProvider())  # no operator flag file at all
        self.tutor = Tutor(
            self.content,
            MemoryStorage(),  # type: ignore[arg-type]
            clock=Clock(),
            features=self.flags,
            rollout=CanaryRollout(self.flags, self.content.canaries),
        )

    def open_lesson(self, learner_id: str) -> str:
        Learner(self.tutor, learner_id).send(Pressed(encode("o", LESSON)))
        return progress_of(self.tutor, learner_id, LESSON).pinned_version


def finish(learner: Learner) -> None:
    learner.send(Pressed(encode("o", LESSON)))
    learner.read_to_quiz()
    for _ in range(30):
        if "Lesson complete" in learner.text:
            return
        learner.answer_current(correct=True)
    raise AssertionError(learner.text)


def test_a_fetch_only_clone_serves_the_canary_to_its_share_raises_add_and_zero_restarts_with_xp(
    published: Path, tmp_path: Path
) -> None:
    clone = tmp_path / "bot"
    git(tmp_path, "clone", "-q", str(published), str(clone))
    bot = FetchOnlyBot(clone)
    bump_lesson(published)
    out = cli("tag", LESSON, "--canary", "10")
    assert out.exit_code == 0, out.output
    # The flag is committed, and the tag is on the commit that holds it: they travel together.
    assert git(published, "status", "--porcelain") == ""
    assert git(published, "rev-parse", f"lesson/{LESSON}/v1.1.0^{{commit}}") == git(
        published, "rev-parse", "HEAD"
    )
    assert "deploy/flags.json" in git(published, "show", "--name-only", "--format=", "HEAD")
    assert cli("check", "--base", "HEAD~2").exit_code == 0  # the bump and the canary's commit pass the gate

    bot.content.refresh()  # `git fetch` only; the clone's work tree is never updated
    assert not (clone / "deploy/flags.json").exists()
    assert canary_share(bot.content.canaries(), LESSON) == 10
    ids = [f"telegram:{900_000 + i}" for i in range(LEARNERS)]
    served = {learner: bot.open_lesson(learner) for learner in ids}
    on_canary = {learner for learner, version in served.items() if version == "1.1.0"}
    assert set(served.values()) == {"1.0.0", "1.1.0"}
    low, high = binomial_interval(LEARNERS, 0.10)
    assert low <= len(on_canary) <= high, (len(on_canary), low, high)
    canary = Canary(LESSON, "1.1.0", "1.0.0", 10)
    assert on_canary == {learner for learner in ids if in_cohort(canary, learner)}

    # A share changed on an unmerged branch is not published: the bot keeps 10 %.
    git(published, "checkout", "-q", "-b", "raise-it")
    assert cli("canary", LESSON, "50").exit_code == 0
    bot.content.refresh()
    assert canary_share(bot.content.canaries(), LESSON) == 10
    git(published, "checkout", "-q", "main")

    # Raising the share only adds learners: everyone on the canary stays, newcomers join at 30 %.
    raised = cli("canary", LESSON, "30")
    assert raised.exit_code == 0, raised.output
    assert git(published, "status", "--porcelain") == ""
    bot.content.refresh()
    assert canary_share(bot.content.canaries(), LESSON) == 30
    for learner in sorted(on_canary)[:50]:
        assert bot.open_lesson(learner) == "1.1.0"
    newcomers = [f"telegram:{950_000 + i}" for i in range(400)]
    joined = {learner for learner in newcomers if bot.open_lesson(learner) == "1.1.0"}
    wider = Canary(LESSON, "1.1.0", "1.0.0", 30)
    assert joined == {learner for learner in newcomers if in_cohort(wider, learner)}
    assert {learner for learner in ids if in_cohort(canary, learner)} <= {
        learner for learner in ids if in_cohort(wider, learner)
    }

    # Canary learners earn XP; at 0 the canary is rolled back: they restart on 1.0.0 with XP kept.
    finishers = sorted(on_canary)[:3]
    for learner in finishers:
        finish(Learner(bot.tutor, learner))
    xp_before = {learner: xp_of(bot.tutor, learner) for learner in finishers}
    assert all(xp > 0 for xp in xp_before.values())
    mid_lesson = sorted(on_canary)[3:6]
    assert cli("canary", LESSON, "0").exit_code == 0
    bot.content.refresh()
    for learner in mid_lesson:
        someone = Learner(bot.tutor, learner)
        someone.send(Pressed(encode("o", LESSON)))
        assert "withdrawn" in someone.text
        assert progress_of(bot.tutor, learner, LESSON).pinned_version == "1.0.0"
    assert bot.open_lesson("telegram:999999") == "1.0.0"
    assert {learner: xp_of(bot.tutor, learner) for learner in finishers} == xp_before

    # Promoted (committed): the version is the plain latest for everyone.
    assert cli("canary", LESSON, "10").exit_code == 0
    assert cli("promote", LESSON).exit_code == 0
    assert git(published, "status", "--porcelain") == ""
    bot.content.refresh()
    assert canary_share(bot.content.canaries(), LESSON) is None
    assert bot.open_lesson("telegram:999998") == "1.1.0"


def test_canary_commands_refuse_while_the_flag_file_is_uncommitted(published: Path, tmp_path: Path) -> None:
    bump_lesson(published)
    flags = published / "deploy/flags.json"
    flags.parent.mkdir()
    flags.write_text('{"flags": {}}\n', encoding="utf-8")  # an operator's edit, not committed
    refused = cli("tag", LESSON, "--canary", "10")
    assert refused.exit_code == 1
    assert "deploy/flags.json has uncommitted changes" in refused.output
    assert git(published, "tag", "-l", f"lesson/{LESSON}/v1.1.0") == ""  # nothing was tagged
    commit_all(published, "Flag file")
    assert cli("tag", LESSON, "--canary", "10").exit_code == 0
    flags.write_text(
        flags.read_text(encoding="utf-8").replace('"defaultVariant": "off"', '"defaultVariant": "on"'),
        encoding="utf-8",
    )
    for args in (("canary", LESSON, "30"), ("promote", LESSON)):
        result = cli(*args)
        assert result.exit_code == 1 and "uncommitted changes" in result.output, args
    git(published, "checkout", "--", "deploy/flags.json")
    other = cli("canary", LESSON, "30", "--flags", "deploy/other.json")
    assert other.exit_code == 1 and "not the content's flag file" in other.output
    outside = tmp_path / "elsewhere.json"
    result = cli("canary", LESSON, "30", "--flags", str(outside))
    assert result.exit_code == 1 and "outside the content repository" in result.output
