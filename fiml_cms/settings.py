"""Every FIML_* environment variable, defined once: name, type, default, help and the extra it needs.

Why one module: the variables used to be read wherever they were needed (29 of them in 18 modules),
each with its own parsing and its own idea of a bad value, and a missing optional library showed up
as a bug (exit 3) the first time the code that needed it ran. Here each `Setting` says how to read
its value; `Settings.load` reads them all at start-up from the mapping an entry point passes in
(only entry points read `os.environ`) and raises one `SettingsError` (exit 2) listing every bad
variable with what to give, missing extras included. Library code receives a `Settings` and asks it
for typed values (`settings.value(SETTING)`).

The content tool's own variables live here (fiml_cms must not import fiml_bot); `fiml_bot.settings`
adds the bot's. The README's configuration table is generated from these definitions
(`python -m fiml_bot.settings --markdown`). Only the standard library: `fiml-cms validate` runs from
pre-commit, so its start-up time counts.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from .errors import ConfigError

T = TypeVar("T")


class SettingsError(ConfigError):
    """One or more FIML_* variables cannot be used (exit 2): each is named with what to give."""


@dataclass(frozen=True)
class Extra:
    """An optional part of the distribution a setting's value needs: the module imported, the extra."""

    module: str
    name: str  # pip install 'fiml-cms[NAME]'

    def hint(self) -> str:
        return f"pip install 'fiml-cms[{self.name}]'"


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable: how to read it (`parse` raises ValueError("give ...")), its
    default when unset or blank, the help the README and the CLI show, and the extra it needs."""

    name: str
    parse: Callable[[str], T]
    default: T
    help: str
    shown_default: str = ""  # the default as the README shows it ("" when there is none)
    extra: Extra | None = None  # needed whenever the variable is set
    needs: Callable[[T], Extra | None] | None = None  # needed for some values only (a PostgreSQL URL)
    shown_extra: str = ""  # how the README shows a conditional extra ("`[postgres]` for PostgreSQL")
    option: str = ""  # the command-line option that overrides it (Typer reads the variable: envvar=)

    def raw(self, env: Mapping[str, str]) -> str:
        """The text in `env`, stripped ("" when unset): whether it is set, or a value a caller checks
        without echoing it (a URL may hold a token)."""
        return env.get(self.name, "").strip()

    def read(self, env: Mapping[str, str]) -> T:
        """The value in `env` (the default when unset or blank); SettingsError naming the variable."""
        raw = self.raw(env)
        if not raw:
            return self.default
        try:
            return self.parse(raw)
        except ValueError as exc:
            raise SettingsError(self.problem(raw, exc)) from None

    def problem(self, raw: str, exc: ValueError) -> str:
        return f"{self.name}: {exc}" if self.secret else f"{self.name}={raw!r}: {exc}"

    @property
    def secret(self) -> bool:
        """Tokens and keys never appear in a message, even when malformed."""
        return any(word in self.name for word in ("TOKEN", "SECRET", "KEY"))

    def missing_extra(self, value: T, set_: bool) -> Extra | None:
        """The extra the value needs that is not installed here, else None."""
        wanted = self.extra if set_ else None
        if wanted is None and self.needs is not None:
            wanted = self.needs(value)
        if wanted is None or installed(wanted.module):
            return None
        return wanted


def installed(module: str) -> bool:
    """Whether `module` can be imported (None in sys.modules, as a test blocks it, counts as not)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


class Settings(Mapping[str, str]):
    """The FIML_* variables of one process, checked: the raw text (a Mapping, for the few readers
    that still take one) and the typed values of every defined setting."""

    def __init__(self, raw: Mapping[str, str], values: Mapping[str, Any]) -> None:
        self._raw = {k: v for k, v in raw.items() if k.startswith("FIML_")}
        self._values = dict(values)

    @classmethod
    def load(cls, env: Mapping[str, str], definitions: Iterable[Setting[Any]]) -> Settings:
        """Every definition read from `env`; one SettingsError listing each problem (exit 2)."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        for setting in definitions:
            try:
                value = setting.read(env)
            except SettingsError as exc:
                problems.append(str(exc))
                continue
            values[setting.name] = value
            extra = setting.missing_extra(value, bool(setting.raw(env)))
            if extra is not None:
                problems.append(
                    f"{setting.name} is set but the {extra.module} library is not installed: {extra.hint()}"
                )
        if len(problems) == 1:
            raise SettingsError(problems[0])
        if problems:
            raise SettingsError(
                f"{len(problems)} settings cannot be used:\n" + "\n".join(f"  {p}" for p in problems)
            )
        return cls(env, values)

    def value(self, setting: Setting[T]) -> T:
        """The typed value (its default when unset); a setting not loaded is read now."""
        if setting.name in self._values:
            return self._values[setting.name]
        return setting.read(self._raw)

    def is_set(self, setting: Setting[Any]) -> bool:
        return bool(setting.raw(self._raw))

    def __getitem__(self, name: str) -> str:
        return self._raw[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


# ------------------------------------------------------------------------------------------ parsers
# Each returns the value or raises ValueError with what to give (the message follows "NAME='raw': ").


def text(raw: str) -> str:
    return raw


def flag(raw: str) -> bool:
    """1/true/yes/on or 0/false/no/off."""
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("give on or off (1/0, true/false, yes/no)")


def number(
    example: str, *, low: float = -math.inf, high: float = math.inf, above: bool = False
) -> Callable[[str], float]:
    """A finite number in [low, high] (above=True: strictly above `low`)."""

    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value > high or value < low or (above and value == low):
            raise ValueError(f"give {example}")
        return value

    return parse


def whole(example: str, *, low: int = 0, high: int | None = None) -> Callable[[str], int]:
    """A whole number in [low, high]."""

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"give {example}") from None
        if value < low or (high is not None and value > high):
            raise ValueError(f"give {example}")
        return value

    return parse


def choice(options: Sequence[str], *, none: Sequence[str] = ()) -> Callable[[str], str]:
    """One of `options` (any case); a word in `none` means unset ("")."""

    def parse(raw: str) -> str:
        lowered = raw.lower()
        if lowered in none:
            return ""
        if lowered not in options:
            raise ValueError(f"give one of {', '.join(options)} (or leave it unset)")
        return lowered

    return parse


def names(raw: str) -> tuple[str, ...]:
    """Comma-separated names, blanks dropped."""
    return tuple(part.strip() for part in raw.replace("\n", ",").split(",") if part.strip())


def url(*schemes: str, example: str) -> Callable[[str], str]:
    """A URL with one of `schemes` and a host."""

    def parse(raw: str) -> str:
        try:
            parts = urlsplit(raw)
            parts.port  # noqa: B018 - a port that is not a number raises ValueError here
        except ValueError:
            raise ValueError(f"give a URL such as {example}") from None
        hostless = parts.scheme.lower() == "unix" and bool(parts.path)  # redis over a socket file
        if parts.scheme.lower() not in schemes or not (parts.hostname or hostless):
            raise ValueError(f"give a {' or '.join(schemes)} URL with a host, such as {example}")
        return raw

    return parse


# ------------------------------------------------------------------------------------------ fiml-cms

DEBUG = Setting(
    "FIML_DEBUG",
    lambda raw: raw != "0",
    False,
    "Anything but empty or `0`: an unexpected error (exit 3) prints its traceback.",
    shown_default="off",
)
FLAGS_FILE = Setting(
    "FIML_FLAGS_FILE",
    text,
    "",
    "The feature-flag file (flagd's format) `fiml-cms canary` writes and the bot reads; a file configured here that is missing is an alarm.",
    shown_default="`deploy/flags.json` in the content repository",
)
DATABASE_URL = Setting(
    "FIML_DATABASE_URL",
    text,
    "",
    "The progress database (`--database` overrides it): `sqlite:///PATH` or `postgresql://USER@HOST/DB`.",
    shown_default="`sqlite:///var/fiml.db` under the content repository's root",
    needs=lambda value: (
        Extra("psycopg", "postgres") if value.startswith(("postgres:", "postgresql")) else None
    ),
    shown_extra="`[postgres]` for PostgreSQL",
)

CMS_SETTINGS: tuple[Setting[Any], ...] = (DEBUG, FLAGS_FILE, DATABASE_URL)


def option_help(setting: Setting[Any]) -> str:
    """The help of the Typer option that reads `setting` (envvar=, which Typer shows): its one
    definition's help and default."""
    shown = f" Default: {setting.shown_default}." if setting.shown_default else ""
    return f"{setting.help}{shown}".replace("`", "")


def markdown_table(definitions: Iterable[Setting[Any]]) -> str:
    """The README's configuration table: one row per variable, in the order defined."""
    lines = ["| variable | default | extra | meaning |", "|---|---|---|---|"]
    for setting in definitions:
        extra = f"`[{setting.extra.name}]`" if setting.extra is not None else setting.shown_extra
        help_text = setting.help.replace("|", "\\|") + (
            f" Option: `{setting.option}`." if setting.option else ""
        )
        lines.append(f"| `{setting.name}` | {setting.shown_default or '-'} | {extra or '-'} | {help_text} |")
    return "\n".join(lines) + "\n"
