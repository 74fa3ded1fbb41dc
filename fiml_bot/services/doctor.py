"""The doctor: the progress store's integrity against itself, the content and (optionally) a snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fiml_cms.errors import MissingInput

from ..bot_settings import BotSettings
from ..ops import doctor as doctoring
from ..ops.doctor import Report
from ..settings import ALERT_WEBHOOK_URL
from .alerts import post_alert
from .content import optional_content


def run_doctor(settings: BotSettings) -> Report:
    """The doctor's report on the settings' database and content (content checks skipped without content)."""
    opened = optional_content(settings)
    report = doctoring.run(settings.database_url, opened.content, settings.env)
    if opened.reason is not None:
        report.skipped[:] = [f"versions and positions against the content: {opened.reason}"]
    return report


@dataclass(frozen=True)
class DoctorRun:
    report: Report
    warnings: list[str]  # e.g. the DoctorProblems alert could not be sent


def doctor(settings: BotSettings, *, against: Path | None = None, textfile: Path | None = None) -> DoctorRun:
    """`fiml-bot doctor`: the report (with `against`, learners who lost XP or completions since that
    snapshot); the problem count written to `textfile` and the DoctorProblems alert kept up to date.

    CannotRun (exit 2) when the database cannot be reached: the doctor could not run, which is not a
    finding (exit 1)."""
    from ..ops import doctor_against
    from ..tutor.ports import StorageUnavailable

    try:
        report = run_doctor(settings)
        if against is not None:
            report.checks.append(doctor_against.CHECK)
            report.problems.extend(doctor_against.check(settings.database_url, against, settings.pg_bindir))
    except StorageUnavailable as error:
        raise doctoring.CannotRun(str(error)) from None
    if textfile is not None:
        write_doctor_textfile(textfile, len(report.problems))
    warning = doctor_alert(
        settings.env, settings.database_url, len(report.problems), doctoring.render_text(report)
    )
    return DoctorRun(report, [warning] if warning is not None else [])


def write_doctor_textfile(path: Path, problems: int) -> None:
    """`fiml_doctor_problems` (the FimlDoctorProblems alert's input) and the run's time, written
    atomically by prometheus_client for node_exporter's textfile collector: doctor runs from cron, not
    inside the bot (a full check of 100,000 learners takes seconds)."""
    import time

    from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

    registry = CollectorRegistry()
    Gauge(
        "fiml_doctor_problems", "Integrity problems the last `fiml-bot doctor` found.", registry=registry
    ).set(problems)
    Gauge(
        "fiml_doctor_last_run_timestamp_seconds",
        "When `fiml-bot doctor` last ran (Unix time).",
        registry=registry,
    ).set(time.time())
    try:
        write_to_textfile(str(path), registry)
    except OSError as exc:
        raise MissingInput(f"--textfile {path}: {exc.strerror or exc}") from None


def doctor_alert(env: Mapping[str, str], database_url: str, problems: int, details: str) -> str | None:
    """DoctorProblems while the doctor finds problems; resolved by the first clean run after them
    (remembered in FIML_ALERT_STATE between runs: the doctor runs from cron). Why it was not sent, if
    it was not."""
    from ..ops import alert_memory
    from ..ops.alerts import Alert

    if not ALERT_WEBHOOK_URL.raw(env):  # a bad URL is post_alert's warning, not the doctor's failure
        return None
    path, entry = alert_memory.state_path(env), alert_memory.key("DoctorProblems", database_url)
    if problems:
        return post_alert(
            env,
            alert_memory.remember(
                path,
                entry,
                Alert(
                    "DoctorProblems",
                    "critical",
                    f"fiml-bot doctor: {problems} integrity problem(s) in the progress store",
                    details,
                ),
            ),
        )
    if (resolved := alert_memory.forget(path, entry)) is not None:
        return post_alert(env, resolved)
    return None
