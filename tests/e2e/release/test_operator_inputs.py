"""rollout.yaml's HAProxy fields are rendered into HAProxy's configuration: anything but a plain path
(or a loopback address for the internal bind) is refused by `release check` and `release render`, and
the rendered configuration answers only the webhook path publicly (issue 21, items 10 and 11)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from fiml_bot.cli import app
from fiml_bot.release import config as rollout
from fiml_bot.release.haproxy import Split, render
from testing.release.cluster import Cluster, require_haproxy, rollout_yaml

HOSTILE_SOCKETS = [
    "var/haproxy.sock mode 600 level admin\n    stats socket ipv4@127.0.0.1:18999 level admin",
    "ipv4@127.0.0.1:18999",
    "0.0.0.0:18999",
    "var/haproxy sock",
    "var/haproxy.sock#",
    "var/" + "s" * 200 + ".sock",
]


def write_rollout(tmp_path: Path, **haproxy: str) -> Path:
    text = rollout_yaml([8101], [8201], 8443, internal=8444)
    for key, value in haproxy.items():
        line = f"    {key}: {json.dumps(value)}"
        if f"    {key}:" in text:
            text = "\n".join(line if raw.startswith(f"    {key}:") else raw for raw in text.splitlines())
        else:
            text = text.replace("    bind: 127.0.0.1:8443", f"    bind: 127.0.0.1:8443\n{line}")
    path = tmp_path / "deploy" / "rollout.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    return path


@pytest.mark.parametrize("value", HOSTILE_SOCKETS)
def test_release_check_refuses_an_admin_socket_that_is_not_a_plain_path(tmp_path: Path, value: str) -> None:
    path = write_rollout(tmp_path, admin_socket=value)
    runner = CliRunner()
    for command in ("check", "render"):
        result = runner.invoke(app, ["release", command, "--config", str(path)])
        assert result.exit_code == 1, result.output  # findings in the rollout file
        assert f"{path}:" in result.output and "deployment.haproxy.admin_socket" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "deploy" / "var" / "haproxy.cfg").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("split_map", "var/split.map\n    stats socket /tmp/x level admin"),
        ("webhook_path", "/telegram }\n    http-request allow"),
        ("webhook_path", "/metrics"),
        ("webhook_path", "/"),
        ("internal_bind", "0.0.0.0:8444"),
        ("internal_bind", "10.0.0.5:8444"),
    ],
)
def test_every_field_rendered_into_haproxy_is_checked(tmp_path: Path, field: str, value: str) -> None:
    path = write_rollout(tmp_path, **{field: value})
    with pytest.raises(rollout.RolloutConfigError) as raised:
        rollout.load(path)
    assert any(f"deployment.haproxy.{field}:" in p for p in raised.value.problems), raised.value.problems


def test_the_rendered_configuration_has_one_admin_socket_and_haproxy_accepts_it(tmp_path: Path) -> None:
    config = rollout.load(write_rollout(tmp_path, webhook_path="/hook/telegram-1"))
    text = render(config, Split("blue", "green", 0))
    sockets = [line for line in text.splitlines() if "stats socket" in line]
    assert sockets == [f"    stats socket {config.haproxy.admin_socket} mode 600 level admin"]
    assert "path /hook/telegram-1 }" in text and "bind 127.0.0.1:8444" in text
    haproxy = require_haproxy()
    rendered = tmp_path / "haproxy.cfg"
    rendered.write_text(text)
    (tmp_path / "deploy" / "var").mkdir(exist_ok=True)
    (tmp_path / "deploy" / "var" / "split.map").write_text(Split("blue", "green", 0).lines())
    checked = subprocess.run([haproxy, "-c", "-f", str(rendered)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_only_the_webhook_path_is_public_and_health_and_metrics_are_on_the_internal_bind(
    tmp_path: Path, content_repo: Path, release_db: str
) -> None:
    with Cluster(tmp_path, content_repo, release_db, replicas=1) as cluster:
        public = cluster.url.rsplit("/", 1)[0]
        with httpx.Client(trust_env=False, timeout=10) as client:
            for path in ("/metrics", "/readyz", "/healthz", "/telegram/../metrics", "/", "/telegramX"):
                answer = client.get(public + path)
                assert answer.status_code == 404, (path, answer.status_code, answer.text[:200])
                assert "fiml_" not in answer.text
            # The webhook path still reaches a replica (which checks Telegram's secret itself).
            assert client.post(cluster.url, json={"update_id": 1}).status_code == 403

            metrics = client.get(cluster.internal_url + "/metrics")
            assert metrics.status_code == 200 and "fiml_build_info" in metrics.text
            assert metrics.headers["X-Fiml-Color"] == "blue"  # the stable color
            assert client.get(cluster.internal_url + "/readyz").status_code == 200
            assert client.get(cluster.internal_url + "/healthz").status_code == 200
            green = client.get(cluster.internal_url + "/readyz?color=green")
            assert green.status_code == 200 and green.headers["X-Fiml-Color"] == "green"
            assert client.post(cluster.internal_url + "/telegram", json={"update_id": 2}).status_code == 404


def test_release_check_refuses_a_webhook_path_that_differs_from_the_replicas_url(tmp_path: Path) -> None:
    path = write_rollout(tmp_path, webhook_path="/telegram")
    runner = CliRunner()
    wrong = runner.invoke(
        app, ["release", "check", "--config", str(path)], env={"FIML_WEBHOOK_URL": "https://bot.test/hook"}
    )
    assert (
        wrong.exit_code == 1
        and "webhook_path is /telegram but FIML_WEBHOOK_URL's path is /hook" in wrong.output
    )
    same = runner.invoke(
        app,
        ["release", "check", "--config", str(path)],
        env={"FIML_WEBHOOK_URL": "https://bot.test/telegram"},
    )
    assert same.exit_code == 0, same.output
