"""Code releases: the `Release` of a rollout file wired to the services' doctor and migration, and
what `release status` and `release health` report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..bot_settings import BotSettings
from ..release.controller import Release
from ..release.haproxy import Split
from ..release.state import ReleaseState
from .doctor import run_doctor
from .schema import upgrade


def doctor_check(settings: BotSettings) -> str | None:
    """None when the doctor finds nothing, else its first line: a failed check during a release."""
    from ..ops.doctor import render_text

    try:
        report = run_doctor(settings)
    except Exception as exc:  # a doctor that cannot run is a failed check during a release
        return f"the doctor could not run: {exc}"
    if report.exit_code == 0:
        return None
    return render_text(report).strip().splitlines()[0]


def migrate_with_snapshot(settings: BotSettings) -> tuple[str | None, str | None]:
    """Snapshot, then upgrade the shared database to this code's head (expand-only, so the stable
    color keeps running inside its schema window): (the revision before, the snapshot file or None)."""
    done = upgrade(settings, "head", label="pre-release", doctor=False)
    return done.before, str(done.snapshot.path) if done.snapshot is not None else None


def open_release(config: Path, settings: BotSettings, out: Callable[[str], None] = print) -> Release:
    """The release the rollout file describes, with the doctor and the migration on `settings`."""
    from ..release.wiring import build

    return build(
        config,
        doctor=lambda: doctor_check(settings),
        migrate=lambda: migrate_with_snapshot(settings),
        out=out,
        env=settings.env,
    )


@dataclass(frozen=True)
class ReleaseStatus:
    state: ReleaseState
    live: Split | None  # the split HAProxy routes by now; None when it cannot be asked
    servers: dict[str, dict[str, str]]  # `backend/server` -> HAProxy's row
    warning: str | None = None  # why HAProxy could not be asked


def release_status(release: Release) -> ReleaseStatus:
    """The recorded state, and what HAProxy does right now."""
    from ..release.haproxy import HaproxyError

    state = release.state()
    try:
        return ReleaseStatus(state, release.api.split(), release.api.servers())
    except HaproxyError as exc:
        return ReleaseStatus(state, None, {}, str(exc))


@dataclass(frozen=True)
class ReplicaHealth:
    name: str  # blue1, green2, ...
    address: str
    not_ready: str | None  # None: /readyz answers 200
    haproxy: str  # HAProxy's status of it ("unknown" when HAProxy cannot be asked)
    healthy: bool


@dataclass(frozen=True)
class ColorHealth:
    color: str
    replicas: list[ReplicaHealth] = field(default_factory=list)
    warning: str | None = None  # why HAProxy could not be asked

    @property
    def unhealthy(self) -> int:
        return sum(1 for replica in self.replicas if not replica.healthy)


def color_health(release: Release, color: str) -> ColorHealth:
    """Every replica of `color`: ready, and UP in HAProxy (when HAProxy answers)."""
    from ..release.haproxy import HaproxyError
    from ..release.wiring import readiness

    warning = None
    try:
        servers = release.api.servers()
    except HaproxyError as exc:
        servers, warning = {}, str(exc)
    replicas = []
    for i, address in enumerate(release.config.environments[color].replicas, 1):
        reason = readiness(address, release.config.readiness_timeout)
        seen = servers.get(f"{color}/{color}{i}", {}).get("status", "unknown")
        ok = reason is None and (not servers or seen.startswith("UP"))
        replicas.append(ReplicaHealth(f"{color}{i}", address, reason, seen, ok))
    return ColorHealth(color, replicas, warning)
