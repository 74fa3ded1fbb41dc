"""Update notices: `fiml-bot notify --since REF` tells Telegram learners about lesson updates.

Selection (pure, no Telegram):

* **What changed since REF.** Tags are not versioned, so "published since REF" is read from the
  commit graph: a lesson's *base* version is the newest published version whose tag points at a
  commit reachable from REF (`git tag --merged REF`); its *new* version is its newest published
  version now. A lesson qualifies when new is a MAJOR or MINOR step above base (patch-only updates
  are silent). A lesson with no version reachable from REF (published after REF) is new, not updated,
  and is skipped.
* **Who hears about it.** Every active learner `telegram:<id>` with progress (in progress, quiz or
  completed) on a qualifying lesson, whose own version (the tutor's rule: seen, else completed, else
  pinned) is also a MAJOR or MINOR step below the new version: a learner who already moved to it, or
  to a minor version just below a patch, is not told again. The message lists the changelog entries
  since the learner's version and has an "Open the lesson" button (`callbacks.Open`).

Delivery (`broadcast`, async, through a `telegram.Bot`):

* **At most once.** Each notice is recorded with `mark_processed("notify:<learner>:<lesson>:<version>")`
  in its own committed transaction *before* it is sent (record-then-send). A rerun skips every notice
  already recorded, so a crash mid-broadcast never messages anyone twice. The trade-off: a crash (or a
  non-retryable error such as a network timeout, where Telegram may or may not have delivered) between
  the commit and the send loses that one notice; the learner still sees the update on their next
  interaction (the tutor's in-chat notice), so losing a notice is cheap and a duplicate is not.
* **Pacing.** `fiml-bot notify` sends through the fleet's shared budget at broadcast priority
  (`adapters/rate_limiter.py`): at most the broadcast share of the token's rate, and only what the
  replicas' replies leave. `rate` adds a pacer of its own (`1/rate` seconds apart) on top, for a bot
  without that limiter. `RetryAfter` (429) that gets past the limiter is honoured: wait `retry_after`,
  then retry the same send (a 429 was not delivered, so retrying cannot duplicate).
* **Blocked learners.** `Forbidden` (403) marks the learner inactive (`Tutor.deactivate`) and skips
  their remaining notices in this run; inactive learners are never selected.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fiml_cms import versions
from fiml_cms.errors import ContentError, FimlError
from fiml_cms.lesson import ChangelogEntry
from fiml_cms.tags import TagFormat
from fiml_cms.versions import Level

from .tutor.callbacks import Open, encode
from .tutor.messages import Button, Message
from .tutor.model import COMPLETED

if TYPE_CHECKING:
    from telegram import Bot

    from .content import LessonContent
    from .tutor.engine import Tutor

log = logging.getLogger("fiml_bot.notify")

PREFIX = "telegram:"
DEFAULT_RATE = 25.0


@dataclass(frozen=True)
class LessonUpdate:
    lesson_id: str
    base: str  # newest version published at REF
    new: str  # newest version published now
    level: Level


@dataclass(frozen=True)
class Notice:
    learner_id: str
    chat_id: int
    lesson_id: str
    title: str
    version: str  # the new version
    since: str  # the learner's version
    level: Level
    changes: tuple[ChangelogEntry, ...] = ()
    status: str = ""

    @property
    def key(self) -> str:
        return f"notify:{self.learner_id}:{self.lesson_id}:{self.version}"

    def message(self) -> Message:
        kind = "A new major version" if self.level is Level.MAJOR else "An update"
        lines = [f"🔄 {kind} of **{self.title}** is out: version {self.version} (you have {self.since})."]
        if self.changes:
            lines.append("\nWhat changed:")
            for entry in self.changes:
                lines.append(f"\n*{entry.version}* ({entry.date})")
                lines.extend(f"• {change}" for change in entry.changes)
        return Message("\n".join(lines), ((Button("📖 Open the lesson", encode(Open(self.lesson_id))),),))


# -- selection ---------------------------------------------------------------------------------


def published_at(root: Path, tag_format: str, ref: str) -> dict[str, str]:
    """lesson id -> the newest version whose tag points at a commit reachable from `ref`."""
    fmt = TagFormat(tag_format)
    git = ["git", "-C", str(root)]
    check = subprocess.run(
        [*git, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}"],
        check=False,
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        raise ContentError(f"unknown git ref {ref!r} in {root}")
    out = subprocess.run(
        [*git, "tag", "--merged", check.stdout.strip(), "--list", f"{fmt.prefix}*"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found: dict[str, str] = {}
    for name in out.split():
        parsed = fmt.parse(name)
        if parsed is None or not versions.is_valid(parsed.version):
            continue
        old = found.get(parsed.lesson_id)
        if old is None or versions.sort_key(parsed.version) > versions.sort_key(old):
            found[parsed.lesson_id] = parsed.version
    return found


def updates_since(content: LessonContent, ref: str) -> dict[str, LessonUpdate]:
    """The lessons whose newest version is a MAJOR or MINOR step above their version at `ref`."""
    base = published_at(content.settings.root, content.settings.tag_format, ref)
    found: dict[str, LessonUpdate] = {}
    for lesson_id in content.lesson_ids():
        old = base.get(lesson_id)
        ordered = content.versions(lesson_id)
        if old is None or not ordered:
            continue
        new = ordered[-1]
        level = versions.level_between(old, new)
        if level >= Level.MINOR:
            found[lesson_id] = LessonUpdate(lesson_id, old, new, level)
    return found


def select(tutor: Tutor, updates: dict[str, LessonUpdate]) -> list[Notice]:
    """One notice per (active Telegram learner, updated lesson they started or finished).

    One set-based query in a read-only snapshot (`storage.snapshot()`): a selection over 100,000
    learners never holds the write lock the running bot's actions need.
    """
    if not updates:
        return []
    content = tutor.content
    catalogue = content.catalogue()
    asked = {old for lesson_id in updates for old in catalogue.former_ids(lesson_id)} | set(updates)
    texts: dict[tuple[str, str], tuple[str, tuple[ChangelogEntry, ...]] | None] = {}
    notices: list[Notice] = []
    with tutor.unit_of_work.snapshot() as snapshot:  # type: ignore[attr-defined]
        for fact in snapshot.progress_on(asked, PREFIX):
            try:
                chat_id = int(fact.learner_id[len(PREFIX) :])
            except ValueError:
                continue
            lesson_id = content.current_id(fact.lesson_id) or fact.lesson_id
            update = updates.get(lesson_id)
            if update is None:
                continue
            mine = (
                (fact.seen_version or fact.completed_version or fact.pinned_version)
                if fact.status == COMPLETED
                else fact.pinned_version
            )
            if not versions.is_valid(mine) or versions.level_between(mine, update.new) < Level.MINOR:
                continue
            key = (lesson_id, mine)
            if key not in texts:
                texts[key] = _notice_text(content, lesson_id, update.new, mine)
            text = texts[key]
            if text is None:
                continue
            title, changes = text
            notices.append(
                Notice(
                    fact.learner_id,
                    chat_id,
                    lesson_id,
                    title,
                    update.new,
                    mine,
                    versions.level_between(mine, update.new),
                    changes,
                    fact.status,
                )
            )
    return notices


def _notice_text(
    content: LessonContent, lesson_id: str, new: str, mine: str
) -> tuple[str, tuple[ChangelogEntry, ...]] | None:
    """The title of `new` and the changelog since `mine`; None (logged) when the lesson cannot be read."""
    try:
        return content.get(lesson_id, new).title, tuple(content.changelog_since(lesson_id, mine))
    except FimlError as exc:
        log.error("lesson %s@%s cannot be read (%s): no notice", lesson_id, new, exc)
        return None


# -- delivery ----------------------------------------------------------------------------------


class Pacer:
    """Spaces calls `1/rate` seconds apart (no bursts): a leaky bucket of one."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self._next: float | None = None

    async def wait(self) -> None:
        now = self.clock()
        if self._next is None or self._next < now:
            self._next = now
        delay = self._next - now
        self._next += self.interval
        if delay > 0:
            await self.sleep(delay)

    def hold(self, seconds: float) -> None:
        """After a 429: nothing before `seconds` from now."""
        self._next = max(self._next or 0.0, self.clock() + seconds)


PAID_STARS_PER_MESSAGE = 0.1  # Telegram's fee per message sent with allow_paid_broadcast


def paid_cost(notices: Iterable[Notice]) -> tuple[int, float]:
    """(messages, Telegram Stars at most) of sending `notices` as a paid broadcast (long texts split)."""
    from .adapters.telegram import split_html, to_html

    messages = sum(len(split_html(to_html(notice.message().text))) for notice in notices)
    return messages, round(messages * PAID_STARS_PER_MESSAGE, 1)


@dataclass
class Report:
    selected: int = 0
    sent: int = 0
    already: int = 0  # recorded by an earlier run
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # recorded but not delivered (at most once)
    retries: int = 0  # 429s honoured
    seconds: float = 0.0

    def summary(self) -> str:
        rate = self.sent / self.seconds if self.seconds > 0 else 0.0
        return (
            f"{self.selected} notice(s) selected: {self.sent} sent, {self.already} already sent earlier, "
            f"{len(self.blocked)} learner(s) blocked the bot (now inactive), {len(self.failed)} failed, "
            f"{self.retries} rate-limit retries; {self.seconds:.1f} s ({rate:.1f} messages/s)"
        )


def _record(tutor: Tutor, key: str) -> bool:
    """Commit `key` in its own transaction; False when an earlier run recorded it."""
    with tutor.unit_of_work() as uow:
        fresh = uow.progress.mark_processed(key)
        uow.commit()
        return fresh


DEFAULT_LANES = 4  # notices in flight at once (one learner's notices stay in one lane, in order)


async def broadcast(
    bot: Bot,
    tutor: Tutor,
    notices: Iterable[Notice],
    *,
    rate: float | None = DEFAULT_RATE,
    max_retries: int = 5,
    pacer: Pacer | None = None,
    paid: bool = False,
    lanes: int = DEFAULT_LANES,
    metrics: Any = None,
) -> Report:
    """Send `notices` through `bot`, each at most once (see the module notes).

    `rate=None`: no pacing of its own; the bot's rate limiter (the fleet's shared budget, broadcast
    priority) decides. `paid`: sends with `allow_paid_broadcast` (Telegram bills 0.1 Stars each).
    `lanes` notices are in flight at once, so a round trip to the database and to Telegram per notice
    does not cap the rate below what the budget leaves; a learner's notices share one lane.
    `metrics` (fiml_bot.ops.metrics.BotMetrics) counts notices and Bot API errors as they happen.
    """
    from telegram.constants import ParseMode
    from telegram.error import Forbidden, RetryAfter, TelegramError

    from .adapters.rate_limiter import retry_seconds
    from .adapters.telegram import error_code, keyboard, split_html, to_html

    def count(outcome: str, error: TelegramError | None = None) -> None:
        if metrics is not None:
            if error is not None:
                metrics.telegram_error("sendMessage", error_code(error))
            metrics.notices.labels(outcome).inc()

    pacer = pacer or (Pacer(rate) if rate is not None else None)
    paid_kwargs = {"allow_paid_broadcast": True} if paid else {}
    report = Report()
    blocked: set[str] = set()
    queues: list[list[Notice]] = [[] for _ in range(max(1, lanes))]
    for notice in notices:
        report.selected += 1
        queues[zlib.crc32(notice.learner_id.encode("utf-8")) % len(queues)].append(notice)

    async def send(notice: Notice) -> None:
        message = notice.message()
        chunks = split_html(to_html(message.text))
        for i, chunk in enumerate(chunks):
            markup = keyboard(message) if i == len(chunks) - 1 else None
            for attempt in range(max_retries + 1):
                if pacer is not None:
                    await pacer.wait()
                try:
                    await bot.send_message(
                        notice.chat_id, chunk, parse_mode=ParseMode.HTML, reply_markup=markup, **paid_kwargs
                    )
                    break
                except RetryAfter as exc:
                    count("retried", exc)
                    if attempt == max_retries:
                        raise
                    wait = retry_seconds(exc)
                    log.warning("Telegram asks to wait %.0f s", wait)
                    report.retries += 1
                    if pacer is not None:
                        pacer.hold(wait)
                    else:
                        await asyncio.sleep(wait)

    async def lane(queue: list[Notice]) -> None:
        for notice in queue:
            if notice.learner_id in blocked:
                continue
            if not await asyncio.to_thread(_record, tutor, notice.key):
                report.already += 1
                continue
            try:
                await send(notice)
            except Forbidden as exc:
                count("blocked", exc)
                log.info("learner %s blocked the bot; marking them inactive", notice.learner_id)
                blocked.add(notice.learner_id)
                report.blocked.append(notice.learner_id)
                await asyncio.to_thread(tutor.deactivate, notice.learner_id)
                continue
            except TelegramError as exc:  # recorded but not delivered: at most once, never twice
                log.error("notice %s not delivered: %s", notice.key, exc)
                count("failed", exc)
                report.failed.append(notice.key)
                continue
            report.sent += 1
            count("sent")

    started = time.monotonic()
    await asyncio.gather(*(lane(queue) for queue in queues))
    report.seconds = time.monotonic() - started
    return report


async def notify(
    bot: Bot, tutor: Tutor, ref: str, *, rate: float | None = DEFAULT_RATE, dry_run: bool = False
) -> tuple[list[Notice], Report | None]:
    """Select the notices for updates since `ref` and (unless `dry_run`) send them."""
    notices = select(tutor, updates_since(tutor.content, ref))  # type: ignore[arg-type]
    if dry_run:
        return notices, None
    return notices, await broadcast(bot, tutor, notices, rate=rate)
