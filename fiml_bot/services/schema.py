"""Schema migrations: upgrade (snapshot first, written once for `db upgrade` and releases),
downgrade, the schema's status, and a rehearsal on a throwaway copy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fiml_cms.errors import Refused

from ..bot_settings import BotSettings
from ..ops import rehearse as rehearsing
from ..ops.doctor import Report
from ..ops.rehearse import Rehearsal
from ..ops.schema_status import SchemaStatus
from ..ops.schema_status import schema_status as status_of
from ..ops.snapshots import Manifest
from ..storage import migrations_api
from .content import optional_content
from .doctor import run_doctor
from .snapshots import take_snapshot

#: Told about the snapshot as soon as it is taken (before the migration, which may fail).
SnapshotTaken = Callable[[Manifest], None]


@dataclass(frozen=True)
class Upgrade:
    before: str | None  # the revision before (None: no schema)
    after: str | None
    snapshot: Manifest | None  # None: none was needed or asked for
    doctor: Report | None  # the doctor's report after the upgrade, when asked


@dataclass(frozen=True)
class Downgrade:
    before: str
    after: str | None  # None: base (empty)
    snapshot: Manifest | None


def target(revision: str, current: str | None, direction: str) -> str | None:
    """REVISION resolved against the database's `current` one, in the command's direction; the other
    direction is a refusal naming the command to run instead (exit 1, the README's table)."""
    resolved = migrations_api.resolve(revision, current)
    order = {r: i for i, r in enumerate(migrations_api.chain())}
    at, to = order.get(current, -1) if current else -1, order.get(resolved, -1) if resolved else -1
    if current in order or current is None:
        if direction == "upgrade" and to < at:
            raise Refused(
                f"{revision} ({resolved or 'base'}) is older than the database's {current}: use `fiml-bot db downgrade {revision}`"
            )
        if direction == "downgrade" and to > at:
            raise Refused(
                f"{revision} ({resolved}) is newer than the database's {current or 'base'}: use `fiml-bot db upgrade {revision}`"
            )
    return resolved


def upgrade(
    settings: BotSettings,
    revision: str = "head",
    *,
    snapshot: bool = True,
    label: str = "pre-upgrade",
    doctor: bool = True,
    on_snapshot: SnapshotTaken | None = None,
) -> Upgrade:
    """Snapshot a database with a schema (unless told not to), then migrate it up to `revision`;
    with `doctor`, the doctor's report after."""
    url = settings.database_url
    before = migrations_api.current(url)
    to = target(revision, before, "upgrade")  # checked before the snapshot: a typo costs nothing
    taken = None
    if before is not None and before != to and snapshot:
        taken = take_snapshot(settings, None, label)
        if on_snapshot is not None:
            on_snapshot(taken)
    migrations_api.upgrade(url, to or "base")
    return Upgrade(before, migrations_api.current(url), taken, run_doctor(settings) if doctor else None)


def downgrade(
    settings: BotSettings,
    revision: str,
    *,
    snapshot: bool = True,
    allow_loss: bool = False,
    on_snapshot: SnapshotTaken | None = None,
) -> Downgrade:
    """Migrate down to `revision` (snapshot first); refused when it would drop data, unless allowed."""
    from ..ops.schema_loss import downgrade_loss
    from ..storage.database import describe

    url = settings.database_url
    current = migrations_api.current(url)
    if current is None:
        raise Refused(f"the database at {describe(url)} has no schema: there is nothing to downgrade")
    to = target(revision, current, "downgrade") or "base"
    losses = downgrade_loss(url, to)
    if losses and not allow_loss:
        lost = "; ".join(loss.describe() for loss in losses)
        raise Refused(
            f"downgrading to {to} would drop data: {lost}. Snapshot it (`fiml-bot db snapshot`) and add --yes to go ahead"
        )
    taken = None
    if snapshot:
        taken = take_snapshot(settings, None, "pre-downgrade")
        if on_snapshot is not None:
            on_snapshot(taken)
    migrations_api.downgrade(url, to)
    return Downgrade(current, migrations_api.current(url), taken)


def schema_status(settings: BotSettings) -> SchemaStatus:
    """`db current`: the database's revision against this code's head and window."""
    return status_of(settings.database_url)


def rehearse(settings: BotSettings, source: str | None) -> Rehearsal:
    """`db rehearse`: the migration up and down on a throwaway copy of `source` (default: the database)."""
    opened = optional_content(settings)
    return rehearsing.rehearse(
        source or settings.database_url,
        settings.database_url,
        opened.content,
        opened.reason,
        settings.env,
        pg_bindir=settings.pg_bindir,
    )
