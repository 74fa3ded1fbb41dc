"""`fiml-bot flags check|explain`: the feature-flag file the bot would load, and what it does for one learner."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from fiml_cms.clikit import example

from .options import ContentOption, DatabaseOption, user_errors
from .options import bot_settings as _settings

flags_app = typer.Typer(
    help="Feature flags (flagd's flag-file format, deploy/flags.json): check the file, explain a learner's variant.",
    no_args_is_help=True,
)
FlagsFileOption = typer.Option(
    None,
    "--flags",
    help="The flag file (default: FIML_FLAGS_FILE, else deploy/flags.json in the content repository).",
)


@flags_app.command("check", epilog=example("fiml-bot flags check --flags deploy/flags.json"))
@user_errors
def check(flags: Path | None = FlagsFileOption, content: Path | None = ContentOption) -> None:
    """Check the flag file: schema, variants, fractional targeting, canaries (and what they do against the content).

    Exit 0 when the bot would load it, 1 with each problem as FILE:LINE:COLUMN, 2 when it cannot be read.
    """
    from ..services.flags import check_flags

    checked = check_flags(_settings(content, None), flags)
    for note in checked.notes:
        print(f"fiml-bot: note: {note}", file=sys.stderr)
    if checked.result is None:
        print("\n".join(checked.problems), file=sys.stderr)
        print(
            f"{checked.path}: {len(checked.problems)} problem(s); the bot keeps its last good flags",
            file=sys.stderr,
        )
        raise typer.Exit(1)
    print(checked.result.render())


@flags_app.command("explain", epilog=example("fiml-bot flags explain review-mistakes telegram:12345"))
@user_errors
def explain(
    flag: str = typer.Argument(..., help="The flag key, e.g. review-mistakes or canary.<lesson id>."),
    user: str = typer.Argument(
        ...,
        help="The learner, as for `progress export`: telegram:123456, a bare number (telegram:<number>), or a name (the one learner of that name; console:NAME when there is none).",
    ),
    flags: Path | None = FlagsFileOption,
    content: Path | None = ContentOption,
    database: str | None = DatabaseOption,
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print the explanation as JSON (schemas/output/); a canary's learning outcomes are `fiml-bot canary status --json`.",
    ),
) -> None:
    """Which variant a learner gets from a flag, and why: the context the bot evaluates it with (what it
    knows of the learner), their sticky bucket, the shares, the reason, and what they see."""
    from ..ops.canary_stats import render
    from ..services.flags import explain_flag

    explained = explain_flag(_settings(content, database), flags, flag, user)
    for note in explained.notes:
        print(f"fiml-bot: note: {note}", file=sys.stderr)
    if as_json:
        from fiml_cms.envelope import dumps

        print(dumps("fiml-bot/flags-explain", explained.explanation.as_json(explained.served)))
        return
    print(explained.explanation.render(explained.served))
    outcomes = explained.outcomes
    if outcomes is None:
        return
    if outcomes.verdict is None:
        print(f"learning outcomes: not available ({outcomes.unavailable})")
        return
    print(
        "learning outcomes (as `fiml-bot canary status`):\n"
        + render(outcomes.verdict, outcomes.canary.version, outcomes.canary.stable)
    )
