"""HAProxy, the one module that speaks to it: renders deploy/haproxy.cfg and drives its runtime API.

The split between the colors is three keys of a map file (`stable`, `canary`, `canary_percent`) that
HAProxy reads per request; a new version of the map, committed on the admin socket, changes all three
in memory in one atomic step (no reload, no connection dropped) and the file is rewritten atomically
too, so a restarted HAProxy starts from the same split.
"""

from __future__ import annotations

import re
import socket
import string
from dataclasses import dataclass
from pathlib import Path

from fiml_cms.atomic import write_bytes
from fiml_cms.errors import FimlError

from .config import COLORS, RolloutConfig

# Where each kind of update carries the user it comes from (Bot API 7+); the first one present wins.
LEARNER_PATHS = (
    "$.message.from.id",
    "$.edited_message.from.id",
    "$.callback_query.from.id",
    "$.my_chat_member.from.id",
    "$.chat_member.from.id",
    "$.chat_join_request.from.id",
    "$.inline_query.from.id",
    "$.chosen_inline_result.from.id",
    "$.shipping_query.from.id",
    "$.pre_checkout_query.from.id",
    "$.poll_answer.user.id",
    "$.message_reaction.user.id",
    "$.business_message.from.id",
    "$.edited_business_message.from.id",
    "$.purchased_paid_media.from.id",
)
TIMEOUT = 5.0


class HaproxyError(FimlError):
    """The admin socket cannot be reached or refused a command."""

    exit_code = 1


@dataclass(frozen=True)
class Split:
    stable: str
    canary: str
    canary_percent: int

    def share(self, color: str) -> int:
        """The percent of learners `color` serves under this split."""
        return self.canary_percent if color == self.canary else 100 - self.canary_percent

    def lines(self) -> str:
        return f"stable {self.stable}\ncanary {self.canary}\ncanary_percent {self.canary_percent}\n"


def other(color: str) -> str:
    return COLORS[1 - COLORS.index(color)]


def learner_rules() -> str:
    rules = []
    for i, path in enumerate(LEARNER_PATHS):
        condition = "" if i == 0 else " if !{ var(txn.learner) -m found }"
        rules.append(f"    http-request set-var(txn.learner) req.body,json_query('{path}','int'){condition}")
    return "\n".join(rules)


def server_lines(color: str, replicas: tuple[str, ...]) -> str:
    return "\n".join(f"    server {color}{i} {address} check" for i, address in enumerate(replicas, 1))


def render(config: RolloutConfig, split: Split) -> str:
    """The HAProxy configuration for `config`, from its template."""
    h = config.haproxy
    template = string.Template(h.template.read_text(encoding="utf-8"))
    interval_ms = max(100, int(config.readiness_interval * 1000))
    tokens = {
        "admin_socket": str(h.admin_socket.resolve()),
        "split_map": str(h.split_map.resolve()),
        "bind": h.bind,
        "internal_bind": h.internal_bind,
        "webhook_path": h.webhook_path,
    }
    for name, value in tokens.items():
        # A default path (the deploy folder's own) is not checked by the loader: a space, `#` or a
        # newline would let it change what HAProxy reads.
        if not value or any(c.isspace() or c in "#\"'\\" or not c.isprintable() for c in value):
            raise HaproxyError(
                f"{config.path}: haproxy.{name} {value!r} cannot be written into HAProxy's configuration (spaces, quotes, `#` or control characters)"
            )
    return template.substitute(
        tokens,
        maxconn=h.maxconn,
        check_interval=f"{interval_ms}ms",
        check_timeout=f"{max(100, int(config.readiness_timeout * 1000))}ms",
        learner_rules=learner_rules(),
        stable_default=split.stable,
        canary_default=split.canary,
        blue_servers=server_lines("blue", config.environments["blue"].replicas),
        green_servers=server_lines("green", config.environments["green"].replicas),
    )


def write_files(config: RolloutConfig, split: Split) -> None:
    """Write the rendered configuration and the split's map file (atomically; folders created)."""
    for path in (config.haproxy.config, config.haproxy.split_map, config.haproxy.admin_socket):
        path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(config.haproxy.split_map, split.lines().encode())
    write_bytes(config.haproxy.config, render(config, split).encode())


class RuntimeApi:
    """HAProxy's admin socket (a Unix socket, level admin): one command per connection."""

    def __init__(self, socket_path: Path, map_path: Path, timeout: float = TIMEOUT) -> None:
        self.socket_path = socket_path
        self.map_path = map_path
        self.timeout = timeout

    def command(self, line: str) -> str:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(str(self.socket_path))
                sock.sendall(line.encode() + b"\n")
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            raise HaproxyError(
                f"HAProxy's admin socket {self.socket_path}: {exc.strerror or exc} (is HAProxy running with the rendered configuration?)"
            ) from None
        return b"".join(chunks).decode(errors="replace")

    def split(self) -> Split:
        """The split HAProxy routes by right now."""
        values = {}
        for line in self.command(f"show map {self.map_path.resolve()}").splitlines():
            parts = line.split()
            if len(parts) == 3:
                values[parts[1]] = parts[2]
        try:
            return Split(values["stable"], values["canary"], int(values["canary_percent"]))
        except (KeyError, ValueError):
            raise HaproxyError(
                f"HAProxy's map {self.map_path} does not hold a split (stable, canary, canary_percent): is it the rendered configuration?"
            ) from None

    def set_split(self, split: Split) -> Split:
        """Route by `split` from the next request on, and check HAProxy took it.

        The three keys change in one step: they are written into a new version of the map, which
        `commit map` swaps in atomically, so no request is routed by a mix of the old and new keys
        (a mix could send the new color's learners back to the old one, e.g. during a promotion).
        """
        path = self.map_path.resolve()
        answer = self.command(f"prepare map {path}").strip()
        found = re.search(r"New version created: (\d+)", answer)
        if found is None:
            raise HaproxyError(f"HAProxy refused `prepare map`: {answer}")
        version = found[1]
        for key, value in (
            ("stable", split.stable),
            ("canary", split.canary),
            ("canary_percent", split.canary_percent),
        ):
            answer = self.command(f"add map @{version} {path} {key} {value}").strip()
            if answer:
                raise HaproxyError(f"HAProxy refused `add map {key} {value}`: {answer}")
        answer = self.command(f"commit map @{version} {path}").strip()
        if answer:
            raise HaproxyError(f"HAProxy refused `commit map`: {answer}")
        write_bytes(self.map_path, split.lines().encode())
        now = self.split()
        if now != split:
            raise HaproxyError(f"HAProxy routes by {now} after setting {split}")
        return now

    def servers(self) -> dict[str, dict[str, str]]:
        """`backend/server` -> HAProxy's status of it (UP, DOWN, MAINT, ...), from `show stat`."""
        lines = self.command("show stat").splitlines()
        if not lines or not lines[0].startswith("# "):
            raise HaproxyError("HAProxy's `show stat` gave no statistics")
        header = lines[0][2:].split(",")
        result = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") in COLORS and row.get("svname") not in ("BACKEND", "FRONTEND"):
                result[f"{row['pxname']}/{row['svname']}"] = row
        return result
