"""`fiml-bot release`: blue-green code releases behind HAProxy, and the seed's rollback steps by hand."""

from __future__ import annotations

import datetime
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fiml_cms.clikit import example, new_app
from fiml_cms.error_handler import handle_errors

from ..settings import ROLLOUT, option_help
from .options import debug_requested

if TYPE_CHECKING:
    from ..release.config import RolloutConfig
    from ..release.controller import Release

release_app = new_app(
    help="Code releases without downtime: blue-green behind HAProxy, canary by learner, automatic rollback."
)

ConfigOption = typer.Option(
    Path(ROLLOUT.default),
    "--config",
    envvar=ROLLOUT.name,
    help=option_help(ROLLOUT),
)
ContentOption = typer.Option(
    None,
    "--content",
    help="The content repository, for the doctor (default: FIML_CONTENT_REPO, else the current folder).",
)
DatabaseOption = typer.Option(None, "--database", help="The shared database (default: FIML_DATABASE_URL).")


# the one handler of both CLIs (fiml_cms/error_handler.py), with the entry point's FIML_DEBUG
release_errors = handle_errors("fiml-bot", debug_requested)


def _release(config: Path, content: Path | None = None, database: str | None = None) -> Release:
    from ..bot_settings import BotSettings
    from ..services.releases import open_release
    from .options import environment

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = BotSettings.from_env(environment(), content=content, database_url=database)
    return open_release(config, settings, out=lambda line: print(line, flush=True))


def _same_webhook_path(loaded: RolloutConfig) -> None:
    """HAProxy answers only `haproxy.webhook_path` publicly: the replicas' FIML_WEBHOOK_URL (when set
    here) must use that path, or every update from Telegram would get a 404."""
    from urllib.parse import urlsplit

    from ..release.config import RolloutConfigError
    from ..settings import WEBHOOK_URL
    from .options import environment

    url = environment().value(WEBHOOK_URL)
    path = (urlsplit(url).path or "/") if url else None
    if path is not None and path != loaded.haproxy.webhook_path:
        raise RolloutConfigError(
            [
                f"{loaded.path}: deployment.haproxy.webhook_path is {loaded.haproxy.webhook_path} but FIML_WEBHOOK_URL's path is {path}: HAProxy would answer Telegram's updates 404; make them the same"
            ]
        )


@release_app.command("check", epilog=example("fiml-bot release check --config deploy/rollout.yaml"))
@release_errors
def check(config: Path = ConfigOption) -> None:
    """Validate the rollout file; every problem with its line, column and field."""
    from ..release import config as config_

    loaded = config_.load(config)
    _same_webhook_path(loaded)
    phases = ", ".join(f"{p.traffic_split:g}%" for p in loaded.phases)
    print(
        f"{config}: ok: blue {len(loaded.environments['blue'].replicas)} and green {len(loaded.environments['green'].replicas)} replica(s), phases {phases}"
    )
    judged = []
    for phase in loaded.phases:
        if phase.duration is None:
            continue
        limit, ratio = loaded.error_limit(phase), loaded.latency_limit(phase)
        signals = [f"errors over {limit:g}%"] if limit is not None else []
        signals += [f"p99 over {ratio:g}x the stable color's"] if ratio is not None else []
        signals += [f"{loaded.user_complaints} learner reports"] if loaded.user_complaints else []
        judged.append(f"{phase.traffic_split:g}%: {', '.join(signals) or 'nothing'}")
    print(f"rollback ({loaded.confidence:.1%} sure) on: {'; '.join(judged)}")


@release_app.command("render", epilog=example("fiml-bot release render --config deploy/rollout.yaml"))
@release_errors
def render(config: Path = ConfigOption) -> None:
    """Write HAProxy's configuration and the split's map file from the rollout file and the recorded state."""
    from ..release import haproxy

    release = _release(config)
    _same_webhook_path(release.config)
    state = release.state()
    haproxy.write_files(release.config, state.split)
    print(
        f"wrote {release.config.haproxy.config} and {release.config.haproxy.split_map} ({state.stable} stable, {state.canary} {state.canary_percent}%)"
    )
    print(f"start it with: haproxy -f {release.config.haproxy.config}")


@release_app.command("start", epilog=example("fiml-bot release start 0.2.0 --migrate"))
@release_errors
def start(
    version: str = typer.Argument(
        ...,
        metavar="GREEN_VERSION",
        help="The version the new color's replicas run (checked against their fiml_build_info).",
    ),
    migrate: bool = typer.Option(
        False,
        "--migrate",
        help="Snapshot and upgrade the shared database first (expand-only migrations); a failure rolls back.",
    ),
    config: Path = ConfigOption,
    content: Path | None = ContentOption,
    database: str | None = DatabaseOption,
) -> None:
    """Start (or resume) a release: canary phases, analysis every interval, promote or roll back.

    Runs until the release is promoted (exit 0) or rolled back (exit 1). Run it again after a crash: it resumes.
    """
    from ..release.state import PROMOTED

    state = _release(config, content, database).start(version, migrate=migrate)
    raise typer.Exit(0 if state.status == PROMOTED else 1)


@release_app.command("status", epilog=example("fiml-bot release status --json"))
@release_errors
def status(
    config: Path = ConfigOption, as_json: bool = typer.Option(False, "--json", help="The state as JSON.")
) -> None:
    """The release's state, the split HAProxy routes by right now, and each replica as HAProxy sees it."""
    from ..services.releases import release_status

    release = _release(config)
    seen = release_status(release)
    state, live, servers = seen.state, seen.live, seen.servers
    if seen.warning is not None:
        print(f"fiml-bot: warning: {seen.warning}", file=sys.stderr)
    if as_json:
        data = asdict(state)
        data["haproxy"] = {
            "split": asdict(live) if live else None,
            "servers": {k: v.get("status") for k, v in servers.items()},
        }
        from fiml_cms.envelope import dumps

        print(dumps("fiml-bot/release-status", data))
        return
    phase = f"phase {state.phase + 1} of {len(release.config.phases)}" if state.status == "running" else "-"
    print(f"release: {state.release or '-'}  status: {state.status}  {phase}")
    print(f"stable: {state.stable}  canary: {state.canary} at {state.canary_percent}%")
    if state.reason:
        print(f"reason: {state.reason}")
    if state.status == "running" and state.paused:
        print("paused: no phase advances until `fiml-bot release resume` (a breach still rolls back)")
    if state.status == "running" and state.hold:
        print(f"holding: {state.hold}")
    for color, counts in sorted(state.phase_counts.items()):
        rate = 100 * counts["failed"] / counts["total"] if counts["total"] else 0.0
        print(f"{color}: {counts['total']:.0f} update(s) this phase, {rate:.1f}% failed")
    if live is not None:
        agrees = (
            ""
            if live == state.split
            else "  (differs from the recorded state: `fiml-bot release start` or `switch` puts it back)"
        )
        print(f"haproxy: {live.stable} stable, {live.canary} {live.canary_percent}%{agrees}")
    for name, row in sorted(servers.items()):
        print(f"  {name:<10} {row.get('status', '?')}")
    for entry in state.log[-5:]:
        at = datetime.datetime.fromtimestamp(entry["at"], datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        print(f"  {at} {entry['step']}: {entry['detail']}")


@release_app.command("promote", epilog=example("fiml-bot release promote"))
@release_errors
def promote(config: Path = ConfigOption) -> None:
    """Give the new color every learner now and make it the stable one."""
    _release(config).manual_promote()


@release_app.command("rollback", epilog=example("fiml-bot release rollback"))
@release_errors
def rollback(
    config: Path = ConfigOption,
    reason: str = typer.Option(
        "rolled back by hand", "--reason", help="Recorded in the state and the alert."
    ),
) -> None:
    """Step 1 of the rollback: every learner back on the stable color, the state and an alert say so.

    After a promotion: every learner back on the previous color, once its replicas are ready (exit 1 otherwise).
    """
    _release(config).manual_rollback(reason)


@release_app.command("pause", epilog=example("fiml-bot release pause"))
@release_errors
def pause(config: Path = ConfigOption) -> None:
    """Hold the running release where it is, for as long as needed (a breach still rolls it back)."""
    _release(config).pause(True)


@release_app.command("resume", epilog=example("fiml-bot release resume"))
@release_errors
def resume(config: Path = ConfigOption) -> None:
    """Let a paused release continue: its phases advance again once healthy and long enough."""
    _release(config).pause(False)


@release_app.command("abort", epilog=example('fiml-bot release abort --reason "quiz 3 crashes"'))
@release_errors
def abort(
    config: Path = ConfigOption,
    reason: str = typer.Option(..., "--reason", help="Why: recorded in the state and the alert."),
) -> None:
    """Roll the running release back now, with a reason (exit 1 when none is running)."""
    _release(config).abort(reason)


@release_app.command("switch", epilog=example("fiml-bot release switch green 50"))
@release_errors
def switch(
    color: str = typer.Argument(..., metavar="COLOR"),
    percent: int = typer.Argument(..., metavar="PERCENT"),
    config: Path = ConfigOption,
) -> None:
    """Step 3: give COLOR PERCENT% of learners through HAProxy's runtime API (no reload), and check it took."""
    _release(config).switch(color, percent)


@release_app.command("health", epilog=example("fiml-bot release health green"))
@release_errors
def health(color: str = typer.Argument(..., metavar="COLOR"), config: Path = ConfigOption) -> None:
    """Step 2: every replica of COLOR answers /readyz, and HAProxy sees it UP. Exit 1 otherwise."""
    from ..services.releases import color_health

    release = _release(config)
    if color not in release.config.environments:
        print(f"fiml-bot: error: COLOR is blue or green, got {color!r}", file=sys.stderr)
        raise typer.Exit(2)
    health = color_health(release, color)
    if health.warning is not None:
        print(f"fiml-bot: warning: {health.warning}", file=sys.stderr)
    for replica in health.replicas:
        print(f"{replica.name} {replica.address}: {replica.not_ready or 'ready'}; haproxy: {replica.haproxy}")
    bad = health.unhealthy
    print(f"{color}: {'healthy' if not bad else f'{bad} replica(s) not healthy'}")
    raise typer.Exit(1 if bad else 0)


@release_app.command("alert", epilog=example('fiml-bot release alert "green rolled back by hand"'))
@release_errors
def alert(
    message: str = typer.Argument(..., metavar="MESSAGE"),
    severity: str = typer.Option("warning", "--severity"),
) -> None:
    """Step 6: tell the team (FIML_ALERT_WEBHOOK_URL, Alertmanager's payload); exit 1 if it was not delivered."""
    from ..release.wiring import alert_sender
    from .options import environment

    send = alert_sender(environment())
    if send is None:
        print("fiml-bot: error: set FIML_ALERT_WEBHOOK_URL to send alerts", file=sys.stderr)
        raise typer.Exit(2)
    if not send("ReleaseNotice", severity, message):
        print("fiml-bot: error: the alert was not delivered (see the log)", file=sys.stderr)
        raise typer.Exit(1)
    print("alert delivered")


@release_app.command("init", epilog=example("fiml-bot release init deploy"))
@release_errors
def init(
    folder: Path = typer.Argument(Path("deploy"), help="Where to write the templates (default: deploy)."),
    force: bool = typer.Option(False, "--force", help="Replace files that are already there."),
) -> None:
    """Write the deployment templates: rollout.yaml, haproxy.cfg, Prometheus rules and scrape configuration."""
    from ..release.scaffold import write_templates

    for item in write_templates(folder, force):
        print(f"{'replaced' if item.replaced else 'wrote'} {item.path}")
    print(
        f"next: fill in {folder / 'rollout.yaml'}, then `fiml-bot release check --config {folder / 'rollout.yaml'}`"
    )
