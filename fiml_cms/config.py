"""Where a content repository keeps things: read from `.fiml-cms.toml` or `[tool.fiml-cms]`.

The content repository may be this project or any other git repository, so nothing here
assumes the code and the content live together.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError

CONFIG_FILE = ".fiml-cms.toml"
DEFAULT_TAG_FORMAT = "lesson/{id}/v{version}"
#: The keys a configuration table may hold; anything else is refused (a typo must not be ignored).
KNOWN_KEYS = (
    "content",
    "lessons",
    "paths",
    "archive",
    "tag_format",
    "release_branches",
    "policy",
    "fallback_max_age_days",
)
DEFAULT_FALLBACK_MAX_AGE_DAYS = 365  # FIML053: a fallback's "as of" date older than this is stale
KNOWN_POLICY_KEYS = ("notify_minor_steps", "choice_on_major")


@dataclass(frozen=True)
class Settings:
    root: Path
    content: Path
    lessons: Path
    paths: Path
    archive: Path
    tag_format: str = DEFAULT_TAG_FORMAT
    config_file: Path | None = None
    policy: tuple[tuple[str, Any], ...] = ()  # the `[policy]` table: thresholds for the bot (SPEC §5)
    #: Branches whose history is published: a tag is live once its commit is merged into one of them.
    #: Empty: the remote's default branch, else `main` (see `fiml_cms.release`).
    release_branches: tuple[str, ...] = ()
    fallback_max_age_days: int = DEFAULT_FALLBACK_MAX_AGE_DAYS


def find_root(start: Path) -> Path:
    """The nearest folder at or above `start` holding `.git`, `.fiml-cms.toml` or a configured pyproject."""
    start = Path(os.path.abspath(start))  # not resolve(): a symlink must not move the root
    here = start if start.is_dir() else start.parent
    for folder in (here, *here.parents):
        if (folder / ".git").exists() or (folder / CONFIG_FILE).is_file():
            return folder
        if _pyproject_table(folder / "pyproject.toml") is not None:
            return folder
    return here


def load_settings(start: Path, lessons: Path | None = None) -> Settings:
    """Settings for the repository containing `start`; `lessons` overrides the lessons folder."""
    root = find_root(start)
    table, source = _read_table(root)
    content = root / _string(table, "content", "content", source)
    lessons_dir = root / _string(table, "lessons", str((content / "lessons").relative_to(root)), source)
    paths_dir = root / _string(table, "paths", str((content / "paths").relative_to(root)), source)
    archive = root / _string(table, "archive", str((content / "archive").relative_to(root)), source)
    tag_format = _string(table, "tag_format", DEFAULT_TAG_FORMAT, source)
    if "{id}" not in tag_format or "{version}" not in tag_format:
        raise ConfigError(f"{source}: tag_format must contain {{id}} and {{version}}, got {tag_format!r}")
    if lessons is not None:
        lessons_dir = lessons if lessons.is_absolute() else Path.cwd() / lessons
    release_branches = _branches(table, source)
    policy = table.get("policy", {})
    if not isinstance(policy, dict):
        raise ConfigError(f"{source}: `policy` must be a table")
    max_age = table.get("fallback_max_age_days", DEFAULT_FALLBACK_MAX_AGE_DAYS)
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 1:
        raise ConfigError(
            f"{source}: fallback_max_age_days must be a whole number of days (1 or more), got {max_age!r}"
        )
    return Settings(
        root,
        content,
        lessons_dir.resolve(),
        paths_dir.resolve(),
        archive.resolve(),
        tag_format,
        source,
        tuple(sorted(policy.items())),
        release_branches,
        max_age,
    )


def _branches(table: dict[str, Any], source: Path | None) -> tuple[str, ...]:
    """`release_branches`: a branch name or a list of them."""
    value = table.get("release_branches", [])
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError(
            f'{source}:{_line_of(source, "release_branches") if source else 1}: `release_branches` must be a branch name or a list of them, e.g. ["main"], got {value!r}'
        )
    return tuple(n.strip().removeprefix("refs/heads/") for n in names)


def _read_table(root: Path) -> tuple[dict[str, Any], Path | None]:
    dedicated = root / CONFIG_FILE
    if dedicated.is_file():
        table = _dedicated_table(dedicated)
        check_keys(dedicated, table)
        return table, dedicated
    project = _pyproject_table(root / "pyproject.toml")
    if project is None:
        return {}, None
    check_keys(root / "pyproject.toml", project)
    return project, root / "pyproject.toml"


def _dedicated_table(path: Path) -> dict[str, Any]:
    """`.fiml-cms.toml` holds the keys at the top, or (pasted from a pyproject.toml) under `[tool.fiml-cms]`."""
    document = _parse_toml(path)
    tool = document.get("tool")
    if not isinstance(tool, dict) or "fiml-cms" not in tool:
        return document
    others = sorted(k for k in document if k != "tool") + sorted(f"tool.{k}" for k in tool if k != "fiml-cms")
    if others:
        raise ConfigError(
            f"{path}: put every setting under `[tool.fiml-cms]` or every one at the top of the file, not both (also found: {', '.join(others)})"
        )
    table = tool["fiml-cms"]
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: `tool.fiml-cms` must be a table")
    return table


def check_keys(path: Path, table: dict[str, Any]) -> None:
    """Refuse unknown keys, naming the file, the line and the valid keys (and the likely one)."""
    from .suggest import suggest

    for key in table:
        if key not in KNOWN_KEYS:
            raise ConfigError(
                f"{path}:{_line_of(path, key)}: unknown setting `{key}`{suggest(key, KNOWN_KEYS)} (valid: {', '.join(KNOWN_KEYS)})"
            )
    policy = table.get("policy")
    for key in policy if isinstance(policy, dict) else ():
        if key not in KNOWN_POLICY_KEYS:
            raise ConfigError(
                f"{path}:{_line_of(path, key)}: unknown policy setting `{key}`{suggest(key, KNOWN_POLICY_KEYS)} (valid: {', '.join(KNOWN_POLICY_KEYS)})"
            )


def _line_of(path: Path, key: str) -> int:
    """The line where `key` is set (as `key =` or a `[...key]` table header); 1 if not found."""
    import re

    pattern = re.compile(rf"""^\s*(?:["']?{re.escape(key)}["']?\s*=|\[[^\]]*\b{re.escape(key)}["']?\s*\])""")
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if pattern.match(line):
            return number
    return 1


def _pyproject_table(pyproject: Path) -> dict[str, Any] | None:
    if not pyproject.is_file():
        return None
    table = _parse_toml(pyproject).get("tool", {}).get("fiml-cms")
    return table if isinstance(table, dict) else None


def _parse_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None


def _string(table: dict[str, Any], key: str, default: str, source: Path | None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{source}: `{key}` must be a non-empty string, got {value!r}")
    return value
