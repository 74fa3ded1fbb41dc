"""The `fiml-cms` command line: parse options, call one command, render, exit.

Errors a user can act on (`FimlError`) become a one-line message and an exit code (one handler for
both CLIs: fiml_cms/error_handler.py); every command's heavy imports happen inside it, so
`fiml-cms --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from . import __version__, completion
from .clikit import example, new_app, run_app, version_option
from .error_handler import handle_errors
from .errors import UsageError
from .settings import DEBUG

app = new_app(
    "fiml-cms", root=True, help="Lesson content in git: validate, version, tag and archive lessons."
)


@app.callback()
def _root(version: bool = version_option("fiml-cms", __version__)) -> None:
    """Lesson content in git: validate, version, tag and archive lessons."""


def _debugging() -> bool:
    """FIML_DEBUG, read from this process's environment only when a bug is reported."""
    return DEBUG.read(os.environ)


def _in_github_actions() -> bool:
    """Inside GitHub Actions findings default to workflow annotations (the runner sets GITHUB_ACTIONS)."""
    return os.environ.get("GITHUB_ACTIONS") == "true"


user_errors = handle_errors("fiml-cms", _debugging)  # FimlError -> message and exit code; a bug -> exit 3


JsonOption = typer.Option(
    False,
    "--json",
    help="Print the output as JSON in the one envelope (schemas/output/); same as --format json.",
)


def _chosen(fmt: str | None, as_json: bool) -> str | None:
    """`--json` is `--format json`; with another --format (than the default text) it is a usage error."""
    if as_json and fmt not in (None, "json", "text"):
        raise UsageError(f"--json and --format {fmt} disagree: use one of them")
    return "json" if as_json else fmt


LessonArgument = typer.Argument(..., help="Lesson id or path.", autocompletion=completion.lesson_ids)
LessonsOption = typer.Option(
    None,
    "--lessons",
    help="Lessons folder (default: `lessons` in .fiml-cms.toml or in pyproject.toml's tool.fiml-cms table, else content/lessons).",
)


@app.command(epilog=example("fiml-cms validate content/lessons/bond_basics.yaml"))
@user_errors
def validate(
    paths: list[Path] | None = typer.Argument(
        None, help="Lesson or path files, or folders (default: the repository's lessons and paths)."
    ),
    fmt: str | None = typer.Option(
        None,
        "--format",
        "-f",
        help="text | json | github | sarif (default: github under GitHub Actions, else text).",
    ),
    strict: bool = typer.Option(False, "--strict", help="Fail on warnings too."),
    fix: bool = typer.Option(
        False,
        "--fix",
        help="Apply the edits that hints name (a misspelt field, a value to quote), then check again.",
    ),
    as_json: bool = JsonOption,
    configured: bool = typer.Option(
        False,
        "--configured",
        help="Check only the given files that are in the configured lessons or paths folder; ignore other YAML (for the pre-commit hook).",
    ),
    lessons: Path | None = LessonsOption,
) -> None:
    """Check lessons against the schema and the semantic rules. Exit 0 clean, 1 findings, 2 usage error."""
    from . import report
    from .commands.validate import in_configured_folders
    from .commands.validate import validate as run_validate
    from .config import load_settings

    chosen = _chosen(fmt, as_json) or report.default_format(_in_github_actions())
    if chosen not in report.FORMATS:
        raise UsageError(f"unknown format {chosen!r}; choose one of {', '.join(report.FORMATS)}")
    start = paths[0] if paths else Path.cwd()
    settings = load_settings(start, lessons)
    if configured and paths:
        given = len(paths)
        paths = [p for p in paths if in_configured_folders(p, settings)]
        if not paths:
            print(f"0 files checked: none of the {given} given is in the lessons or paths folder")
            raise typer.Exit(0)
    result = run_validate(list(paths or []), settings)
    if fix:
        from .commands.validate import fix_files

        fixed, files = fix_files(result.findings)
        if fixed:
            print(f"fixed {fixed} problem(s) in {files} file(s)", file=sys.stderr)
            result = run_validate(list(paths or []), settings)
    output = report.render(result, chosen, color=chosen == "text" and _stdout_is_terminal())
    if output:
        print(output)
    raise typer.Exit(result.exit_code(strict))


@app.command(epilog=example('fiml-cms new bond_basics --title "Bond Basics" --category fixed_income'))
@user_errors
def new(
    lesson_id: str = typer.Argument(..., metavar="ID", help="The new lesson's id, e.g. bond_basics."),
    title: str = typer.Option(..., "--title", "-t", help="The lesson's title."),
    category: str = typer.Option(
        "general",
        "--category",
        help="Topic group: a keyword of lowercase letters, digits, '_' or '-' (e.g. fixed_income).",
    ),
    difficulty: str = typer.Option("beginner", "--difficulty", help="beginner | intermediate | advanced."),
    lessons: Path | None = LessonsOption,
) -> None:
    """Write a valid lesson skeleton to <lessons>/<ID>.yaml."""
    from .commands.new import new_lesson
    from .config import load_settings

    target = new_lesson(lesson_id, title, load_settings(Path.cwd(), lessons), category, difficulty)
    print(f"created {target}")


FlagsOption = typer.Option(
    None,
    "--flags",
    envvar="FIML_FLAGS_FILE",
    help="The content's flag file (flagd format): deploy/flags.json in the content repository, committed; another path is refused.",
)


def _flags_file(ws: Any, flags: Path | None) -> Path:
    from .flagfile import DEFAULT_PATH

    return flags if flags is not None else ws.settings.root / DEFAULT_PATH


FormatOption = typer.Option("text", "--format", "-f", help="text | json.")


def _workspace(lessons: Path | None) -> Any:
    from .workspace import Workspace

    return Workspace.open(Path.cwd(), lessons)


def _check_format(fmt: str, allowed: tuple[str, ...] = ("text", "json")) -> None:
    if fmt not in allowed:
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(allowed)}")


DateOption = typer.Option(None, "--date", help="Changelog date, YYYY-MM-DD (default: today).")
PendingOption = typer.Option(
    False,
    "--pending",
    help="Tag off a release branch knowingly: the version is listed as pending merge and goes live when its commit is merged into a release branch.",
)
CommitOption = typer.Option(False, "--commit", help="Commit the lesson file.")
DryRunEditOption = typer.Option(False, "--dry-run", help="Print the change instead of writing it.")


@app.command(epilog=example('fiml-cms bump bond_basics auto -m "Clearer coupon example" --commit --tag'))
@user_errors
def bump(
    lesson: str = LessonArgument,
    level: str = typer.Argument(..., help="major | minor | patch | auto (the level `diff` requires)."),
    message: list[str] = typer.Option([], "--message", "-m", help="A changelog line (repeatable)."),
    date: str | None = DateOption,
    commit: bool = CommitOption,
    tag: bool = typer.Option(
        False,
        "--tag",
        help="Create the annotated tag lesson/<id>/v<version> on that commit (on a release branch; see --pending).",
    ),
    pending: bool = PendingOption,
    dry_run: bool = DryRunEditOption,
    force: bool = typer.Option(False, "--force", help="Allow a lower level than the change requires."),
    yank: list[str] = typer.Option(
        [],
        "--yank",
        metavar="VERSION",
        help="Also withdraw VERSION (add it to `yanked`): learners on it restart on the new version (repeatable).",
    ),
    lessons: Path | None = LessonsOption,
) -> None:
    """Raise a lesson's version and prepend a dated changelog entry; nothing else in the file changes (but --yank)."""
    from .commands.bump import plan_bump

    if level not in ("major", "minor", "patch", "auto"):
        raise UsageError(f"unknown level {level!r}: use major, minor, patch or auto")
    day = _parse_day(date)
    ws = _workspace(lessons)
    if commit and not dry_run:
        from .commands.bump_resume import resume_bump

        resumed = resume_bump(
            ws, lesson, message, tag, pending
        )  # a killed `bump --commit [--tag]`: finish it
        if resumed is not None:
            print(resumed.summary())
            return
    _run_bump(
        ws, plan_bump(ws, lesson, level, message, day, force, tuple(yank)), dry_run, commit, tag, pending
    )


def _parse_day(date: str | None) -> Any:
    import datetime as dt

    try:
        return dt.date.fromisoformat(date) if date else None
    except ValueError:
        raise UsageError(f"--date must be YYYY-MM-DD, got {date!r}") from None


def _run_bump(ws: Any, plan: Any, dry_run: bool, commit: bool, tag: bool, pending: bool = False) -> None:
    """Print the plan (dry run) or apply it, then say what changed."""
    from .commands.bump import apply_bump

    yanked = f"; yanks {', '.join(plan.yanked)}" if plan.yanked else ""
    if dry_run:
        print(plan.unified_diff(), end="")
        print(
            f"{plan.lesson_id}: {plan.old_version} -> {plan.new_version} ({plan.level.label}; required: {plan.required.label}{yanked}) [dry run, nothing written]"
        )
        return
    outcome = apply_bump(ws, plan, commit, tag, pending)
    extra = "".join(
        f", {what} {value}"
        for what, value in (("commit", outcome.commit and outcome.commit[:12]), ("tag", outcome.tag))
        if value
    )
    print(f"{plan.lesson_id}: {plan.old_version} -> {plan.new_version} ({plan.level.label}{yanked}){extra}")
    if outcome.tag:
        _archive_hint(ws)
    if yanked and not outcome.tag:
        print(
            f"the yank takes effect for learners once {plan.new_version} is published: `fiml-cms tag {plan.lesson_id}`"
            + ("" if outcome.commit else " after committing it")
        )


@app.command(epilog=example('fiml-cms yank bond_basics 1.0.0 -m "Wrong coupon formula" --commit --tag'))
@user_errors
def yank(
    lesson: str = LessonArgument,
    version: str = typer.Argument(
        ..., help="The published version to withdraw.", autocompletion=completion.lesson_versions
    ),
    message: list[str] = typer.Option(
        [], "--message", "-m", help="Why (changelog line; default: 'Withdrew version X because of an error')."
    ),
    date: str | None = DateOption,
    commit: bool = CommitOption,
    tag: bool = typer.Option(
        False,
        "--tag",
        help="With --commit: publish the new version (its tag), which makes the yank take effect.",
    ),
    pending: bool = PendingOption,
    dry_run: bool = DryRunEditOption,
    lessons: Path | None = LessonsOption,
) -> None:
    """Withdraw a published version: a patch release that lists it in `yanked`. Learners on it restart on the new version, keeping XP and completions."""
    from .commands import yanks
    from .commands.bump import plan_bump

    ws = _workspace(lessons)
    ref = ws.lesson_ref(lesson)
    said = yanks.already_yanked(ws, ref, version)
    if said is not None:
        typer.echo(said)
        return
    yanks.check_yankable(ws, ref, version)
    plan = plan_bump(
        ws,
        lesson,
        "auto",
        message or [yanks.default_message(version.removeprefix("v"))],
        _parse_day(date),
        False,
        (version,),
    )
    _run_bump(ws, plan, dry_run, commit, tag, pending)


@app.command(epilog=example("fiml-cms diff bond_basics 1.0.0 worktree"))
@user_errors
def diff(
    lesson: str = LessonArgument,
    base: str | None = typer.Argument(
        None,
        metavar="[FROM]",
        help="A version, a git ref or `worktree` (default: last published).",
        autocompletion=completion.lesson_versions,
    ),
    target: str | None = typer.Argument(
        None,
        metavar="[TO]",
        help="A version, a git ref or `worktree` (default: the working tree).",
        autocompletion=completion.lesson_versions,
    ),
    fmt: str = FormatOption,
    as_json: bool = JsonOption,
    lessons: Path | None = LessonsOption,
) -> None:
    """Semantic changes between two versions and the bump level they require."""
    from .commands.diff import diff as run_diff

    fmt = _chosen(fmt, as_json) or fmt
    _check_format(fmt)
    print(run_diff(_workspace(lessons), lesson, base, target).render(fmt))


@app.command(epilog=example("fiml-cms check --base origin/main"))
@user_errors
def check(
    base: str = typer.Option(
        ..., "--base", help="The branch or commit the change is compared with (its merge base with HEAD)."
    ),
    head: str | None = typer.Option(None, "--head", help="Compare this commit instead of the working tree."),
    fmt: str | None = typer.Option(None, "--format", "-f", help="text | json | github | sarif."),
    as_json: bool = JsonOption,
    lessons: Path | None = LessonsOption,
) -> None:
    """Pull-request gate: every changed lesson bumped by enough, with a changelog entry, no id lost."""
    from . import report
    from .commands.check import check as run_check

    chosen = _chosen(fmt, as_json) or report.default_format(_in_github_actions())
    _check_format(chosen, report.FORMATS)
    result = run_check(_workspace(lessons), base, head)
    output = report.render(result, chosen, color=chosen == "text" and _stdout_is_terminal(), command="check")
    if output:
        print(output)
    raise typer.Exit(result.exit_code())


@app.command(epilog=example("fiml-cms versions bond_basics"))
@user_errors
def versions(
    lesson: str = typer.Argument(..., help="Lesson id.", autocompletion=completion.lesson_ids),
    fmt: str = FormatOption,
    as_json: bool = JsonOption,
    lessons: Path | None = LessonsOption,
) -> None:
    """Published versions of a lesson with dates, tags and yanked marks."""
    from .commands.published import list_versions, render_versions

    fmt = _chosen(fmt, as_json) or fmt
    _check_format(fmt)
    ws = _workspace(lessons)
    print(render_versions(lesson, list_versions(ws, lesson), fmt))
    if ws.backend.release_note:  # which branch decides what is published, when not as configured
        print(f"note: {ws.backend.release_note}", file=sys.stderr)


@app.command(epilog=example("fiml-cms reports bond_basics --database sqlite:///var/fiml.db"))
@user_errors
def reports(
    lesson: str = typer.Argument(..., help="Lesson id (or its file, resolved in the content)."),
    database: str | None = typer.Option(
        None,
        "--database",
        help="The bot's database URL (default: FIML_DATABASE_URL, else sqlite:///var/fiml.db).",
    ),
    version: str | None = typer.Option(None, "--version", help="Only the reports about this version."),
    fmt: str = FormatOption,
    lessons: Path | None = LessonsOption,
) -> None:
    """Problems learners reported in a lesson (a button or /report in the bot), per version, newest first."""
    from .commands.reports import render
    from .learner_reports import database_url, read_reports

    _check_format(fmt)
    lesson_id = _workspace(lessons).lesson_ref(lesson).id if lesson.endswith((".yaml", ".yml")) else lesson
    found = read_reports(database_url(database, os.environ), lesson_id)
    if version is not None:
        found = [r for r in found if r.version == version]
    print(render(lesson_id, found, fmt))


@app.command(epilog=example("fiml-cms show bond_basics@1.0.0"))
@user_errors
def show(
    spec: str = typer.Argument(..., metavar="LESSON@VERSION", autocompletion=completion.lesson_at_version),
    lessons: Path | None = LessonsOption,
    as_json: bool = typer.Option(
        False, "--json", help="Print the file with its tag, commit and blob as JSON (schemas/output/)."
    ),
) -> None:
    """Print a published version's file exactly as tagged."""
    from .commands.published import find_shown, render_shown

    ws = _workspace(lessons)
    shown = find_shown(ws, spec)
    if as_json:
        print(render_shown(ws, shown))
        return
    data = shown.data
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


@app.command(epilog=example("fiml-cms tag bond_basics"))
@user_errors
def tag(
    lesson: str | None = typer.Argument(None, help="Lesson id or path: tag its committed version."),
    from_history: bool = typer.Option(
        False, "--from-history", help="Tag every version in the history of an untagged repository."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="With --from-history: list the tags without creating them."
    ),
    canary: int | None = typer.Option(
        None,
        "--canary",
        metavar="PERCENT",
        help="Serve the new version to PERCENT % of new starts only (a canary flag in the flag file); the rest keep the previous latest.",
    ),
    at: list[str] = typer.Option(
        [],
        "--at",
        metavar="ID@VERSION=COMMIT",
        help="With --from-history: tag that version at COMMIT instead of its first commit (repeatable).",
    ),
    last_text: bool = typer.Option(
        False,
        "--last-text",
        help="With --from-history: tag each version whose text changed under the same number at its last text.",
    ),
    merged: bool = typer.Option(
        False,
        "--merged",
        help="Tag on merge (CI, on a push to the release branch): tag every lesson version new on it; idempotent.",
    ),
    pending: bool = PendingOption,
    flags: Path | None = FlagsOption,
    lessons: Path | None = LessonsOption,
) -> None:
    """Publish a version: create its annotated tag (live once its commit is on a release branch)."""
    from .commands.tagging import apply_history, plan_from_history, tag_current

    ws = _workspace(lessons)
    if merged:
        if lesson or from_history or canary is not None:
            raise UsageError(
                "--merged tags every new version on the release branch: give no LESSON, --from-history or --canary"
            )
        from .commands.tag_merged import tag_merged

        done = tag_merged(ws)
        print(done.render())
        if done.created:
            _archive_hint(ws)
        raise typer.Exit(done.exit_code)
    if from_history == bool(lesson):
        raise UsageError("give either a LESSON, --merged or --from-history")
    if lesson and canary is not None:
        from .commands.canary import tag_canary

        planned, started = tag_canary(ws, lesson, canary, _flags_file(ws, flags), pending)
        print(f"created {planned.name} at {planned.commit[:12]}")
        print(
            f"canary: {started.lesson} {started.version} for {started.percent} % of new starts; the others get {started.stable} ({_flags_file(ws, flags)})"
        )
        _archive_hint(ws)
        return
    if canary is not None:
        raise UsageError("--canary is for tagging one LESSON")
    if lesson:
        planned = tag_current(ws, lesson, pending)
        print(f"created {planned.name} at {planned.commit[:12]}")
        _archive_hint(ws)
        return
    if (at or last_text) and not from_history:
        raise UsageError("--at and --last-text choose commits for --from-history")
    plan = plan_from_history(ws, _parse_at(at), last_text)
    if not dry_run:
        apply_history(ws, plan)
    print(plan.render(dry_run))


def _archive_hint(ws: Any) -> None:
    from .commands.archive import refresh_hint

    hint = refresh_hint(ws)
    if hint:
        print(hint)


def _parse_at(values: list[str]) -> dict[tuple[str, str], str]:
    chosen = {}
    for value in values:
        spec, sep, commit = value.partition("=")
        lesson_id, at_sign, version = spec.partition("@")
        if not (sep and at_sign and lesson_id and version and commit):
            raise UsageError(f"--at {value!r}: expected ID@VERSION=COMMIT, e.g. tax_001@1.0.0=3f2a9c1")
        chosen[(lesson_id, version.removeprefix("v"))] = commit
    return chosen


@app.command("canary", epilog=example("fiml-cms canary bond_basics 30"))
@user_errors
def canary_share(
    lesson: str = typer.Argument(..., help="Lesson id or path with a running canary."),
    percent: int = typer.Argument(
        ..., min=0, max=100, help="The share of new starts that get the canary version; 0 rolls it back."
    ),
    flags: Path | None = FlagsOption,
    lessons: Path | None = LessonsOption,
) -> None:
    """Change a content canary's share: raise it (only adds learners), or 0 to roll it back."""
    from .commands.canary import set_share

    ws = _workspace(lessons)
    before, after = set_share(ws, lesson, percent, _flags_file(ws, flags))
    what = (
        "rolled back: learners on it restart on " + after.stable + ", keeping their XP"
        if percent == 0
        else f"{after.percent} % of new starts"
    )
    print(f"canary: {after.lesson} {after.version}: {before.percent} % -> {what}")


@app.command(epilog=example("fiml-cms promote bond_basics"))
@user_errors
def promote(
    lesson: str = typer.Argument(..., help="Lesson id or path with a running canary."),
    flags: Path | None = FlagsOption,
    lessons: Path | None = LessonsOption,
) -> None:
    """Release a canary version to everyone: its flag is removed, it becomes the plain latest."""
    from .commands.canary import promote as promote_canary

    ws = _workspace(lessons)
    done = promote_canary(ws, lesson, _flags_file(ws, flags))
    print(
        f"promoted: {done.lesson} {done.version} is the latest for everyone (was {done.percent} % of new starts)"
    )


@app.command(epilog=example("fiml-cms archive --check"))
@user_errors
def archive(
    out: Path | None = typer.Option(None, "--out", help="Archive folder (default: <content>/archive)."),
    check_only: bool = typer.Option(
        False, "--check", help="Verify the archive against the tags; change nothing."
    ),
    prune: bool = typer.Option(
        False, "--prune", help="Also remove archived files that no published version backs (FIML072)."
    ),
    fmt: str | None = typer.Option(
        None, "--format", "-f", help="With --check: text | json | github | sarif."
    ),
    as_json: bool = typer.Option(False, "--json", help="With --check: the findings as JSON (--format json)."),
    lessons: Path | None = LessonsOption,
) -> None:
    """Write every published version to <archive>/<id>/<version>.yaml plus index.json."""
    from . import report
    from .commands.archive import archive as run_archive
    from .commands.archive import check_archive

    ws = _workspace(lessons)
    if check_only and prune:
        raise UsageError(
            "--check changes nothing and --prune removes files: run `fiml-cms archive --prune`, then `fiml-cms archive --check`"
        )
    if check_only:
        chosen = _chosen(fmt, as_json) or report.default_format(_in_github_actions())
        _check_format(chosen, report.FORMATS)
        result = check_archive(ws, out)
        print(report.render(result, chosen, command="archive"))
        raise typer.Exit(1 if result.findings else 0)
    with _progress("archiving") as progress:
        result = run_archive(ws, out, progress)
    removed = _prune_archive(ws, out) if prune else []
    stale = f", {len(result.removed)} stale temp file(s) removed" if result.removed else ""
    print(
        f"{result.folder}: {len(result.written)} file(s) written, {result.unchanged} unchanged"
        + (f", {len(removed)} removed" if prune else "")
        + stale
    )
    for path in removed:
        print(f"removed {path}")


@app.command(epilog=example("fiml-cms upgrade legacy/ --dry-run"))
@user_errors
def upgrade(
    paths: list[Path] | None = typer.Argument(
        None, help="Lesson files or folders (default: the lessons folder; not recursive)."
    ),
    check_only: bool = typer.Option(
        False, "--check", help="Change nothing; exit 1 if a file needs upgrading (for CI)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Change nothing; print the unified diff of what would be written."
    ),
    rename: bool = typer.Option(
        False,
        "--rename",
        help="Name each lesson <id>.yaml, removing the old name (refused if that file exists).",
    ),
    drop_field: list[str] | None = typer.Option(
        None,
        "--drop-field",
        metavar="NAME",
        help="Allow dropping the legacy field NAME wherever it has no place in the format (repeatable); `metrics` drops unsupported metric names.",
    ),
    as_text: list[str] | None = typer.Option(
        None,
        "--as-text",
        metavar="TYPE",
        help="Show sections of the unknown legacy type TYPE as text sections (repeatable).",
    ),
    duration: int | None = typer.Option(
        None, "--duration", min=1, metavar="MINUTES", help="duration_minutes for lessons that give none."
    ),
    xp: int | None = typer.Option(
        None, "--xp", min=0, metavar="XP", help="xp_reward for lessons that give none."
    ),
    lessons: Path | None = LessonsOption,
) -> None:
    """Rewrite legacy lessons in the current format. Exit 0 done, 1 problems (or --check: upgrade needed), 2 usage error."""
    import datetime as dt

    from .commands.upgrade import upgrade as run_upgrade
    from .config import load_settings

    start = paths[0] if paths else Path.cwd()
    settings = load_settings(start, lessons)
    report = run_upgrade(
        list(paths or []),
        settings,
        check=check_only,
        dry_run=dry_run,
        rename=rename,
        today=dt.date.today().isoformat(),
        drop_fields=drop_field or (),
        text_types=as_text or (),
        defaults={k: v for k, v in (("duration_minutes", duration), ("xp_reward", xp)) if v is not None},
    )
    print(report.render_text())
    raise typer.Exit(report.exit_code)


def _prune_archive(ws: Any, out: Path | None) -> list[Path]:
    from .commands.prune import prune

    return prune(ws, out)


def _progress(label: str) -> Any:
    """A rich progress bar on a terminal for long runs; silent otherwise."""
    import contextlib

    if not sys.stderr.isatty():
        return contextlib.nullcontext(None)
    from rich.progress import Progress

    @contextlib.contextmanager
    def bar() -> Any:
        with Progress(transient=True) as progress:

            def start(total: int) -> Callable[[], None]:
                task = progress.add_task(label, total=total)
                return lambda: progress.advance(task)

            yield start

    return bar()


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def main() -> None:
    """Console entry point."""
    run_app(app)
