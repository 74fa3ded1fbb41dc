"""Concurrent actions of one learner (two devices, two replicas) never pay twice or corrupt progress.

Threads share one store (each with its own connection); the process test runs separate interpreters,
as separate replicas would. PostgreSQL runs when FIML_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from fiml_bot.tutor.model import Learner, LessonProgress, XpAward
from fiml_bot.tutor.ports import ConcurrentUpdate

T = TypeVar("T")
THREADS = 8
LESSON = "reading_stock_prices"


def kind_of(request: pytest.FixtureRequest) -> str:
    return request.node.callspec.params["storage"]


def with_retries(storage, action: Callable[[object], T], attempts: int = 20) -> T:
    """Run `action(uow)` and commit, from the start again after each ConcurrentUpdate (as the tutor does)."""
    for _ in range(attempts):
        try:
            with storage() as uow:
                result = action(uow)
                uow.commit()
                return result
        except ConcurrentUpdate:
            continue
    raise AssertionError(f"no success in {attempts} attempts")


def run_threads(count: int, target: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            target(index)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    if errors:
        raise errors[0]


def setup_learner(storage) -> LessonProgress:
    with storage() as uow:
        uow.progress.save_learner(Learner(id="telegram:1"))
        progress = uow.progress.save_progress(LessonProgress("telegram:1", LESSON, "1.0.0"))
        uow.commit()
    return progress


def test_concurrent_awards_of_one_key_pay_once(storage, request: pytest.FixtureRequest) -> None:
    setup_learner(storage)
    # A SQLite unit of work takes the write lock as it begins: start them after the barrier.
    read_first = kind_of(request) != "sqlite"
    barrier = threading.Barrier(THREADS, timeout=30)
    paid: list[bool] = []

    def award(index: int) -> None:
        first = read_first
        if not read_first:
            barrier.wait()

        def action(uow) -> bool:
            nonlocal first
            if read_first:
                uow.progress.xp_total("telegram:1")  # the transaction is open before the race
            if first:
                first = False
                barrier.wait()
            shared = uow.progress.award_xp(
                XpAward("telegram:1", 100, "lesson completed", "complete:lesson@1.0.0")
            )
            assert uow.progress.award_xp(XpAward("telegram:1", 1, "answer", f"answer:{index}"))
            return shared

        paid.append(with_retries(storage, action))

    run_threads(THREADS, award)
    assert paid.count(True) == 1
    with storage() as uow:
        awards = uow.progress.xp_awards("telegram:1")
        assert uow.progress.xp_total("telegram:1") == 100 + THREADS
    assert [a.key for a in awards].count("complete:lesson@1.0.0") == 1
    assert len(awards) == 1 + THREADS


def test_two_saves_of_one_revision_one_wins_and_the_retry_succeeds(storage) -> None:
    progress = setup_learner(storage)
    barrier = threading.Barrier(2, timeout=30)
    outcomes: dict[str, str] = {}

    def device(name: str) -> None:
        with storage() as uow:
            seen = uow.progress.progress("telegram:1", LESSON)
        assert seen == progress
        barrier.wait()
        try:
            with storage() as uow:
                uow.progress.save_progress(
                    dataclasses.replace(seen, sections_done=seen.sections_done + (name,))
                )
                uow.commit()
            outcomes[name] = "saved"
        except ConcurrentUpdate:
            outcomes[name] = "refused"

            def retry(uow) -> None:  # read again, apply the action again
                fresh = uow.progress.progress("telegram:1", LESSON)
                uow.progress.save_progress(
                    dataclasses.replace(fresh, sections_done=fresh.sections_done + (name,))
                )

            with_retries(storage, retry)

    run_threads(2, lambda index: device(["phone", "laptop"][index]))
    assert sorted(outcomes.values()) == ["refused", "saved"]
    with storage() as uow:
        final = uow.progress.progress("telegram:1", LESSON)
    assert final.revision == 3
    assert sorted(final.sections_done) == ["laptop", "phone"]


def test_a_second_writer_waits_for_the_first_and_then_is_refused(
    storage, request: pytest.FixtureRequest
) -> None:
    """On SQL databases the second save blocks on the first's lock, then finds the revision moved on."""
    progress = setup_learner(storage)
    first_saved = threading.Event()
    second_started = threading.Event()
    first_committing = threading.Event()
    hold = 0.3
    result: dict[str, object] = {}

    def first(_: int) -> None:
        with storage() as uow:
            uow.progress.save_progress(dataclasses.replace(progress, current_section="first"))
            first_saved.set()
            assert second_started.wait(10)
            time.sleep(hold)
            first_committing.set()  # set before the commit that releases the lock the second waits on
            uow.commit()

    def second(_: int) -> None:
        assert first_saved.wait(10)
        try:
            second_started.set()  # a SQLite unit of work already waits as it begins
            with storage() as uow:
                uow.progress.save_progress(dataclasses.replace(progress, current_section="second"))
                uow.commit()
            result["outcome"] = "saved"
        except ConcurrentUpdate:
            result["outcome"] = "refused"
        result["after_first_commit"] = first_committing.is_set()

    run_threads(2, lambda index: (first, second)[index](index))
    assert result["outcome"] == "refused"
    if kind_of(request) != "memory":  # the memory store does not block: it refuses at commit
        assert result["after_first_commit"] is True  # it waited for the first's commit
    with storage() as uow:
        final = uow.progress.progress("telegram:1", LESSON)
    assert (final.current_section, final.revision) == ("first", 2)


def _replica(url: str, index: int, barrier, results) -> None:
    """One process: open the store, wait for the others, pay the shared key and its own key."""
    from fiml_bot.storage.unit_of_work import open_storage

    with open_storage(url) as storage:
        barrier.wait()

        def action(uow) -> bool:
            shared = uow.progress.award_xp(
                XpAward("telegram:1", 100, "lesson completed", "complete:lesson@1.0.0")
            )
            uow.progress.award_xp(XpAward("telegram:1", 1, "answer", f"answer:{index}"))
            return shared

        results.put(with_retries(storage, action))


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_replicas_in_separate_processes_pay_a_key_once(database_url: str) -> None:
    from fiml_bot.storage.migrations_api import upgrade
    from fiml_bot.storage.unit_of_work import open_storage

    upgrade(database_url)
    with open_storage(database_url) as storage:
        setup_learner(storage)
    context = multiprocessing.get_context("spawn")
    replicas = 4
    barrier = context.Barrier(replicas, timeout=60)
    results = context.Queue()
    processes = [
        context.Process(target=_replica, args=(database_url, index, barrier, results))
        for index in range(replicas)
    ]
    for process in processes:
        process.start()
    paid = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert paid.count(True) == 1
    with open_storage(database_url) as storage, storage() as uow:
        assert uow.progress.xp_total("telegram:1") == 100 + replicas
        assert len(uow.progress.xp_awards("telegram:1")) == 1 + replicas
