"""`fiml-bot db ...` through the CLI, and the policy thresholds read from the content repository."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from fiml_bot.bootstrap import BotSettings, open_content, policy_settings
from fiml_bot.cli import app

runner = CliRunner()


def test_db_upgrade_current_downgrade(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # snapshots go to var/snapshots under the working directory
    url = f"sqlite:///{tmp_path / 'var' / 'bot.db'}"
    current = runner.invoke(app, ["db", "current", "--database", url])
    assert (
        current.exit_code == 0
        and "current: base (empty)" in current.output
        and "run `fiml-bot db upgrade`" in current.output
    )
    up = runner.invoke(app, ["db", "upgrade", "--database", url])
    from fiml_bot.storage import migrations_api

    assert up.exit_code == 0 and f"database at {migrations_api.head()}" in up.output
    assert "up to date" in runner.invoke(app, ["db", "current", "--database", url]).output
    down = runner.invoke(app, ["db", "downgrade", "base", "--database", url])
    assert down.exit_code == 0 and "base (empty)" in down.output


def test_db_errors_are_messages(tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--database", "postgresql+psycopg://nobody@127.0.0.1:1/x"])
    assert result.exit_code == 2 and "fiml-bot: error:" in result.output  # environment: exit 2
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_policy_thresholds_come_from_the_content_repository(content_repo: Path) -> None:
    (content_repo / ".fiml-cms.toml").write_text(
        "[policy]\nnotify_minor_steps = 3\nchoice_on_major = false\n", encoding="utf-8"
    )
    content = open_content(BotSettings(content=content_repo, preview=True))
    settings = policy_settings(content)
    assert (settings.notify_minor_steps, settings.choice_on_major) == (3, False)
