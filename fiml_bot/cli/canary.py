"""`fiml-bot canary status|watch`: a content canary judged by what its learners learn (issue 24)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from fiml_cms.clikit import example

from .options import ContentOption, DatabaseOption, user_errors
from .options import bot_settings as _settings

if TYPE_CHECKING:
    from ..services.canary import CanaryJudge

canary_app = typer.Typer(
    help="Content canaries: compare a canary's learners with the stable version's, roll back or promote.",
    no_args_is_help=True,
)
FlagsOption = typer.Option(
    None,
    "--flags",
    help="The flag file (default: FIML_FLAGS_FILE, else deploy/flags.json in the content repository).",
)
ConfidenceOption = typer.Option(
    0.99,
    "--confidence",
    min=0.5,
    max=0.999999,
    help="How sure the comparison must be that the canary is worse (rollback) or not worse (promotion).",
)
MinLearnersOption = typer.Option(
    200, "--min-learners", min=1, help="Canary learners needed before a promotion is considered."
)
MarginOption = typer.Option(
    0.10,
    "--margin",
    min=0.0,
    max=1.0,
    help="How much worse (a rate, 0.10 = 10 points) still counts as not worse.",
)
AbandonOption = typer.Option(
    24.0,
    "--abandon-hours",
    min=0.01,
    help="Hours without activity after which an unfinished attempt is abandoned.",
)


def _judge(confidence: float, min_learners: int, margin: float, abandon_hours: float) -> CanaryJudge:
    from ..services.canary import CanaryJudge

    return CanaryJudge(confidence, min_learners, margin, abandon_hours)


@canary_app.command("status", epilog=example("fiml-bot canary status what_is_a_market"))
@user_errors
def status(
    lesson: str = typer.Argument(..., help="The lesson id with a running canary."),
    content: Path | None = ContentOption,
    database: str | None = DatabaseOption,
    flags: Path | None = FlagsOption,
    confidence: float = ConfidenceOption,
    min_learners: int = MinLearnersOption,
    margin: float = MarginOption,
    abandon_hours: float = AbandonOption,
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON (schemas/output/)."),
) -> None:
    """The canary against the stable version, with the numbers; changes nothing. Exit 1 when the canary is worse."""
    from fiml_cms.envelope import dumps

    from ..services.canary import canary_status, is_worse

    result = canary_status(
        _settings(content, database),
        lesson,
        flags=flags,
        judge=_judge(confidence, min_learners, margin, abandon_hours),
    )
    print(dumps("fiml-bot/canary-status", result.as_json()) if as_json else result.render())
    if is_worse(result):
        raise typer.Exit(1)


@canary_app.command("watch", epilog=example("fiml-bot canary watch what_is_a_market --interval 60"))
@user_errors
def watch(
    lesson: str = typer.Argument(..., help="The lesson id with a running canary."),
    content: Path | None = ContentOption,
    database: str | None = DatabaseOption,
    flags: Path | None = FlagsOption,
    confidence: float = ConfidenceOption,
    min_learners: int = MinLearnersOption,
    margin: float = MarginOption,
    abandon_hours: float = AbandonOption,
    promote: bool = typer.Option(
        False, "--promote", help="Promote the canary (fiml-cms promote) when it is shown not worse."
    ),
    interval: float = typer.Option(60.0, "--interval", min=0.1, help="Seconds between two checks."),
    once: bool = typer.Option(False, "--once", help="Check once (and act on it), then stop."),
    max_checks: int | None = typer.Option(None, "--max-checks", min=1, help="Stop after this many checks."),
) -> None:
    """Check the canary every --interval seconds; roll it back, or promote it, on the verdict.

    Worse: rolled back to 0 % (its learners restart on the stable version, XP kept); not worse with
    enough learners: promoted with --promote. Stops when the canary ends; exit 1 when it rolled back.
    """
    from ..services.canary import canary_watch

    def echo(result: Any) -> None:
        print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC\n{result.render()}\n", flush=True)

    last = canary_watch(
        _settings(content, database),
        lesson,
        flags=flags,
        judge=_judge(confidence, min_learners, margin, abandon_hours),
        promote=promote,
        interval=interval,
        max_checks=1 if once else max_checks,
        on_check=echo,
    )
    if last.done is not None and last.done.startswith("rolled back"):
        raise typer.Exit(1)
