"""The tutor: one learner action in, messages out, inside one unit of work.

`Tutor.handle` opens a transaction, applies the event (the version policy first, then the
action), commits, and returns what to say. A concurrent save of the same learner (another
device or replica) makes the whole action run again on fresh data; an XP award carries an
idempotency key, so a repeated or replayed action never pays twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import replace

from fiml_cms.errors import FimlError

from . import dispatch, rescoring
from .events import Event
from .features import Features, NoFeatures, Rollout
from .messages import Message
from .observe import FAILED, ActionEvents, CountingRepository, NoObserver, Observer
from .policy import PolicySettings
from .ports import (
    ConcurrentUpdate,
    Content,
    ProgressRepository,
    StorageUnavailable,
    UnitOfWork,
    UnitOfWorkFactory,
)
from .questions import parse_number as parse_number  # where tests and benches import it
from .rescoring import Credit, Rescored
from .screens import HOME
from .turn import ContentMayBeNewer, LessonUpdating, Turn

log = logging.getLogger("fiml_bot.tutor")

RETRIES = 5
STORAGE_DOWN = "I can't reach my records right now, so nothing was changed and nothing is lost. Please try again in a minute."
UPDATING = "⏳ This lesson is being updated, try again in a moment. Nothing was changed and nothing is lost."


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Tutor:
    def __init__(
        self,
        content: Content,
        unit_of_work: UnitOfWorkFactory,
        *,
        policy: PolicySettings = PolicySettings(),
        clock: Callable[[], dt.datetime] = utc_now,
        observer: Observer | None = None,
        features: Features | None = None,
        rollout: Rollout | None = None,
    ) -> None:
        self.content = content
        self.unit_of_work = unit_of_work
        self.policy = policy
        self.clock = clock
        self.observer: Observer = observer or NoObserver()
        self.features: Features = features or NoFeatures()
        self.rollout = rollout

    def handle(
        self,
        learner_id: str,
        event: Event,
        *,
        event_key: str | None = None,
        name: str = "",
        raise_unavailable: bool = False,
        language: str = "",
        raise_unexpected: bool = False,
    ) -> list[Message]:
        """Apply `event` for `learner_id` in one transaction; `event_key` makes it apply at most once.

        With the database unavailable nothing was applied: the learner is told so, or, with
        `raise_unavailable`, the caller gets `StorageUnavailable` (a webhook then answers 500, and
        Telegram delivers the update again later). `raise_unexpected` does the same for a bug (the
        canary of a release: the update goes to the old color after the rollback, no apology sent).
        """
        return self.handle_reporting(
            learner_id,
            event,
            event_key=event_key,
            name=name,
            raise_unavailable=raise_unavailable,
            language=language,
            raise_unexpected=raise_unexpected,
        )[0]

    def handle_reporting(
        self,
        learner_id: str,
        event: Event,
        *,
        event_key: str | None = None,
        name: str = "",
        raise_unavailable: bool = False,
        language: str = "",
        raise_unexpected: bool = False,
    ) -> tuple[list[Message], str]:
        """`handle`, plus the action's outcome (ok, user_error or failed), reported to the observer too."""
        failed = ActionEvents(outcome=FAILED)
        refreshed = False
        for _ in range(RETRIES):
            try:
                with self.unit_of_work() as uow:
                    if event_key is not None and not uow.progress.mark_processed(event_key):
                        log.info("event %s for %s was already applied; ignored", event_key, learner_id)
                        return [], "ok"
                    turn = self._turn(uow, learner_id, name, refreshed)
                    turn.language = language
                    messages = dispatch.run(turn, event)
                    uow.commit()
                self.observer.action_done(turn.events)
                return messages, turn.events.outcome
            except ConcurrentUpdate:
                log.info("concurrent update for %s; retrying the action", learner_id)
            except ContentMayBeNewer as exc:  # outside the transaction: a refresh never holds a write lock
                refreshed = True
                self._refresh_content(exc)
            except LessonUpdating as exc:
                log.warning(
                    "learner %s: %s is not known on this replica even after a refresh; nothing changed",
                    learner_id,
                    exc,
                )
                self.observer.action_done(ActionEvents())  # handled: the learner is asked to try again
                return [Message(UPDATING, HOME)], "ok"
            except StorageUnavailable as exc:
                log.error("storage unavailable for %s: %s", learner_id, exc)
                self.observer.storage_error()
                self.observer.action_done(failed)
                if raise_unavailable:
                    raise
                return [Message(STORAGE_DOWN)], FAILED
            except Exception:  # a bug must cost one reply, not the bot; the transaction was rolled back
                log.exception("unexpected error handling %r for %s", event, learner_id)
                self.observer.action_done(failed)
                if raise_unexpected:
                    raise
                return [
                    Message(
                        "Something went wrong on my side, and nothing was changed. Please try again.", HOME
                    )
                ], FAILED
        log.error("gave up on an action of %s after %d concurrent updates", learner_id, RETRIES)
        self.observer.action_done(failed)
        return [Message("Lots is happening on your account at once; please try that again.")], FAILED

    def _turn(self, uow: UnitOfWork, learner_id: str, name: str, refreshed: bool) -> Turn:
        """One action's state; its repository counts the XP actually paid, for the observer."""
        events = ActionEvents()
        repo = CountingRepository(uow.progress, events)
        content = self.content_for(learner_id, repo)
        return Turn(
            content, repo, learner_id, name, self.clock(), self.policy, self.features, events, refreshed
        )

    def content_for(self, learner_id: str, progress: ProgressRepository) -> Content:
        """The content as this learner is served it: a running content canary may pick other versions."""
        return self.content if self.rollout is None else self.rollout.view(self.content, learner_id, progress)

    def _refresh_content(self, reason: Exception) -> None:
        log.info("refreshing the content before running the action again: %s", reason)
        try:
            self.content.refresh()
        except FimlError as exc:  # the refresh re-indexed what it could; the action runs again either way
            log.warning("content refresh failed: %s", exc)

    def rescore(self, lesson_id: str, *, dry_run: bool = False) -> list[Rescored]:
        """Credit every learner whose answer the lesson's newest key marks right (see `rescoring`):
        one transaction per learner; with `dry_run` each is rolled back, so it reports without paying."""
        with self.unit_of_work() as uow:
            answers = uow.progress.lesson_answers(lesson_id)
        found: dict[str, list[Credit]] = {}
        for credit in rescoring.credits(self.content, lesson_id, answers):
            found.setdefault(credit.learner_id, []).append(credit)
        done = []
        for learner_id, learner_credits in found.items():
            for _ in range(RETRIES):
                try:
                    with self.unit_of_work() as uow:
                        turn = self._turn(uow, learner_id, "", False)
                        learner = uow.progress.learner(learner_id)
                        if learner is None:  # pragma: no cover - answers belong to a learner
                            break
                        turn.learner = learner
                        done.append(rescoring.apply(turn, learner_credits))
                        if not dry_run:
                            uow.commit()
                    break
                except ConcurrentUpdate:
                    log.info("concurrent update for %s while re-scoring; trying again", learner_id)
        return done

    def deactivate(self, learner_id: str) -> None:
        """The platform says the learner blocked the bot: skip them until they write again."""
        for _ in range(RETRIES):
            try:
                with self.unit_of_work() as uow:
                    learner = uow.progress.learner(learner_id)
                    if learner is not None and learner.active:
                        uow.progress.save_learner(replace(learner, active=False))
                    uow.commit()
                    return
            except ConcurrentUpdate:
                continue
            except StorageUnavailable as exc:
                log.error("could not mark %s inactive: %s", learner_id, exc)
                return
