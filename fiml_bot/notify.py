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

Delivery (`broadcast`, async, through a `NoticeSender`: `adapters/notify_sender.py` for Telegram):

* **At most once.** Each notice is recorded with `mark_processed("notify:<learner>:<lesson>:<version>")`
  in its own committed transaction *before* it is sent (record-then-send). A rerun skips every notice
  already recorded, so a crash mid-broadcast never messages anyone twice. The trade-off: a crash (or a
  non-retryable error such as a network timeout, where Telegram may or may not have delivered) between
  the commit and the send loses that one notice; the learner still sees the update on their next
  interaction (the tutor's in-chat notice), so losing a notice is cheap and a duplicate is not.
* **Pacing.** `fiml-bot notify` sends through the fleet's shared budget at broadcast priority
  (`adapters/rate_limiter.py`): at most the broadcast share of the token's rate, and only what the
  replicas' replies leave. `rate` adds a pacer of its own (`1/rate` seconds apart) on top, for a bot
  without that limiter. `RetryLater` (Telegram's 429 RetryAfter) that gets past the limiter is honoured: wait `retry_after`,
  then retry the same send (a 429 was not delivered, so retrying cannot duplicate).
* **Blocked learners.** `Blocked` (Telegram's 403 Forbidden) marks the learner inactive (`deactivate`,
  i.e. `Tutor.deactivate`) and skips their remaining notices in this run; inactive learners are never
  selected.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from fiml_cms import versions
from fiml_cms.errors import ContentError, FimlError
from fiml_cms.lesson import ChangelogEntry
from fiml_cms.tags import TagFormat
from fiml_cms.versions import Level

from .tutor.callbacks import Open, encode
from .tutor.messages import Button, Message
from .tutor.model import COMPLETED
from .tutor.ports import Content, UnitOfWork

if TYPE_CHECKING:
    from fiml_cms.config import Settings

    from .storage.facts import Snapshot

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

    @property
    def kind(self) -> str:
        """The `kind` label of `fiml_notices_total` (announcements and scheduled messages have theirs)."""
        return "update_notice"

    def message(self) -> Message:
        kind = "A new major version" if self.level is Level.MAJOR else "An update"
        lines = [f"🔄 {kind} of **{self.title}** is out: version {self.version} (you have {self.since})."]
        if self.changes:
            lines.append("\nWhat changed:")
            for entry in self.changes:
                lines.append(f"\n*{entry.version}* ({entry.date})")
                lines.extend(f"• {change}" for change in entry.changes)
        return Message("\n".join(lines), ((Button("📖 Open the lesson", encode(Open(self.lesson_id))),),))


# -- ports -------------------------------------------------------------------------------------


class ProgressStore(Protocol):
    """What notify needs of the progress store (`fiml_bot.storage.open_storage`): a unit of work to
    record each notice, and a read-only snapshot to select from."""

    def __call__(self) -> UnitOfWork: ...

    def reader(self) -> UnitOfWork: ...

    def snapshot(self) -> AbstractContextManager[Snapshot]: ...


class PublishedContent(Content, Protocol):
    """The content port, plus where its tags are (`LessonContent`): "published at REF" reads git."""

    @property
    def settings(self) -> Settings: ...


class NotDelivered(Exception):
    """A send that failed (recorded, so never retried: at most once); `code` is its metric label."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.code = code


class Blocked(NotDelivered):
    """The learner blocked the bot: they are marked inactive."""


class RetryLater(NotDelivered):
    """Rate-limited: nothing was delivered, so the same send is tried again after `seconds`."""

    def __init__(self, detail: str, code: str, seconds: float) -> None:
        super().__init__(detail, code)
        self.seconds = seconds


PartT = TypeVar("PartT")


class NoticeSender(Protocol[PartT]):
    """Sends a notice's message as one or more parts (Telegram: HTML chunks of at most 4096 characters);
    `send` raises `Blocked`, `RetryLater` or `NotDelivered`."""

    def parts(self, message: Message) -> Sequence[PartT]: ...

    async def send(self, chat_id: int, part: PartT) -> None: ...


# -- selection ---------------------------------------------------------------------------------


def published_at(root: Path, tag_format: str, ref: str) -> dict[str, str]:
    """lesson id -> the newest version whose tag points at a commit reachable from `ref`."""
    from fiml_cms.gitrepo import GitRepo

    fmt = TagFormat(tag_format)
    with GitRepo(root) as repo:
        commit = repo.rev_parse(ref)
        if commit is None:
            raise ContentError(f"unknown git ref {ref!r} in {root}")
        names = [tag.name for tag in repo.tags(fmt.prefix, merged_into=commit)]
    found: dict[str, str] = {}
    for name in names:
        parsed = fmt.parse(name)
        if parsed is None or not versions.is_valid(parsed.version):
            continue
        old = found.get(parsed.lesson_id)
        if old is None or versions.sort_key(parsed.version) > versions.sort_key(old):
            found[parsed.lesson_id] = parsed.version
    return found


def updates_since(content: PublishedContent, ref: str) -> dict[str, LessonUpdate]:
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


def select(store: ProgressStore, content: Content, updates: dict[str, LessonUpdate]) -> list[Notice]:
    """One notice per (active Telegram learner, updated lesson they started or finished).

    One set-based query in a read-only snapshot (`store.snapshot()`): a selection over 100,000
    learners never holds the write lock the running bot's actions need.
    """
    if not updates:
        return []
    catalogue = content.catalogue()
    asked = {old for lesson_id in updates for old in catalogue.former_ids(lesson_id)} | set(updates)
    texts: dict[tuple[str, str], tuple[str, tuple[ChangelogEntry, ...]] | None] = {}
    notices: list[Notice] = []
    with store.reader() as uow:  # `/settings`: learners who turned update notices off are not told
        quiet = uow.progress.opted_out("update_notices")
    with store.snapshot() as snapshot:
        for fact in snapshot.progress_on(asked, PREFIX):
            if fact.learner_id in quiet:
                continue
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
    content: Content, lesson_id: str, new: str, mine: str
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


def _record(store: ProgressStore, key: str) -> bool:
    """Commit `key` in its own transaction; False when an earlier run recorded it."""
    with store() as uow:
        fresh = uow.progress.mark_processed(key)
        uow.commit()
        return fresh


DEFAULT_LANES = 4  # notices in flight at once (one learner's notices stay in one lane, in order)


def lanes_of(notices: Iterable[Notice], lanes: int) -> list[list[Notice]]:
    """`notices` spread over `lanes` queues, each learner's in one queue (in order)."""
    queues: list[list[Notice]] = [[] for _ in range(max(1, lanes))]
    for notice in notices:
        queues[zlib.crc32(notice.learner_id.encode("utf-8")) % len(queues)].append(notice)
    return queues


@dataclass
class _Delivery:
    """One broadcast run: sends each notice's parts (honouring `RetryLater`), records, counts."""

    sender: NoticeSender[Any]
    store: ProgressStore
    deactivate: Callable[[str], None]
    pacer: Pacer | None
    max_retries: int
    metrics: Any
    record: Callable[[Any], bool] | None = None  # claims a notice before it is sent; default: its key
    report: Report = field(default_factory=Report)
    blocked: set[str] = field(default_factory=set)

    def count(self, notice: Notice, outcome: str, error: NotDelivered | None = None) -> None:
        if self.metrics is not None:
            if error is not None:
                self.metrics.telegram_error("sendMessage", error.code)
            self.metrics.notices.labels(notice.kind, outcome).inc()

    async def send(self, notice: Notice) -> None:
        for part in self.sender.parts(notice.message()):
            for attempt in range(self.max_retries + 1):
                if self.pacer is not None:
                    await self.pacer.wait()
                try:
                    await self.sender.send(notice.chat_id, part)
                    break
                except RetryLater as exc:
                    self.count(notice, "retried", exc)
                    if attempt == self.max_retries:
                        raise
                    log.warning("Telegram asks to wait %.0f s", exc.seconds)
                    self.report.retries += 1
                    if self.pacer is not None:
                        self.pacer.hold(exc.seconds)
                    else:
                        await asyncio.sleep(exc.seconds)

    async def lane(self, queue: list[Notice]) -> None:
        for notice in queue:
            if notice.learner_id in self.blocked:
                continue
            claim = self.record or (lambda n: _record(self.store, n.key))
            if not await asyncio.to_thread(claim, notice):
                self.report.already += 1
                continue
            try:
                await self.send(notice)
            except Blocked as exc:
                self.count(notice, "blocked", exc)
                log.info("learner %s blocked the bot; marking them inactive", notice.learner_id)
                self.blocked.add(notice.learner_id)
                self.report.blocked.append(notice.learner_id)
                await asyncio.to_thread(self.deactivate, notice.learner_id)
                continue
            except NotDelivered as exc:  # recorded but not delivered: at most once, never twice
                log.error("notice %s not delivered: %s", notice.key, exc)
                self.count(notice, "failed", exc)
                self.report.failed.append(notice.key)
                continue
            self.report.sent += 1
            self.count(notice, "sent")


async def broadcast(
    sender: NoticeSender[Any],
    store: ProgressStore,
    notices: Iterable[Notice],
    *,
    deactivate: Callable[[str], None],
    rate: float | None = DEFAULT_RATE,
    max_retries: int = 5,
    pacer: Pacer | None = None,
    lanes: int = DEFAULT_LANES,
    metrics: Any = None,
    record: Callable[[Any], bool] | None = None,
) -> Report:
    """Send `notices` through `sender`, each at most once (see the module notes).

    `rate=None`: no pacing of its own; the sender's rate limiter (the fleet's shared budget, broadcast
    priority) decides. `lanes` notices are in flight at once, so a round trip to the database and to
    Telegram per notice does not cap the rate below what the budget leaves; a learner's notices share
    one lane. `deactivate` marks a learner who blocked the bot inactive (`Tutor.deactivate`).
    `metrics` (fiml_bot.ops.metrics.BotMetrics) counts notices and send errors as they happen.
    `record` claims a notice before it is sent (False: already sent); by default its key is recorded
    as processed (`mark_processed`).
    """
    queues = lanes_of(notices, lanes)
    delivery = _Delivery(
        sender,
        store,
        deactivate,
        pacer or (Pacer(rate) if rate is not None else None),
        max_retries,
        metrics,
        record,
    )
    delivery.report.selected = sum(len(queue) for queue in queues)
    started = time.monotonic()
    await asyncio.gather(*(delivery.lane(queue) for queue in queues))
    delivery.report.seconds = time.monotonic() - started
    return delivery.report


async def notify(
    sender: NoticeSender[Any],
    content: PublishedContent,
    store: ProgressStore,
    ref: str,
    *,
    deactivate: Callable[[str], None],
    rate: float | None = DEFAULT_RATE,
    dry_run: bool = False,
) -> tuple[list[Notice], Report | None]:
    """Select the notices for updates since `ref` and (unless `dry_run`) send them."""
    notices = select(store, content, updates_since(content, ref))
    if dry_run:
        return notices, None
    return notices, await broadcast(sender, store, notices, deactivate=deactivate, rate=rate)
