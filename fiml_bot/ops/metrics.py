"""Prometheus metrics of the bot (prometheus_client), in a registry of their own.

Names follow Prometheus conventions (`_total` counters, `_seconds` units). Labels stay low-cardinality:
no learner ids; lesson ids and versions only where the catalogue bounds them (the per-version metrics
an author compares during a content canary).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..tutor.observe import ActionEvents

UPDATE_KINDS = ("message", "callback_query", "other")
OUTCOMES = ("ok", "user_error", "failed")
TELEGRAM_METHODS = (
    "sendMessage",
    "editMessageText",
    "answerCallbackQuery",
    "setWebhook",
    "setMyCommands",
    "sendPhoto",
    "deleteMessage",
)
BUDGET_FALLBACK_REASONS = ("unreachable", "error")
CONTENT_TYPE = CONTENT_TYPE_LATEST
# An update takes 1-20 ms here; a slow database or Telegram pushes it to seconds.
DURATION_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class BotMetrics:
    """Every metric the bot exports; implements the tutor's `Observer`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        disable_created_metrics()  # the *_created series only double what a scrape has to carry
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self._declare_updates(r)
        self._declare_lessons(r)
        self._declare_operations(r)
        self.market_data = Counter(
            "fiml_market_data_requests",
            "Data-provider calls for live sections, by provider and outcome (ok, rate_limited, throttled, bad_key, no_data, error; deadline: a section sent with its fallback without waiting longer).",
            ("provider", "outcome"),
            registry=r,
        )
        for kind in UPDATE_KINDS:
            for outcome in OUTCOMES:
                self.updates.labels(kind, outcome)  # exported at 0 from the start, so rates work at once
        self.content_refresh_age.set_function(lambda: 0.0)
        for method in TELEGRAM_METHODS:
            self.telegram_errors.labels(method, "429")  # at 0 from the start: the first 429 is an increase
        for reason in BUDGET_FALLBACK_REASONS:
            self.budget_fallbacks.labels(reason)

    def _declare_updates(self, r: CollectorRegistry) -> None:
        """Telegram updates: how many, how long, and what the version policy did."""
        self.updates = Counter(
            "fiml_updates",
            "Telegram updates handled, by update kind and outcome (ok, user_error, failed).",
            ("kind", "outcome"),
            registry=r,
        )
        self.update_duration = Histogram(
            "fiml_update_duration_seconds",
            "Time from receiving an update to its last reply sent.",
            ("kind",),
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.policy_actions = Counter(
            "fiml_policy_actions",
            "Version-policy moves (SPEC §5) applied to learners.",
            ("action",),
            registry=r,
        )

    def _declare_lessons(self, r: CollectorRegistry) -> None:
        """Learning: attempts, quiz answers and XP, per lesson and version (what a content canary compares)."""
        self.lesson_starts = Counter(
            "fiml_lesson_starts",
            "Lesson attempts started, by lesson and version.",
            ("lesson", "version"),
            registry=r,
        )
        self.lesson_completions = Counter(
            "fiml_lesson_completions",
            "Lessons completed (quiz passed), by lesson and version.",
            ("lesson", "version"),
            registry=r,
        )
        self.lesson_abandons = Counter(
            "fiml_lesson_abandons",
            "Attempts that ended without a completion (restarted, moved by the policy, retried after a failed quiz).",
            ("lesson", "version"),
            registry=r,
        )
        self.quiz_answers = Counter(
            "fiml_quiz_answers",
            "Quiz answers graded, by lesson, version and result (correct, wrong).",
            ("lesson", "version", "result"),
            registry=r,
        )
        self.xp_awarded = Counter("fiml_xp_awarded", "XP paid into learners' ledgers.", registry=r)
        self.learner_reports = Counter(
            "fiml_learner_reports",
            "Problems reported by learners (a button or /report), by lesson and version.",
            ("lesson", "version"),
            registry=r,
        )

    def _declare_operations(self, r: CollectorRegistry) -> None:
        """Operations: Telegram and database errors, content and flag reloads, the build, alerts and notices."""
        self.telegram_errors = Counter(
            "fiml_telegram_api_errors",
            "Failed Bot API calls, by method and error code (HTTP status, or timeout/network).",
            ("method", "code"),
            registry=r,
        )
        self.budget_fallbacks = Counter(
            "fiml_send_budget_fallbacks",
            "Sends limited by the process alone because the shared send budget failed, by reason "
            "(unreachable: an outage; error: a script or protocol error, a bug).",
            ("reason",),
            registry=r,
        )
        self.db_errors = Counter(
            "fiml_db_errors", "Actions that failed because the database was unavailable.", registry=r
        )
        self.content_refresh_age = Gauge(
            "fiml_content_refresh_age_seconds", "Seconds since the content was last (re)loaded.", registry=r
        )
        self.build = Info(
            "fiml_build",
            "The running bot: package version, database schema revision, content ref and deployment color.",
            registry=r,
        )
        self.alerts = Counter(
            "fiml_alerts",
            "Alert deliveries, by receiver (webhook, telegram) and outcome (sent, retried, failed, dropped).",
            ("receiver", "outcome"),
            registry=r,
        )
        self.notices = Counter(
            "fiml_notices",
            "Messages the bot starts (notify, announce, remind), by kind (update_notice, announcement, reminder, rescore, review) and outcome (sent, retried, blocked, failed).",
            ("kind", "outcome"),
            registry=r,
        )
        self.flag_reloads = Counter(
            "fiml_flags_reloads",
            "Feature-flag file loads, by outcome (loaded, unchanged, invalid).",
            ("outcome",),
            registry=r,
        )
        self.flags_loaded_at = Gauge(
            "fiml_flags_last_load_timestamp_seconds",
            "When the flag file was last loaded successfully (Unix time).",
            registry=r,
        )

    # -- the tutor's Observer ---------------------------------------------------------------
    def action_done(self, events: ActionEvents) -> None:
        for lesson, version in events.starts:
            self.lesson_starts.labels(lesson, version).inc()
        for lesson, version in events.completions:
            self.lesson_completions.labels(lesson, version).inc()
        for lesson, version in events.abandons:
            self.lesson_abandons.labels(lesson, version).inc()
        for lesson, version, correct in events.answers:
            self.quiz_answers.labels(lesson, version, "correct" if correct else "wrong").inc()
        for lesson, version in events.reports:
            self.learner_reports.labels(lesson, version).inc()
        for action in events.policy_actions:
            self.policy_actions.labels(action).inc()
        if events.xp:
            self.xp_awarded.inc(events.xp)

    def storage_error(self) -> None:
        self.db_errors.inc()

    # -- the rest -----------------------------------------------------------------------------
    def update_done(self, kind: str, outcome: str, seconds: float) -> None:
        self.updates.labels(kind, outcome).inc()
        self.update_duration.labels(kind).observe(seconds)

    def telegram_error(self, method: str, code: str) -> None:
        self.telegram_errors.labels(method if method in TELEGRAM_METHODS else "other", code).inc()

    def market_data_request(self, provider: str, outcome: str) -> None:
        self.market_data.labels(provider, outcome).inc()

    def send_budget_fallback(self, reason: str) -> None:
        self.budget_fallbacks.labels(reason).inc()

    def watch_content(self, refresh_age: Callable[[], float]) -> None:
        """`refresh_age` gives the seconds since the content's last successful refresh."""
        self.content_refresh_age.set_function(refresh_age)

    def set_build(self, *, version: str, schema_revision: str, content_ref: str, color: str) -> None:
        self._build_labels = {
            "version": version,
            "schema_revision": schema_revision,
            "content_ref": content_ref,
            "color": color,
        }
        self.build.info(self._build_labels)

    def set_content_ref(self, content_ref: str) -> None:
        """After a content refresh: fiml_build_info says which content commit is served now."""
        labels = getattr(self, "_build_labels", None)
        if labels is not None and labels["content_ref"] != content_ref:
            self.set_build(**{**labels, "content_ref": content_ref})

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def serve(self, port: int, addr: str = "0.0.0.0") -> object:
        """/metrics on its own port (polling mode, notify): a daemon thread of prometheus_client."""
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        return server
