"""The one error handler of both command lines (`fiml-cms`, `fiml-bot`): an exception becomes a message
on stderr and an exit code, never a traceback for a user's mistake.

In the spirit of pre-commit's `error_handler.py`:

* `FimlError` (the one root; fiml_cms/errors.py): `PROGRAM: error: MESSAGE`, exit `exc.exit_code`
  (1 findings or a refusal, 2 usage or I/O);
* `OSError` that no command turned into a `FimlError`: the same line, exit 2 (I/O);
* Ctrl-C: `PROGRAM: interrupted`, exit 130 (128 + SIGINT, what a shell reports);
* anything else is a bug: `PROGRAM: error: unexpected TYPE: MESSAGE` and a line saying where to report
  it, exit 3; the traceback only when the entry point's `debug()` says so (the FIML_DEBUG setting,
  which the entry point reads: this module never reads the environment).

The CLI framework's own control flow (`typer.Exit`, `Abort`, usage errors) passes through untouched.
The handler raises `SystemExit`, which Typer (Click) and its `CliRunner` both pass on as the exit code. Only the
standard library is imported here: `fiml-cms validate` runs from pre-commit, so start-up time counts.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from .errors import FimlError
from .settings import DEBUG

FINDINGS = 1
USAGE = 2
UNEXPECTED = 3
INTERRUPTED = 130
PIPE_CLOSED = 141  # 128 + SIGPIPE
REPORT_TO = "the fiml-cms maintainers (the project's issue tracker)"

F = TypeVar("F", bound=Callable[..., Any])


def _never() -> bool:
    return False


@contextlib.contextmanager
def error_handler(program: str, debug: Callable[[], bool] = _never) -> Iterator[None]:
    """Run the block; turn what escapes it into a message and `SystemExit(code)` (see the module notes).
    `debug`: whether a bug shows its traceback; asked only when there is one, so the entry point's
    reading of FIML_DEBUG costs nothing on the way in."""
    try:
        yield
    except FimlError as exc:
        _fail(program, str(exc), exc.exit_code)
    except KeyboardInterrupt:
        print(f"{program}: interrupted", file=sys.stderr)
        raise SystemExit(INTERRUPTED) from None
    except BrokenPipeError:
        # A reader closed stdout (`| head -1`): end quietly, as git does, with the status a shell
        # reports for a program that SIGPIPE ended.
        silence_stdout()
        raise SystemExit(PIPE_CLOSED) from None
    except OSError as exc:
        _fail(program, _describe_os_error(exc), USAGE)
    except Exception as exc:
        if _is_click_control_flow(exc):
            raise
        _report_bug(program, exc, debug())
        raise SystemExit(UNEXPECTED) from None


def handle_errors(program: str, debug: Callable[[], bool] = _never) -> Callable[[F], F]:
    """The decorator form of `error_handler`, for each command of a Typer app."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with error_handler(program, debug):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]  # functools.wraps keeps the signature Typer reads

    return decorate


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush does not complain about the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (a test runner's capture)
        pass


def _fail(program: str, message: str, code: int) -> None:
    print(f"{program}: error: {message}", file=sys.stderr)
    raise SystemExit(code) from None


def _describe_os_error(exc: OSError) -> str:
    """`PATH: Permission denied` rather than `[Errno 13] Permission denied: 'PATH'`."""
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return exc.strerror or str(exc) or type(exc).__name__


#: How a command ends on purpose (typer.Exit, Abort, a usage error): the CLI framework reports them.
#: Typer 0.28 carries its own copy of Click (`typer._click`); a plain Click may be in use too.
_CONTROL_FLOW = (
    ("typer.exceptions", ("Exit", "Abort", "TyperException")),
    ("typer._click.exceptions", ("ClickException",)),
    ("click.exceptions", ("Exit", "Abort", "ClickException")),
)


def _is_click_control_flow(exc: Exception) -> bool:
    """Looked up in sys.modules: a framework never imported cannot have raised `exc`."""
    for module_name, names in _CONTROL_FLOW:
        module = sys.modules.get(module_name)
        kinds = tuple(getattr(module, name) for name in names if hasattr(module, name))
        if kinds and isinstance(exc, kinds):
            return True
    return False


def _report_bug(program: str, exc: Exception, debugging: bool) -> None:
    if debugging:
        traceback.print_exception(exc, file=sys.stderr)
    detail = str(exc)
    print(
        f"{program}: error: unexpected {type(exc).__name__}{': ' + detail if detail else ''}", file=sys.stderr
    )
    hint = "" if debugging else f"; set {DEBUG.name}=1 to see the traceback"
    print(
        f"{program}: this is a bug: please report it to {REPORT_TO} with the command you ran, this "
        f"message and the output of `{program} --version`{hint}",
        file=sys.stderr,
    )
