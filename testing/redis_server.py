"""A throwaway `redis-server` on a free loopback port, for the send budget's tests and the drill.

    with redis_server() as url:       # redis://127.0.0.1:<port>/0, nothing saved to disk
        ...

Never the shared 6379: each user gets its own server, stopped (and its folder removed) on exit.
`redis_url_for_tests()` decides between starting one, the URL CI names (FIML_TEST_REDIS_URL) and
skipping: under CI a missing Redis is a failure, not a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

REDIS_VARIABLE = "FIML_TEST_REDIS_URL"
START_TIMEOUT = 10.0  # seconds for the server to answer PING


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server(binary: str = "redis-server") -> Iterator[str]:
    """Start `redis-server` on a free loopback port; yield its URL; stop it."""
    path = shutil.which(binary)
    if path is None:
        raise FileNotFoundError(f"{binary} is not installed (Debian: apt-get install redis-server)")
    folder = tempfile.mkdtemp(prefix="fiml-redis-")
    port = _free_port()
    process = subprocess.Popen(
        [
            path,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            folder,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on 127.0.0.1:{port}")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def redis_url_for_tests() -> Iterator[str | None]:
    """A Redis URL for a test session: a server of its own when `redis-server` is installed, else the
    one FIML_TEST_REDIS_URL names (CI), else None (the caller skips). Under CI nothing is skipped."""
    if shutil.which("redis-server") is not None:
        with redis_server() as url:
            yield url
        return
    yield os.environ.get(REDIS_VARIABLE, "").strip() or None
