"""deploy/rollout.yaml: the blue-green deployment (the seed's shape), parsed into frozen values.

Every problem is reported with the file, line and column and the field's path, all at once, so an
operator fixes the file in one go; nothing is started from a file with a problem.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fiml_cms.errors import FimlError
from fiml_cms.findings import JsonPath
from fiml_cms.suggest import suggest

COLORS = ("blue", "green")
PERMANENT = "permanent"
_DURATION = re.compile(r"(?P<number>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_ADDRESS = re.compile(r"(?P<host>[A-Za-z0-9.\-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})")
# Paths and the webhook path are rendered into HAProxy's configuration, where a space, a newline, `#`,
# a quote or an `ipv4@`/`host:port` form would change what HAProxy reads: plain path characters only.
_CONFIG_PATH = re.compile(r"[A-Za-z0-9._+~/-]+")
_URL_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")
_LOOPBACK = re.compile(r"127(?:\.\d{1,3}){3}|localhost|\[::1\]")
UNIX_PATH_MAX = 107  # sun_path is 108 bytes with its NUL: a longer socket path cannot be bound
TRIGGERS = (
    "error_rate_threshold",
    "latency_p99",
    "user_complaints",
    "database_migration_failure",
    "user_progress_integrity",
)
_RATIO = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*x")


class RolloutConfigError(FimlError):
    """deploy/rollout.yaml has problems: one line per field, `file:line:column: path: message` (findings:
    exit 1, the README's convention, as `fiml-cms validate` and `fiml-bot flags check`)."""

    exit_code = 1

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class RolloutFileUnreadable(RolloutConfigError):
    """The rollout file cannot be read at all: an I/O problem (exit 2), not a finding."""

    exit_code = 2


@dataclass(frozen=True)
class Environment:
    color: str
    replicas: tuple[str, ...]  # host:port of each webhook replica
    traffic: float  # the share (percent) it serves when no release runs
    version: str | None


@dataclass(frozen=True)
class Phase:
    traffic_split: float  # percent of learners on the new color
    duration: float | None  # seconds; None = permanent (the cutover)
    rollback_on_error_rate: float | None  # percent
    rollback_on_latency_p99: float | None = None  # the new p99 may be this multiple of the old color's
    pause: bool = False  # Argo's `pause: {}`: the phase waits for `fiml-bot release resume` to advance


@dataclass(frozen=True)
class HaproxySettings:
    bind: str
    admin_socket: Path
    template: Path
    config: Path
    split_map: Path
    webhook_path: str
    maxconn: int
    internal_bind: str = "127.0.0.1:8444"  # /metrics, /readyz and /healthz: loopback only


@dataclass(frozen=True)
class RolloutConfig:
    path: Path
    environments: dict[str, Environment]
    phases: tuple[Phase, ...]
    analysis_interval: float
    min_samples: int
    confidence: float  # of the analysis' one-sided bounds (0-1)
    min_ready: int | None  # replicas of the new color that must be ready to advance; None = all
    readiness_interval: float
    readiness_timeout: float
    integrity_interval: float | None  # the doctor; None = not checked during a release
    automatic_rollback: bool
    error_rate_threshold: float | None
    latency_p99: float | None  # the default of the phases' rollback_on_latency_p99
    user_complaints: int | None  # learners' reports on the new color in a phase that roll it back
    rollback_on_migration_failure: bool
    rollback_on_integrity: bool
    haproxy: HaproxySettings
    state: Path
    metrics_file: Path

    def initial_stable(self) -> str:
        """The color serving everyone before any release: the one with traffic 100%."""
        return max(COLORS, key=lambda color: self.environments[color].traffic)

    def error_limit(self, phase: Phase) -> float | None:
        return (
            phase.rollback_on_error_rate
            if phase.rollback_on_error_rate is not None
            else self.error_rate_threshold
        )

    def latency_limit(self, phase: Phase) -> float | None:
        return (
            phase.rollback_on_latency_p99 if phase.rollback_on_latency_p99 is not None else self.latency_p99
        )

    def ready_needed(self, color: str) -> int:
        """How many of `color`'s replicas must be ready for a phase to advance or a promotion."""
        count = len(self.environments[color].replicas)
        return count if self.min_ready is None else min(self.min_ready, count)


def load(path: Path) -> RolloutConfig:
    """Read and check `path`; RolloutConfigError with every problem found."""
    from fiml_cms import yamlfile

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RolloutFileUnreadable(
            [f"{path}: cannot read the rollout file: {exc.strerror or exc}"]
        ) from None
    try:
        data = yamlfile.load(text)
    except yamlfile.YamlProblem as problem:
        raise RolloutConfigError([f"{path}:{problem.line}:{problem.column}: {problem.message}"]) from None
    reader = _Reader(path, text)
    config = reader.config(data)
    if reader.problems:
        raise RolloutConfigError(reader.located())
    assert config is not None
    return config


# ---------------------------------------------------------------------------------------------- parsing


class _Missing:
    pass


MISSING = _Missing()


class _Reader:
    """Walks the document, collecting (path, message) problems instead of stopping at the first."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.source = text
        self.base = path.parent
        self.problems: list[tuple[JsonPath, str]] = []

    def located(self) -> list[str]:
        from fiml_cms import yamlfile

        positions = yamlfile.locate(self.source, [(p, False) for p, _ in self.problems])
        located = sorted(
            (positions[(field_path, False)], _dotted(field_path), message)
            for field_path, message in self.problems
        )
        return [
            f"{self.path}:{line}:{column}: {field}: {message}" for (line, column), field, message in located
        ]

    def problem(self, path: JsonPath, message: str) -> None:
        self.problems.append((path, message))

    # -- typed getters ------------------------------------------------------------------------
    def mapping(self, value: Any, path: JsonPath, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping of fields ({', '.join(allowed)})")
            return {}
        for key in value:
            if key not in allowed:
                hint = suggest(str(key), [name for name in allowed if name not in value])
                self.problem(
                    path + (str(key),), f"unknown field {key!r}{hint} (allowed here: {', '.join(allowed)})"
                )
        return value

    def get(
        self,
        data: dict[str, Any],
        key: str,
        path: JsonPath,
        convert: Callable[[Any, JsonPath], Any],
        default: Any = MISSING,
    ) -> Any:
        if key not in data or data[key] is None:
            if default is MISSING:
                self.problem(path + (key,), "required field is missing")
                return None
            return default
        return convert(data[key], path + (key,))

    def percent(self, value: Any, path: JsonPath) -> float | None:
        number = value
        if isinstance(value, str) and value.strip().endswith("%"):
            try:
                number = float(value.strip()[:-1])
            except ValueError:
                number = None
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not 0 <= number <= 100:
            self.problem(path, f"expected a percentage from 0% to 100% (e.g. 10%), got {value!r}")
            return None
        return float(number)

    def duration(self, value: Any, path: JsonPath, permanent: bool = False) -> float | None:
        if permanent and value == PERMANENT:
            return None
        match = _DURATION.fullmatch(str(value).strip()) if isinstance(value, str) else None
        if match is None or float(match["number"]) <= 0:
            also = " or permanent" if permanent else ""
            self.problem(path, f"expected a duration like 500ms, 30s, 5m or 2h{also}, got {value!r}")
            return None
        return float(match["number"]) * _UNITS[match["unit"]]

    def positive_int(self, value: Any, path: JsonPath) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.problem(path, f"expected a whole number of at least 1, got {value!r}")
            return None
        return value

    def ratio(self, value: Any, path: JsonPath) -> float | None:
        """A multiple of the stable color's value, e.g. 1.5x."""
        match = _RATIO.fullmatch(value.strip()) if isinstance(value, str) else None
        if match is None or float(match["number"]) < 1:
            self.problem(
                path,
                f"expected a multiple of the stable color's p99 of at least 1x (e.g. 1.5x), got {value!r}",
            )
            return None
        return float(match["number"])

    def confidence(self, value: Any, path: JsonPath) -> float | None:
        number = self.percent(value, path)
        if number is not None and not 50 <= number < 100:
            self.problem(path, f"expected a confidence from 50% to 99.9% (e.g. 99%), got {value!r}")
            return None
        return number

    def boolean(self, value: Any, path: JsonPath) -> bool | None:
        if not isinstance(value, bool):
            self.problem(path, f"expected true or false, got {value!r}")
            return None
        return value

    def text(self, value: Any, path: JsonPath) -> str | None:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or str(value).strip() == "":
            self.problem(path, f"expected text, got {value!r}")
            return None
        return str(value)

    def file(self, value: Any, path: JsonPath) -> Path | None:
        text = self.text(value, path)
        return None if text is None else Path(os.path.normpath(self.base / text))

    def config_path(self, value: Any, path: JsonPath) -> Path | None:
        """A file path HAProxy's configuration names: nothing HAProxy could read as more than a path."""
        if not isinstance(value, str) or not _CONFIG_PATH.fullmatch(value) or "@" in value:
            self.problem(
                path,
                f"expected a file path (letters, digits and . _ + ~ / - only; no spaces, newlines, `@` or host:port), got {value!r}",
            )
            return None
        return self.file(value, path)

    def socket_path(self, value: Any, path: JsonPath) -> Path | None:
        found = self.config_path(value, path)
        if found is not None and len(os.fsencode(found)) > UNIX_PATH_MAX:
            self.problem(
                path,
                f"the socket's absolute path {found} is longer than a Unix socket allows ({UNIX_PATH_MAX} bytes)",
            )
            return None
        return found

    def url_path(self, value: Any, path: JsonPath) -> str | None:
        reserved = ("", "/healthz", "/readyz", "/metrics")
        if not isinstance(value, str) or not _URL_PATH.fullmatch(value) or value.rstrip("/") in reserved:
            self.problem(
                path,
                f"expected the webhook's URL path (e.g. /telegram; letters, digits and . _ ~ / - only; not /, /healthz, /readyz or /metrics), got {value!r}",
            )
            return None
        return value

    def loopback_address(self, value: Any, path: JsonPath) -> str | None:
        found = self.address(value, path)
        match = _ADDRESS.fullmatch(found) if found is not None else None
        if match is not None and not _LOOPBACK.fullmatch(match["host"]):
            self.problem(
                path,
                f"the internal bind serves /metrics and /readyz: give a loopback address (127.0.0.1:PORT or [::1]:PORT), got {value!r}",
            )
            return None
        return found

    def address(self, value: Any, path: JsonPath) -> str | None:
        match = _ADDRESS.fullmatch(value) if isinstance(value, str) else None
        if match is None or not 0 < int(match["port"]) < 65536:
            self.problem(path, f"expected host:port (e.g. 127.0.0.1:8101), got {value!r}")
            return None
        return value

    # -- the document ---------------------------------------------------------------------------
    def config(self, data: Any) -> RolloutConfig | None:
        top = self.mapping(data, (), ("deployment",))
        deployment = self.mapping(
            top.get("deployment"),
            ("deployment",),
            (
                "strategy",
                "environments",
                "rollout",
                "healthchecks",
                "rollback",
                "haproxy",
                "state",
                "metrics_file",
            ),
        )
        d: JsonPath = ("deployment",)
        strategy = deployment.get("strategy", "blue-green")
        if strategy != "blue-green":
            self.problem(d + ("strategy",), f"only blue-green is supported, got {strategy!r}")
        environments = self.environments(deployment.get("environments"), d + ("environments",))
        rollout = self.mapping(
            deployment.get("rollout", {}),
            d + ("rollout",),
            ("phases", "analysis_interval", "min_samples", "confidence", "min_ready"),
        )
        phases = self.phases(rollout.get("phases"), d + ("rollout", "phases"))
        interval = self.get(rollout, "analysis_interval", d + ("rollout",), self.duration, 30.0)
        min_samples = self.get(rollout, "min_samples", d + ("rollout",), self.positive_int, 50)
        confidence = self.get(rollout, "confidence", d + ("rollout",), self.confidence, 99.0)
        min_ready = self.get(rollout, "min_ready", d + ("rollout",), self.positive_int, None)
        readiness, integrity = self.healthchecks(deployment.get("healthchecks", []), d + ("healthchecks",))
        rollback = self.mapping(deployment.get("rollback", {}), d + ("rollback",), ("automatic", "triggers"))
        automatic = self.get(rollback, "automatic", d + ("rollback",), self.boolean, True)
        triggers = self.triggers(rollback.get("triggers", []), d + ("rollback", "triggers"))
        haproxy = self.haproxy(deployment.get("haproxy", {}), d + ("haproxy",))
        state = self.get(
            deployment,
            "state",
            d,
            self.file,
            Path(os.path.normpath(self.base.parent / "var" / "release" / "state.json")),
        )
        metrics_file = self.get(deployment, "metrics_file", d, self.file, None)
        if self.problems:
            return None
        return RolloutConfig(
            path=self.path,
            environments=environments,
            phases=phases,
            analysis_interval=interval,
            min_samples=min_samples,
            confidence=confidence / 100,
            min_ready=min_ready,
            readiness_interval=readiness[0],
            readiness_timeout=readiness[1],
            integrity_interval=integrity,
            automatic_rollback=automatic,
            error_rate_threshold=triggers.get("error_rate_threshold"),
            latency_p99=triggers.get("latency_p99"),
            user_complaints=triggers.get("user_complaints"),
            rollback_on_migration_failure=bool(triggers.get("database_migration_failure", True)),
            rollback_on_integrity=bool(triggers.get("user_progress_integrity", True)),
            haproxy=haproxy,
            state=state,
            metrics_file=metrics_file or state.with_name("release.prom"),
        )

    def environments(self, value: Any, path: JsonPath) -> dict[str, Environment]:
        data = self.mapping(value, path, COLORS)
        environments = {}
        for color in COLORS:
            if color not in data:
                if isinstance(value, dict):
                    self.problem(path + (color,), "required: both blue and green need replicas")
                continue
            where = path + (color,)
            env = self.mapping(data[color], where, ("version", "traffic", "instances", "replicas"))
            replicas = env.get("replicas")
            listed: list[Any] = replicas if isinstance(replicas, list) else []
            addresses: list[str] = []
            if not listed:
                self.problem(where + ("replicas",), "expected a list of host:port, one per webhook replica")
            else:
                addresses = [
                    a for i, item in enumerate(listed) if (a := self.address(item, where + ("replicas", i)))
                ]
            instances = self.get(env, "instances", where, self.positive_int, len(listed) or 1)
            if addresses and instances is not None and instances != len(listed):
                self.problem(
                    where + ("instances",), f"says {instances} but {len(listed)} replica(s) are listed"
                )
            traffic = self.get(env, "traffic", where, self.percent, 100.0 if color == "blue" else 0.0)
            version = self.get(env, "version", where, self.text, None)
            environments[color] = Environment(
                color, tuple(addresses), traffic if traffic is not None else 0.0, version
            )
        if len(environments) == 2:
            traffic = [environments[c].traffic for c in COLORS]
            if sorted(traffic) != [0.0, 100.0]:
                self.problem(
                    path,
                    f"one color must have traffic 100% and the other 0% between releases, got blue {traffic[0]:g}% and green {traffic[1]:g}%",
                )
            shared = set(environments["blue"].replicas) & set(environments["green"].replicas)
            if shared:
                self.problem(
                    path + ("green", "replicas"), f"{', '.join(sorted(shared))} is listed for blue too"
                )
        return environments

    def phases(self, value: Any, path: JsonPath) -> tuple[Phase, ...]:
        if not isinstance(value, list) or not value:
            self.problem(path, "expected a list of phases, e.g. - traffic_split: 10%")
            return ()
        phases: list[Phase] = []
        for i, item in enumerate(value):
            where = path + (i,)
            data = self.mapping(
                item,
                where,
                ("traffic_split", "duration", "rollback_on_error_rate", "rollback_on_latency_p99", "pause"),
            )
            split = self.get(data, "traffic_split", where, self.percent)
            duration = self.get(data, "duration", where, lambda v, p: self.duration(v, p, permanent=True))
            rate = self.get(data, "rollback_on_error_rate", where, self.percent, None)
            latency = self.get(data, "rollback_on_latency_p99", where, self.ratio, None)
            pause = self.get(data, "pause", where, self.boolean, False)
            if split is not None:
                if split == 0:
                    self.problem(
                        where + ("traffic_split",), "a phase must send some traffic to the new color"
                    )
                if phases and split <= phases[-1].traffic_split:
                    self.problem(
                        where + ("traffic_split",),
                        f"must be larger than the previous phase's {phases[-1].traffic_split:g}%",
                    )
            phases.append(Phase(split or 0.0, duration, rate, latency, bool(pause)))
        last = len(value) - 1
        if phases and phases[-1].traffic_split != 100:
            self.problem(
                path + (last, "traffic_split"), "the last phase must be the cutover: traffic_split: 100%"
            )
        for i, item in enumerate(value[:-1]):
            if isinstance(item, dict) and item.get("duration") == PERMANENT:  # not an unreadable duration
                self.problem(path + (i, "duration"), "only the last phase may be permanent")
        return tuple(phases)

    def healthchecks(self, value: Any, path: JsonPath) -> tuple[tuple[float, float], float | None]:
        readiness, integrity = (30.0, 5.0), None
        if not isinstance(value, list):
            self.problem(
                path,
                "expected a list of checks (- endpoint: /readyz, - custom_check: user_progress_integrity)",
            )
            return readiness, integrity
        for i, item in enumerate(value):
            where = path + (i,)
            data = self.mapping(item, where, ("endpoint", "custom_check", "interval", "timeout"))
            if "endpoint" in data:
                if data["endpoint"] not in ("/readyz", "/healthz", "/health"):
                    self.problem(
                        where + ("endpoint",),
                        f"the replicas serve /readyz (ready to take updates) and /healthz (up); got {data['endpoint']!r}",
                    )
                readiness = (
                    self.get(data, "interval", where, self.duration, 30.0) or 30.0,
                    self.get(data, "timeout", where, self.duration, 5.0) or 5.0,
                )
            elif data.get("custom_check") == "user_progress_integrity":
                integrity = self.get(data, "interval", where, self.duration, 300.0)
            elif isinstance(data, dict) and data:
                self.problem(
                    where,
                    "expected endpoint: /readyz or custom_check: user_progress_integrity (fiml-bot doctor)",
                )
        return readiness, integrity

    def triggers(self, value: Any, path: JsonPath) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if not isinstance(value, list):
            self.problem(path, "expected a list of triggers, e.g. - error_rate_threshold: 5%")
            return found
        for i, item in enumerate(value):
            where = path + (i,)
            if not isinstance(item, dict) or len(item) != 1:
                self.problem(where, f"expected one trigger per item: {', '.join(TRIGGERS)}")
                continue
            ((key, raw),) = item.items()
            if key == "error_rate_threshold":
                found[key] = self.percent(raw, where + (key,))
            elif key in ("database_migration_failure", "user_progress_integrity"):
                found[key] = self.boolean(raw, where + (key,))
            elif key == "latency_p99":
                found[key] = self.ratio(raw, where + (key,))
            elif key == "user_complaints":
                found[key] = self.positive_int(raw, where + (key,))
            else:
                self.problem(where + (str(key),), f"unknown trigger (known: {', '.join(TRIGGERS)})")
        return found

    def haproxy(self, value: Any, path: JsonPath) -> HaproxySettings:
        data = self.mapping(
            value,
            path,
            (
                "bind",
                "internal_bind",
                "admin_socket",
                "template",
                "config",
                "split_map",
                "webhook_path",
                "maxconn",
            ),
        )
        run = Path(os.path.normpath(self.base.parent / "var" / "release"))
        return HaproxySettings(
            bind=self.get(data, "bind", path, self.address, "127.0.0.1:8443") or "",
            internal_bind=self.get(data, "internal_bind", path, self.loopback_address, "127.0.0.1:8444")
            or "",
            admin_socket=self.get(data, "admin_socket", path, self.socket_path, run / "haproxy.sock"),
            template=self.get(data, "template", path, self.file, self.base / "haproxy.cfg"),
            config=self.get(data, "config", path, self.file, run / "haproxy.cfg"),
            split_map=self.get(data, "split_map", path, self.config_path, run / "split.map"),
            webhook_path=self.get(data, "webhook_path", path, self.url_path, "/telegram") or "/telegram",
            maxconn=self.get(data, "maxconn", path, self.positive_int, 2000) or 2000,
        )


def _dotted(path: JsonPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"
