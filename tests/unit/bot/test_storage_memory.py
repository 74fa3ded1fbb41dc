"""What only the in-memory store needs to show: its record claims behave like row locks."""

from __future__ import annotations

import dataclasses

import pytest

from fiml_bot.storage.memory import MemoryStorage
from fiml_bot.tutor.model import Learner
from fiml_bot.tutor.ports import ConcurrentUpdate, StorageUnavailable


def test_a_second_writer_of_a_held_record_times_out_like_a_locked_database() -> None:
    storage = MemoryStorage(lock_timeout=0.05)
    with storage() as uow:
        learner = uow.progress.save_learner(Learner(id="telegram:1"))
        uow.commit()
    with storage() as first, storage() as second:
        first.progress.save_learner(dataclasses.replace(learner, name="first"))
        with pytest.raises(StorageUnavailable, match="held by another unit of work"):
            second.progress.save_learner(dataclasses.replace(learner, name="second"))
        first.commit()  # releases the record
        with pytest.raises(ConcurrentUpdate):
            second.progress.save_learner(dataclasses.replace(learner, name="second"))


@pytest.mark.parametrize("end", ["commit", "rollback", "exit"])
def test_every_way_out_of_a_unit_releases_its_records(end: str) -> None:
    storage = MemoryStorage(lock_timeout=0.05)
    uow = storage()
    with uow:
        uow.progress.save_learner(Learner(id="telegram:1"))
        if end != "exit":
            getattr(uow, end)()
    with storage() as other:
        expected = 1 if end == "commit" else 0
        saved = other.progress.save_learner(Learner(id="telegram:1", revision=expected))
        assert saved.revision == expected + 1
