"""Atomic file writes: a reader sees the old file or the new one, never half of either.

The temp file (`.<name>.XXXX.tmp`, next to the target) is created 0600 by mkstemp; before the rename
it gets the mode the file should have: a replaced file keeps its own, a new one gets the mode any
other tool would give it (0666 less the umask, 0644 usually), so a lesson or archive file is never
turned private by being rewritten.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from pathlib import Path

#: The temp files this module creates, so a later run can spot the leftovers of a killed one.
TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{6,}\.tmp$")

_umask_lock = threading.Lock()


def normal_mode() -> int:
    """0666 less the process umask: what `open()` (or git checking out a file) would create."""
    with _umask_lock:  # os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def _temp_copy(path: Path, data: bytes, mode: int) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def _mode_of(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return normal_mode()


def write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data` atomically (temp file in the same folder, then rename).

    The file keeps its mode (a new one gets `normal_mode()`), unless `mode` says otherwise."""
    temp = _temp_copy(path, data, _mode_of(path) if mode is None else mode)
    try:
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def create_bytes(path: Path, data: bytes) -> None:
    """Create `path` with `data` atomically; FileExistsError if it already exists."""
    temp = _temp_copy(path, data, normal_mode())
    try:
        os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def temp_files(folder: Path, pattern: str = "*") -> list[Path]:
    """Leftover temp files of this module in `folder` (matching the glob `pattern`), sorted."""
    return sorted(p for p in folder.glob(pattern) if TEMP_NAME.match(p.name) and p.is_file())
