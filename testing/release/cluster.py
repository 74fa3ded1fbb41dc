"""Blue and green pools of real `fiml-bot run --webhook-url` processes behind a real HAProxy, on loopback.

Everything started here is stopped at exit (SIGTERM, then SIGKILL); outputs go to files in the test's
folder, so a process never blocks on a full pipe.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from fiml_bot.release import config as rollout
from fiml_bot.release.haproxy import RuntimeApi, Split, write_files
from testing.fakebotapi import NO_LIMITS, FakeBotApi, FakeBotApiServer

PROJECT = Path(__file__).resolve().parents[2]
SECRET = "drill-secret"
PROXY_VARIABLES = {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"}


def require_haproxy() -> str:
    """HAProxy's path; skips without it, except under CI (`.ci/run` installs it and sets FIML_REQUIRE_HAPROXY)."""
    found = shutil.which("haproxy") or (Path("/usr/sbin/haproxy").exists() and "/usr/sbin/haproxy")
    if not found:
        if os.environ.get("FIML_REQUIRE_HAPROXY"):
            pytest.fail("HAProxy is required here (FIML_REQUIRE_HAPROXY is set) but not installed")
        pytest.skip("HAProxy is not installed (Debian's haproxy package; .ci/run installs it)")
    return str(found)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rollout_yaml(
    blue: list[int],
    green: list[int],
    bind: int,
    *,
    interval: str = "1s",
    min_samples: int = 20,
    phases: str | None = None,
    integrity: str = "1s",
    internal: int | None = None,
) -> str:
    phases = (
        phases
        or """
      - traffic_split: 10%
        duration: 30s
        rollback_on_error_rate: 5%
      - traffic_split: 50%
        duration: 30s
        rollback_on_error_rate: 3%
      - traffic_split: 100%
        duration: permanent"""
    )
    return f"""deployment:
  strategy: blue-green
  environments:
    blue:
      traffic: 100%
      instances: {len(blue)}
      replicas: [{", ".join(f'"127.0.0.1:{p}"' for p in blue)}]
    green:
      traffic: 0%
      instances: {len(green)}
      replicas: [{", ".join(f'"127.0.0.1:{p}"' for p in green)}]
  rollout:
    analysis_interval: {interval}
    min_samples: {min_samples}
    phases:{phases}
  healthchecks:
    - endpoint: /readyz
      interval: 1s
      timeout: 5s
    - custom_check: user_progress_integrity
      interval: {integrity}
  rollback:
    automatic: true
    triggers:
      - error_rate_threshold: 5%
      - database_migration_failure: true
      - user_progress_integrity: true
  haproxy:
    bind: 127.0.0.1:{bind}{f"{chr(10)}    internal_bind: 127.0.0.1:{internal}" if internal else ""}
    template: {PROJECT / "deploy" / "haproxy.cfg"}
    config: var/haproxy.cfg
    split_map: var/split.map
    admin_socket: var/haproxy.sock
  state: var/state.json
"""


def bot_env(token: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES and not k.startswith("FIML_")}
    env.update(
        {
            "FIML_TELEGRAM_TOKEN": token,
            "FIML_WEBHOOK_SECRET": SECRET,
            "FIML_TELEGRAM_RATE_LIMIT": "off",
            "NO_PROXY": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(PROJECT) + os.pathsep + env.get("PYTHONPATH", ""),
            **extra,
        }
    )
    return env


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@dataclass
class Cluster:
    """`with Cluster(folder, content, database_url) as c:` blue and green (N replicas each) behind HAProxy."""

    folder: Path
    content: Path
    database_url: str
    replicas: int = 2
    green_replicas: int | None = None  # default: as many as blue
    green_env: dict[str, str] = field(default_factory=dict)
    blue_env: dict[str, str] = field(default_factory=dict)
    rollout_options: dict[str, Any] = field(default_factory=dict)
    # The drills are about releases, not flood control: their replicas run without the bot's own send
    # limit (FIML_TELEGRAM_RATE_LIMIT=off), so the fake must not enforce Telegram's either.
    fake: FakeBotApi = field(default_factory=lambda: FakeBotApi(rate_limits=NO_LIMITS))
    processes: dict[str, subprocess.Popen] = field(default_factory=dict, init=False)
    ports: dict[str, int] = field(default_factory=dict, init=False)

    def __enter__(self) -> Cluster:
        self.haproxy_bin = require_haproxy()
        self.api_server = FakeBotApiServer(self.fake).start()
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.bind}/telegram"

    @property
    def internal_url(self) -> str:
        """HAProxy's internal (loopback) frontend: the replicas' /metrics, /readyz and /healthz."""
        return f"http://127.0.0.1:{self.internal}"

    def _start(self) -> None:
        deploy = self.folder / "deploy"
        deploy.mkdir(parents=True, exist_ok=True)
        counts = {
            "blue": self.replicas,
            "green": self.replicas if self.green_replicas is None else self.green_replicas,
        }
        for color, count in counts.items():
            for i in range(1, count + 1):
                self.ports[f"{color}{i}"] = free_port()
        self.bind = free_port()
        self.internal = free_port()
        self.config_path = deploy / "rollout.yaml"
        self.config_path.write_text(
            rollout_yaml(
                [p for n, p in self.ports.items() if n.startswith("blue")],
                [p for n, p in self.ports.items() if n.startswith("green")],
                self.bind,
                internal=self.internal,
                **self.rollout_options,
            )
        )
        self.config = rollout.load(self.config_path)
        write_files(self.config, Split("blue", "green", 0))
        self.api = RuntimeApi(self.config.haproxy.admin_socket, self.config.haproxy.split_map)
        for name in self.ports:
            self.start_replica(name)
        self.start_haproxy()
        self.wait_ready()

    def start_replica(self, name: str) -> None:
        color = name.rstrip("0123456789")
        port = self.ports[name]
        extra = {"FIML_COLOR": color, **(self.green_env if color == "green" else self.blue_env)}
        command = [
            sys.executable,
            "-m",
            "fiml_bot",
            "run",
            "--webhook-url",
            self.url,
            "--listen",
            "127.0.0.1",
            "--port",
            str(port),
            "--api-base-url",
            self.api_server.base_url,
            "--database",
            self.database_url,
            "--content",
            str(self.content),
            "--preview",
        ]
        log = open(self.folder / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            command,
            env=bot_env(self.fake.default_token, **extra),
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def start_haproxy(self) -> None:
        log = open(self.folder / "haproxy.log", "ab")
        self.processes["haproxy"] = subprocess.Popen(
            [self.haproxy_bin, "-db", "-f", str(self.config.haproxy.config)],
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(trust_env=False, timeout=2) as client:
            for name, port in self.ports.items():
                while True:
                    self.check_alive(name)
                    try:
                        if client.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise AssertionError(f"{name} not ready in {timeout} s:\n{self.log(name)}")
                    time.sleep(0.1)
        self.wait_servers_up(deadline)

    def wait_servers_up(self, deadline: float, names: list[str] | None = None) -> None:
        wanted = {f"{n.rstrip('0123456789')}/{n}" for n in (names or self.ports)}
        while True:
            self.check_alive("haproxy")
            try:
                servers = self.api.servers()
                if all(servers.get(w, {}).get("status", "").startswith("UP") for w in wanted):
                    return
            except Exception:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"HAProxy did not see {sorted(wanted)} UP:\n{self.log('haproxy')}")
            time.sleep(0.1)

    def check_alive(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is not None:
            raise AssertionError(f"{name} exited with {process.returncode}:\n{self.log(name)}")

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def kill(self, name: str) -> None:
        """kill -9: no drain, no goodbye."""
        self.processes[name].kill()
        self.processes[name].wait(5)

    def close(self) -> None:
        for name in list(self.processes):
            stop_process(self.processes.pop(name))
        self.api_server.stop()
