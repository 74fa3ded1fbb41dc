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
    policy = table.get("policy", {})
    if not isinstance(policy, dict):
        raise ConfigError(f"{source}: `policy` must be a table")
    return Settings(root, content, lessons_dir.resolve(), paths_dir.resolve(), archive.resolve(), tag_format, source, tuple(sorted(policy.items())))


def _read_table(root: Path) -> tuple[dict[str, Any], Path | None]:
    dedicated = root / CONFIG_FILE
    if dedicated.is_file():
        return _parse_toml(dedicated), dedicated
    table = _pyproject_table(root / "pyproject.toml")
    return (table, root / "pyproject.toml") if table is not None else ({}, None)


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
