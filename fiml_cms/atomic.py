"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _temp_copy(path: Path, data: bytes) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically (temp file in the same folder, then rename)."""
    temp = _temp_copy(path, data)
    try:
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def create_bytes(path: Path, data: bytes) -> None:
    """Create `path` with `data` atomically; FileExistsError if it already exists."""
    temp = _temp_copy(path, data)
    try:
        os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)
