"""Reading a lesson file's bytes safely, before any YAML is parsed.

Everything here is about bytes and text: size, NUL bytes, encoding, byte order mark,
tab indentation, symlinks. Each problem becomes a Finding with a position.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path

from .findings import Finding

MAX_BYTES = 1024 * 1024
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Source:
    """A file's text (None when it cannot be parsed at all) and what was wrong with it."""

    file: str
    text: str | None
    findings: list[Finding] = field(default_factory=list)

    def tab_indentation(self, near_line: int) -> Finding | None:
        """FIML005 for a tab in the indentation of `near_line` or the line before it.

        Asked only when libyaml rejected the file: a tab inside block-scalar text is valid
        YAML, so tabs are an error only where they broke the parse.
        """
        lines = (self.text or "").splitlines()
        for number in (near_line, near_line - 1):
            if 1 <= number <= len(lines):
                line = lines[number - 1]
                indent = line[: len(line) - len(line.lstrip(" \t"))]
                if "\t" in indent:
                    return Finding(
                        "FIML005",
                        "is indented with a tab; YAML indentation must use spaces",
                        self.file,
                        line=number,
                        column=indent.index("\t") + 1,
                    )
        return None


def read_source(path: Path, display: str, root: Path | None = None) -> Source:
    """Read `path` with the checks above; `root` confines symlinks to the repository."""
    if root is not None and path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(root.resolve()):
            return _refuse(
                display, "FIML011", f"is a symlink to {target}, outside the repository; refusing to read it"
            )
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # before open(): opening a FIFO would block
            return _refuse(display, "FIML011", "is not a regular file (a directory, a pipe or a device)")
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except IsADirectoryError:
        return _refuse(display, "FIML011", "is a directory, not a lesson file")
    except OSError as exc:
        return _refuse(display, "FIML011", f"cannot be read: {exc.strerror or exc}")
    return decode_source(display, data)


def decode_source(display: str, data: bytes) -> Source:
    """Check raw bytes and decode them; pure, so it can be fuzzed."""
    if len(data) > MAX_BYTES:
        return _refuse(display, "FIML007", f"is larger than {MAX_BYTES:,} bytes; lessons are a few KB")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _refuse(
            display,
            "FIML003",
            "is UTF-16 or UTF-32 encoded (it starts with that byte order mark); save it as UTF-8",
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = _position_of_byte(data, nul)
        return _refuse(
            display, "FIML008", "contains a NUL byte: this is a binary file, not YAML text", line, col
        )
    findings: list[Finding] = []
    if data.startswith(BOM):
        findings.append(
            Finding(
                "FIML004",
                "starts with a UTF-8 byte order mark; save the file as UTF-8 without BOM",
                display,
                line=1,
                column=1,
            )
        )
        data = data[len(BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _position_of_byte(data, exc.start)
        return _refuse(
            display,
            "FIML003",
            f"is not valid UTF-8 (byte 0x{data[exc.start]:02x}); save it as UTF-8",
            line,
            col,
        )
    if not text.strip():
        return _refuse(display, "FIML006", "is empty")
    return Source(display, text, findings)


def _position_of_byte(data: bytes, offset: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def _refuse(display: str, code: str, message: str, line: int = 1, column: int = 1) -> Source:
    return Source(display, None, [Finding(code, f"the file {message}", display, line=line, column=column)])
