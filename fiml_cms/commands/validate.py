"""`fiml-cms validate`: every file's findings, including the repository-wide rules."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .. import rules
from ..config import Settings
from ..document import LESSON, PATH, CheckedFile, add_positions, check_file
from ..errors import UsageError
from ..findings import Finding, Severity, sort_findings

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class ValidationResult:
    files: int
    findings: list[Finding]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.WARNING)

    def exit_code(self, strict: bool = False) -> int:
        return 1 if self.errors or (strict and self.warnings) else 0


def validate(targets: list[Path], settings: Settings) -> ValidationResult:
    """Check `targets` (files or folders; none: the repository's lessons and paths).

    The repository's other lessons and paths are read as context, so a single changed file
    is still checked against every id and prerequisite; only the targets' findings count.
    """
    if not targets:
        targets = [d for d in (settings.lessons, settings.paths) if d.is_dir()]
        if not targets:
            raise UsageError(f"no lessons folder at {settings.lessons}; pass files or folders, or set `lessons` in {settings.config_file or '.fiml-cms.toml'}")
    chosen = _expand(targets, settings)
    context = [p for p in _expand([d for d in (settings.lessons, settings.paths) if d.is_dir()], settings) if p not in chosen]
    checked = [_check(path, settings) for path in (*chosen, *context)]
    target_files = {c.file for c in checked[: len(chosen)]}
    lessons = [c.lesson_entry() for c in checked if c.kind == LESSON]
    paths = [c.path_entry() for c in checked if c.kind == PATH]
    by_file = {c.file: c for c in checked}
    for finding in rules.check_repository(lessons, paths):
        by_file[finding.file].findings.append(finding)
    reported = [c for c in checked if c.file in target_files]
    add_positions(reported)
    return ValidationResult(len(chosen), sort_findings(f for c in reported for f in c.findings))


def _check(path: Path, settings: Settings) -> CheckedFile:
    kind = PATH if path.parent.resolve() == settings.paths else LESSON
    return check_file(path, display_name(path), kind, settings.root)


def _expand(targets: list[Path], settings: Settings) -> list[Path]:
    """Files to check, in a stable order, without duplicates; folders are walked for YAML."""
    seen: dict[Path, None] = {}
    for target in targets:
        if target.is_dir():
            for dirpath, dirnames, filenames in os.walk(target):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and Path(dirpath, d).resolve() != settings.archive)
                for name in sorted(filenames):
                    if name.endswith(YAML_SUFFIXES):
                        seen.setdefault(Path(dirpath, name).absolute(), None)
        elif target.exists() or target.is_symlink():
            seen.setdefault(target.absolute(), None)
        else:
            raise UsageError(f"{target}: no such file or folder")
    return list(seen)


def display_name(path: Path) -> str:
    """The path as the user would type it: relative to the working folder when inside it."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else Path(relative).as_posix()
