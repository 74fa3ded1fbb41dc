"""The `fiml-bot` command line: the terminal chat, database migrations, progress documents."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fiml_cms.clikit import example, new_app, run_app, version_option
from fiml_cms.errors import UsageError

from .. import __version__
from ..settings import TELEGRAM_API_URL, WEBHOOK_LISTEN, WEBHOOK_PORT, WEBHOOK_URL, option_help
from .flags import flags_app
from .keys import keys_app
from .options import ContentOption, DatabaseOption, LessonsOption, MetricsPortOption, user_errors
from .options import bot_settings as _settings

if TYPE_CHECKING:
    from ..bot_settings import BotSettings
    from ..notify import LessonUpdate
    from ..services.broadcasts import BroadcastJob, OpenJob

app = new_app("fiml-bot", root=True, help="The FIML learning bot: chat, database and progress tools.")
db_app = new_app(help="Database schema migrations (Alembic).")
app.add_typer(db_app, name="db")


@app.callback()
def _root(version: bool = version_option("fiml-bot", __version__)) -> None:
    """The FIML learning bot: chat, database and progress tools."""


def _storable(option: str, value: str) -> None:
    """A name from the command line the database can store (argv bytes that are not UTF-8 arrive as
    lone surrogates), else a usage error naming the option."""
    from ..documents.files import text_problem

    problem = text_problem(value)
    if problem is not None:
        raise UsageError(f"{option}: the value {problem}")


@app.command(epilog=example("fiml-bot chat --content ../my-lessons --user carol"))
@user_errors
def chat(
    content: Path | None = ContentOption,
    database: str | None = DatabaseOption,
    user: str = typer.Option("local", "--user", help="The learner to chat as (progress is kept per user)."),
    preview: bool | None = typer.Option(
        None,
        "--preview/--published",
        help="Serve the lessons folder as it is, or only published versions (default: preview when nothing is published).",
    ),
    lessons: Path | None = LessonsOption,
    fetch: bool = typer.Option(
        False,
        "--fetch",
        help="Fetch new tags and release branches from the content remote while chatting (also when FIML_CONTENT_REMOTE is set); by default chat only re-reads the local repository.",
    ),
) -> None:
    """Chat with the tutor in the terminal; reads lines from stdin (a number picks a button)."""
    from ..launch import run_chat

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _storable("--user", user)
    code = run_chat(_settings(content, database, preview=preview, lessons=lessons), user, fetch=fetch)
    raise typer.Exit(code)


@app.command(epilog=example("FIML_TELEGRAM_TOKEN=123:abc fiml-bot run"))
@user_errors
def run(
    content: Path | None = ContentOption,
    database: str | None = DatabaseOption,
    api_base_url: str | None = typer.Option(
        None,
        "--api-base-url",
        envvar=TELEGRAM_API_URL.name,
        help=option_help(TELEGRAM_API_URL),
    ),
    preview: bool | None = typer.Option(None, "--preview/--published", help="As for `chat`."),
    webhook_url: str | None = typer.Option(
        None,
        "--webhook-url",
        envvar=WEBHOOK_URL.name,
        help=option_help(WEBHOOK_URL),
    ),
    listen: str | None = typer.Option(
        None,
        "--listen",
        envvar=WEBHOOK_LISTEN.name,
        help=option_help(WEBHOOK_LISTEN),
    ),
    port: int | None = typer.Option(
        None,
        "--port",
        envvar=WEBHOOK_PORT.name,
        min=0,
        max=65535,
        help=option_help(WEBHOOK_PORT),
    ),
    metrics_port: int | None = MetricsPortOption,
    lessons: Path | None = LessonsOption,
) -> None:
    """Run the Telegram bot: long polling, or with --webhook-url a webhook server (with /healthz and /readyz).

    The token comes from FIML_TELEGRAM_TOKEN; in webhook mode the secret token from FIML_WEBHOOK_SECRET.
    """
    from ..launch import run_bot, telegram_settings
    from ..redaction import configure_logging

    settings = _settings(content, database, preview=preview, lessons=lessons)
    telegram = telegram_settings(
        api_base_url=api_base_url, webhook_url=webhook_url, listen=listen, port=port, env=settings.env
    )
    configure_logging([telegram.token, telegram.secret])
    run_bot(settings, telegram, metrics_port)


@app.command(epilog=example("fiml-bot rescore what_is_a_market --dry-run"))
@user_errors
def rescore(
    lesson: str = typer.Argument(..., help="The lesson whose answer key was fixed (its id)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List who would be credited and how much; pay and schedule nothing."
    ),
    content: Path | None = ContentOption,
    database: str | None = DatabaseOption,
) -> None:
    """Credit the learners whose earlier answers the lesson's newest answer key marks right.

    Each learner once per question (the question's own ledger key), in one transaction per learner,
    with the lesson completed when the quiz now passes, and a message telling them why. Run again, it
    pays nothing twice.
    """
    from ..services.rescore import rescore as run_rescore

    done = run_rescore(_settings(content, database), lesson, dry_run=dry_run)
    verb = "would be" if dry_run else "were"
    print(
        f"{lesson}: {len(done.results)} learner(s) {verb} credited {done.xp} XP"
        + (f" ({done.completed} lesson completion(s))" if done.completed else "")
    )
    for result in done.results:
        answers = "; ".join(
            f"{c.question_id} answered {c.given!r} under {c.answered_version}, right since {c.fixed_version}"
            for c in result.credits
        )
        completed = f", lesson completed +{result.lesson_xp} XP" if result.completed else ""
        print(f"  {result.learner_id}: +{result.xp} XP{completed} ({answers})")
    if dry_run:
        print("dry run: nothing was written")


@app.command(epilog=example("fiml-bot notify --since lessons-2026-11 --dry-run"))
@user_errors
def notify(
    since: str = typer.Option(
        ...,
        "--since",
        help="A git ref of the content repository: announce lessons whose major or minor versions were published after it.",
    ),
    rate: float | None = typer.Option(
        None,
        "--rate",
        min=0.1,
        help="At most this many messages/s (default: what the fleet's shared send budget leaves, at most its broadcast share).",
    ),
    paid_broadcast: bool = typer.Option(
        False,
        "--paid-broadcast",
        help="Send with allow_paid_broadcast (up to 1,000 messages/s, billed 0.1 Telegram Stars each): prints the cost first, then asks (or give --yes).",
    ),
    yes: bool = typer.Option(
        False, "--yes", help="With --paid-broadcast: accept the printed cost without asking."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List who would be told what; send and record nothing."
    ),
    content: Path | None = ContentOption,
    database: str | None = DatabaseOption,
    api_base_url: str | None = typer.Option(
        None, "--api-base-url", envvar=TELEGRAM_API_URL.name, help=option_help(TELEGRAM_API_URL)
    ),
    metrics_port: int | None = MetricsPortOption,
    lessons: Path | None = LessonsOption,
) -> None:
    """Message Telegram learners whose started or finished lessons got a major or minor update since REF.

    Resumable and at most once: each notice is recorded before it is sent, so a rerun after a crash
    messages nobody twice (a notice interrupted between the two is lost; the learner still sees the
    update in the chat). Learners who blocked the bot are marked inactive.
    """
    from ..services.broadcasts import notify as run_notify

    def show_updates(updates: Mapping[str, LessonUpdate]) -> None:
        for update in updates.values():
            print(f"{update.lesson_id}: {update.base} -> {update.new} ({update.level.label})")

    done = run_notify(
        _broadcasting(content, database, dry_run, lessons),
        since,
        open_job=_broadcast_jobs(api_base_url, metrics_port),
        rate=rate,
        paid=paid_broadcast,
        dry_run=dry_run,
        on_updates=show_updates,
        accept_cost=lambda messages, stars: _accept_paid_cost(messages, stars, yes),
    )
    if dry_run:
        for notice in done.chosen:
            print(f"would notify {notice.learner_id}: {notice.lesson_id} {notice.since} -> {notice.version}")
        print(f"{len(done.chosen)} notice(s) [dry run, nothing sent or recorded]")
        return
    if done.report is None:  # the paid broadcast's cost was declined
        raise typer.Exit(1)
    print(done.report.summary())


@app.command(
    epilog=example('fiml-bot announce "New: review your mistakes after each quiz" --flag review-mistakes')
)
@user_errors
def announce(
    text: str = typer.Argument(
        ..., help="The announcement (the tutor's Markdown subset: **bold**, *italic*)."
    ),
    flag: str | None = typer.Option(
        None, "--flag", help="Only the learners this feature flag is on for (as the bot evaluates it)."
    ),
    rate: float | None = typer.Option(None, "--rate", min=0.1, help="As for `notify`."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List who would be told; send and record nothing."),
    flags: Path | None = typer.Option(None, "--flags", help="The flag file (as for `flags check`)."),
    content: Path | None = ContentOption,
    database: str | None = DatabaseOption,
    api_base_url: str | None = typer.Option(
        None, "--api-base-url", envvar=TELEGRAM_API_URL.name, help=option_help(TELEGRAM_API_URL)
    ),
    metrics_port: int | None = MetricsPortOption,
) -> None:
    """Announce a feature to Telegram learners (with a button to try it), like `notify`: resumable, at most
    once per learner and text, at broadcast priority through the fleet's send budget. Learners who
    turned announcements off in /settings are skipped.
    """
    from ..services.broadcasts import announce as run_announce

    if not text.strip():
        raise UsageError("the announcement is empty: give its text")
    done = run_announce(
        _broadcasting(content, database, dry_run),
        text.strip(),
        flag=flag,
        flags=flags,
        open_job=_broadcast_jobs(api_base_url, metrics_port),
        rate=rate,
        dry_run=dry_run,
    )
    if done.report is None:  # a dry run
        for item in done.chosen:
            print(f"would announce to {item.learner_id}")
        print(f"{len(done.chosen)} announcement(s) [dry run, nothing sent or recorded]")
        return
    print(done.report.summary())


@app.command(epilog=example("fiml-bot remind --dry-run"))
@user_errors
def remind(
    lead_hours: float = typer.Option(
        3.0, "--lead-hours", min=0.0, max=23.0, help="Remind this long before the learner's local midnight."
    ),
    quiet_hours: str = typer.Option(
        "22-8",
        "--quiet-hours",
        help="Local hours when no reminder is sent, START-END (e.g. 22-8, 21:30-07:00).",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Say how many would be planned and sent; change nothing."
    ),
    rate: float | None = typer.Option(None, "--rate", min=0.1, help="As for `notify`."),
    content: Path | None = ContentOption,
    database: str | None = DatabaseOption,
    api_base_url: str | None = typer.Option(
        None, "--api-base-url", envvar=TELEGRAM_API_URL.name, help=option_help(TELEGRAM_API_URL)
    ),
    metrics_port: int | None = MetricsPortOption,
) -> None:
    """Plan today's streak reminders and send the messages due (run it every few minutes, e.g. from a timer).

    Each learner with a streak who has not studied today gets one reminder, LEAD before their local
    midnight and never in quiet hours; each message is claimed in the database before it is sent, so
    replicas and reruns send none twice. Learners who turned reminders off in /settings get none.
    """
    import datetime as dt

    from ..services.broadcasts import remind as run_remind
    from ..tutor.reminders import ReminderPolicy, parse_quiet_hours

    try:
        start, end = parse_quiet_hours(quiet_hours)
    except ValueError:
        raise UsageError(f"--quiet-hours {quiet_hours!r}: give START-END in local hours, e.g. 22-8") from None
    policy = ReminderPolicy(dt.timedelta(hours=lead_hours), start, end)
    done = run_remind(
        _broadcasting(content, database, dry_run),
        policy,
        open_job=_broadcast_jobs(api_base_url, metrics_port),
        rate=rate,
        dry_run=dry_run,
        on_planned=lambda planned, due: print(
            f"{planned} reminder(s) planned for today; {due} message(s) due now"
        ),
    )
    if done.report is None:  # a dry run
        print(f"{done.planned} reminder(s) would be planned; {done.due} message(s) due [dry run]")
        return
    print(done.report.summary())


def _broadcasting(
    content: Path | None, database: str | None, dry_run: bool, lessons: Path | None = None
) -> BotSettings:
    """A broadcast's settings (published lessons only), with logging that masks the token."""
    from ..launch import quiet_logging, telegram_token

    settings = _settings(content, database, preview=False, lessons=lessons)
    quiet_logging(telegram_token(settings.env), dry_run)
    return settings


def _broadcast_jobs(api_base_url: str | None, metrics_port: int | None) -> OpenJob:
    """How the broadcast services open their job: the bot composed with these options (launch)."""
    from ..launch import NotifyRun

    def open_job(settings: BotSettings, dry_run: bool) -> BroadcastJob:
        return NotifyRun.open(settings, api_base_url=api_base_url, metrics_port=metrics_port, dry_run=dry_run)

    return open_job


def _accept_paid_cost(messages: int, stars: float, yes: bool) -> bool:
    """Print what a paid broadcast may cost; go on only with --yes or the operator's yes."""
    print(
        f"paid broadcast: {messages} message(s), up to {stars:g} Telegram Stars (0.1 per message sent "
        "with allow_paid_broadcast, taken from the bot's balance)"
    )
    if yes:
        return True
    if not sys.stdin.isatty():
        print(
            "fiml-bot: error: --paid-broadcast costs Stars: give --yes to accept the cost above",
            file=sys.stderr,
        )
        return False
    return typer.confirm("send it?", default=False)


@db_app.command("upgrade", epilog=example("fiml-bot db upgrade --database sqlite:///var/fiml.db"))
@user_errors
def db_upgrade(
    revision: str = typer.Argument("head"),
    database: str | None = DatabaseOption,
    content: Path | None = ContentOption,
    no_snapshot: bool = typer.Option(False, "--no-snapshot", help="Do not snapshot the database first."),
) -> None:
    """Migrate the database up to REVISION (default: the newest): snapshot first, doctor after."""
    from ..ops.doctor import render_text
    from ..services.schema import upgrade
    from .ops import describe_snapshot

    _not_an_option(revision, "upgrade")
    done = upgrade(
        _settings(content, database),
        revision,
        snapshot=not no_snapshot,
        on_snapshot=lambda manifest: print(f"snapshot {describe_snapshot(manifest)}"),
    )
    print(f"database at {done.after}")
    if done.doctor is not None:  # asked for (the default)
        print(f"running doctor after the upgrade:\n{render_text(done.doctor)}")
        raise typer.Exit(done.doctor.exit_code)


def _not_an_option(revision: str, direction: str) -> None:
    """The command takes unknown options as a revision (for `-1`): a `--word` is a mistyped option."""
    if revision.startswith("--"):
        raise UsageError(f"No such option: {revision} (see `fiml-bot db {direction} --help`)")


@db_app.command(
    "downgrade",
    epilog=example("fiml-bot db downgrade -1"),
    context_settings={"ignore_unknown_options": True},  # `-1` is a revision, not an option
)
@user_errors
def db_downgrade(
    revision: str = typer.Argument(..., help="Target revision, e.g. -1 (one step down), 0002 or base."),
    database: str | None = DatabaseOption,
    content: Path | None = ContentOption,
    no_snapshot: bool = typer.Option(False, "--no-snapshot", help="Do not snapshot the database first."),
    yes: bool = typer.Option(
        False, "--yes", help="Downgrade even though it drops tables or columns that hold data."
    ),
) -> None:
    """Migrate the database down to REVISION: snapshot first; refuses to drop data without --yes."""
    from ..services.schema import downgrade
    from .ops import describe_snapshot

    _not_an_option(revision, "downgrade")
    done = downgrade(
        _settings(content, database),
        revision,
        snapshot=not no_snapshot,
        allow_loss=yes,
        on_snapshot=lambda manifest: print(f"snapshot {describe_snapshot(manifest)}"),
    )
    print(f"database at {done.after or 'base (empty)'}")


@db_app.command("current", epilog=example("fiml-bot db current"))
@user_errors
def db_current(
    database: str | None = DatabaseOption,
    as_json: bool = typer.Option(False, "--json", help="Print it as JSON (schemas/output/)."),
) -> None:
    """Print the database's schema revision, the newest one and the window of revisions this code runs on."""
    from fiml_cms.envelope import dumps

    from ..services.schema import schema_status

    status = schema_status(_settings(None, database))
    if as_json:
        print(dumps("fiml-bot/db-current", status.as_json()))
        return
    print(
        f"current: {status.current or 'base (empty)'}\nhead: {status.head}\n"
        f"window: {status.window} (this code runs on these revisions)\n{status.advice()}"
    )


def _register_ops() -> None:
    from .ops import register

    register(db_app, app)


_register_ops()

progress_app = new_app(
    help="Progress documents: export and import learners' progress as JSON (schemas/progress.schema.json)."
)
app.add_typer(progress_app, name="progress")


@progress_app.command("export", epilog=example("fiml-bot progress export carol carol.json"))
@user_errors
def progress_export(
    targets: list[str] = typer.Argument(
        ...,
        metavar="USER FILE | --all FILE",
        help="The learner (telegram:123456, console:carol; a bare number means telegram:<number>, a bare name the one learner of that name) and the file to write (- for stdout); with --all, only the file.",
    ),
    all_learners: bool = typer.Option(
        False,
        "--all",
        help='Export every learner into one bundle: {"schema_version": "1.0", "users": [...]}.',
    ),
    database: str | None = DatabaseOption,
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print what was exported (learners, file) as JSON (schemas/output/); needs a FILE, not -.",
    ),
) -> None:
    """Write a learner's progress document, or with --all every learner's, as JSON validated against the schema.

    The file is replaced atomically (a temporary file, then a rename); nothing is written on an error.
    Learners' stored data-provider keys are never exported (they are secrets; learners add them again).
    """
    from fiml_cms.envelope import dumps

    from ..services.progress import export_progress

    if all_learners:
        if len(targets) != 1:
            raise UsageError("with --all give only the file: fiml-bot progress export --all FILE")
        user, file = None, targets[0]
    else:
        if len(targets) != 2:
            raise UsageError(
                "give the learner and the file: fiml-bot progress export USER FILE (or --all FILE)"
            )
        user, file = targets[0], targets[1]
    if as_json and file == "-":
        raise UsageError(
            "--json prints the summary on standard output, where - writes the document: give a FILE"
        )
    summary = export_progress(_settings(None, database), user, file)
    if as_json:
        print(dumps("fiml-bot/progress-export", summary.as_json()))
        return
    print(summary.text(), file=sys.stderr if file == "-" else sys.stdout)


@progress_app.command("import", epilog=example("fiml-bot progress import carol.json --dry-run"))
@user_errors
def progress_import(
    file: str = typer.Argument(
        ..., metavar="FILE", help="A progress document or an `export --all` bundle (- for stdin)."
    ),
    database: str | None = DatabaseOption,
    content: Path | None = typer.Option(
        None,
        "--content",
        help="The content repository, to resolve the lesson versions of 0.9 documents (default: FIML_CONTENT_REPO, else the current folder; without content they get 1.0.0).",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Check the document and report what would change; write nothing."
    ),
    as_user: str | None = typer.Option(
        None,
        "--as",
        metavar="USER",
        help="Import a single learner's document as the learner USER instead of its user_id (as in `export`: telegram:123, a bare number, a known learner's name; a new name is console:NAME, the terminal chat's learner).",
    ),
    force: bool = typer.Option(
        False, "--force", help="Merge into a learner that already holds data the document lacks."
    ),
) -> None:
    """Import progress documents: validated, migrated from older schema versions, merged per learner.

    Idempotent (a second import changes nothing), never lowers XP, never deletes; all or nothing in
    one transaction: an invalid document writes nothing (exit 1). A document whose learner already
    exists with other data is refused unless --as USER or --force.
    """
    from ..services.progress import import_progress

    if as_user is not None:
        _storable("--as", as_user)
    report = import_progress(
        _settings(None, database),
        file,
        as_user=as_user,
        content_settings=lambda: _settings(content, database),
        content_given=content,
        dry_run=dry_run,
        force=force,
        warn=lambda message: print(f"fiml-bot: warning: {message}", file=sys.stderr),
    )
    for learner in report.learners:
        for warning in learner.warnings:
            print(f"fiml-bot: warning: {learner.learner_id}: {warning}", file=sys.stderr)
    print(report.summary())


app.add_typer(flags_app, name="flags")
app.add_typer(keys_app, name="keys")


def _register_release() -> None:
    from .canary import canary_app
    from .release import release_app

    app.add_typer(release_app, name="release")
    app.add_typer(canary_app, name="canary")


_register_release()


def main() -> None:
    run_app(app)
