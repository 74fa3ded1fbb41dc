"""The one error handler of both CLIs: every exit code, Ctrl-C, and a bug's report line."""

from __future__ import annotations

import importlib

import pytest
import typer
from typer.testing import CliRunner

from fiml_bot.cli import app as bot_app
from fiml_cms import error_handler
from fiml_cms.error_handler import error_handler as handler
from fiml_cms.error_handler import handle_errors
from fiml_cms.errors import ConfigError, ContentError, FimlError, MissingInput, Refused, UsageError
from fiml_cms.settings import DEBUG


def exit_of(exc: BaseException, capsys: pytest.CaptureFixture[str], debug: bool = False) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stopped, handler("prog", lambda: debug):
        raise exc
    return int(stopped.value.code), capsys.readouterr().err  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ContentError("lesson x: bad"), 1),
        (Refused("would drop data"), 1),
        (UsageError("give a LESSON"), 2),
        (ConfigError("bad toml"), 2),
        (MissingInput("no such ref"), 2),
        (FimlError("plain"), 2),
    ],
)
def test_fiml_errors_exit_with_their_code_and_one_line(
    error: FimlError, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert exit_of(error, capsys) == (code, f"prog: error: {error}\n")


def test_bot_errors_share_the_root() -> None:
    from fiml_bot.adapters.send_budget import BudgetConfigError
    from fiml_bot.adapters.webhook import WebhookConfigError
    from fiml_bot.documents.migrations import UnknownSchemaVersion
    from fiml_bot.ops.doctor import CannotRun
    from fiml_bot.plugins import PluginError
    from fiml_bot.release.config import RolloutConfigError, RolloutFileUnreadable
    from fiml_bot.release.controller import ReleaseError
    from fiml_bot.release.haproxy import HaproxyError
    from fiml_bot.release.state import ReleaseStateError
    from fiml_bot.storage.errors import DatabaseUrlError, SchemaOutOfDate
    from fiml_bot.tutor.ports import StorageUnavailable, StorageUnreachable

    codes = {
        StorageUnavailable: 1,  # no progress tables yet: the message names the command to run
        StorageUnreachable: 2,  # refused, locked, gone: the environment
        SchemaOutOfDate: 1,
        DatabaseUrlError: 2,
        BudgetConfigError: 2,  # a send budget that cannot work: the environment
        UnknownSchemaVersion: 1,
        HaproxyError: 1,
        WebhookConfigError: 2,
        PluginError: 2,
        CannotRun: 2,
        ReleaseError: 1,  # a refusal of the release's state (issue 27)
        ReleaseStateError: 2,
        RolloutConfigError: 1,  # findings in the rollout file
        RolloutFileUnreadable: 2,
    }
    for cls, code in codes.items():
        assert issubclass(cls, FimlError) and cls.exit_code == code, cls
    for cls in (DatabaseUrlError, BudgetConfigError, WebhookConfigError, UnknownSchemaVersion):
        assert issubclass(cls, ValueError), cls  # callers that catch ValueError still do


def test_an_os_error_is_an_io_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = exit_of(PermissionError(13, "Permission denied", "out/x.json"), capsys)
    assert (code, err) == (2, "prog: error: out/x.json: Permission denied\n")


def test_ctrl_c_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_of(KeyboardInterrupt(), capsys) == (130, "prog: interrupted\n")


def test_a_bug_exits_3_with_where_to_report_and_no_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = exit_of(RuntimeError("boom"), capsys)
    lines = err.splitlines()
    assert code == 3
    assert lines[0] == "prog: error: unexpected RuntimeError: boom"
    assert lines[1].startswith(f"prog: this is a bug: please report it to {error_handler.REPORT_TO}")
    assert "`prog --version`" in lines[1] and "FIML_DEBUG=1" in lines[1]
    assert "Traceback" not in err and len(lines) == 2


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = exit_of(KeyError("k"), capsys, debug=True)
    assert code == 3
    assert err.startswith("Traceback (most recent call last):")
    assert "prog: error: unexpected KeyError: 'k'" in err and "please report it" in err


@pytest.mark.parametrize("value", ["", "0", " 0 "])
def test_fiml_debug_off_values(value: str) -> None:
    assert not DEBUG.read({"FIML_DEBUG": value}) and not DEBUG.read({})
    assert DEBUG.read({"FIML_DEBUG": "yes"})


@pytest.mark.parametrize("module", ["fiml_cms.cli", "fiml_bot.cli.options"])
def test_the_entry_points_pass_fiml_debug_to_the_handler(
    module: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each CLI reads FIML_DEBUG itself (the handler never reads the environment)."""

    @importlib.import_module(module).user_errors
    def boom() -> None:
        raise RuntimeError("boom")

    for value, shown in (("1", True), ("0", False)):
        monkeypatch.setenv("FIML_DEBUG", value)
        with pytest.raises(SystemExit):
            boom()
        assert ("Traceback" in capsys.readouterr().err) is shown, value


def test_click_control_flow_passes_through() -> None:
    with pytest.raises(typer.Exit), handler("prog"):
        raise typer.Exit(4)
    with pytest.raises(typer.Abort), handler("prog"):
        raise typer.Abort()


def test_nothing_raised_nothing_printed(capsys: pytest.CaptureFixture[str]) -> None:
    with handler("prog"):
        pass
    assert capsys.readouterr().err == ""


def _cli(raise_: BaseException) -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.command()
    @handle_errors("demo")
    def go(name: str = typer.Option("x", "--name")) -> None:
        """A command that fails."""
        raise raise_

    return app


@pytest.mark.parametrize(
    ("error", "code"),
    [(ContentError("bad"), 1), (UsageError("usage"), 2), (KeyboardInterrupt(), 130), (ValueError("bug"), 3)],
)
def test_the_decorator_through_typer(error: BaseException, code: int) -> None:
    result = CliRunner().invoke(_cli(error), ["--name", "y"])
    assert result.exit_code == code
    assert result.output.startswith("demo: ")


def test_the_decorator_keeps_the_options() -> None:
    result = CliRunner().invoke(_cli(ContentError("bad")), ["--help"])
    assert result.exit_code == 0 and "--name" in result.output


def test_both_clis_use_it() -> None:
    result = CliRunner().invoke(bot_app, ["db", "current", "--database", "mysql://nope"])
    assert result.exit_code == 2  # a usage error
    assert result.output.startswith("fiml-bot: error: ")
