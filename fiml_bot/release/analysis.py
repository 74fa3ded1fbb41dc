"""Canary analysis: the colors' update outcomes from their replicas' /metrics, and the verdict.

Counters are read from each replica (prometheus_client's text parser) and turned into increases
since the phase began; a replica that restarted (its counter went down) counts from zero again,
and one that cannot be reached adds nothing this time.

The verdict is sequential (re-judged every second on everything seen so far): a one-sided
Clopper-Pearson bound on the new color's failure ratio decides. The lower bound above the phase's
threshold is certain evidence of a breach, whatever the number of samples (two failures of two
already are at 99 %); the upper bound below it, with `min_samples` updates seen, lets the phase pass.
The same test judges latency (the share of the new color's updates slower than the allowed multiple
of the old color's p99, against the 1 % a p99 allows) and complaints are counted against a limit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

UPDATES = "fiml_updates"  # fiml_updates_total{kind,outcome}; outcome ok | user_error | failed
DURATION = "fiml_update_duration_seconds"  # histogram{kind}
REPORTS = "fiml_learner_reports"  # fiml_learner_reports_total{lesson,version}: learners' problem reports
SCRAPE_TIMEOUT = 3.0
P99_SHARE = 0.01  # under a p99 at most 1 % of updates may be slower
LATENCY_MIN_STABLE = 100  # the old color's p99 needs this many updates to mean anything


@dataclass(frozen=True)
class Counts:
    total: float = 0.0
    failed: float = 0.0
    reports: float = 0.0
    buckets: tuple[tuple[float, float], ...] = ()  # (le, cumulative count) of the duration histogram

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.total + other.total,
            self.failed + other.failed,
            self.reports + other.reports,
            _merge(self.buckets, other.buckets, 1.0),
        )

    @property
    def error_rate(self) -> float:
        """Failed updates as a percent of all updates (0 with none)."""
        return 100.0 * self.failed / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, float]:
        """For the state file: flat numbers (histogram buckets as `le=...`)."""
        data = {"total": self.total, "failed": self.failed, "reports": self.reports}
        data.update({f"le={le!r}": count for le, count in self.buckets})
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, float] | None) -> Counts:
        data = data or {}
        buckets = tuple(sorted((float(k[3:]), float(v)) for k, v in data.items() if k.startswith("le=")))
        return cls(
            float(data.get("total", 0.0)),
            float(data.get("failed", 0.0)),
            float(data.get("reports", 0.0)),
            buckets,
        )

    def quantile(self, q: float) -> float | None:
        """The q-quantile of the update durations (Prometheus' histogram_quantile); None without data."""
        finite = [(le, c) for le, c in self.buckets if math.isfinite(le)]
        count = self.buckets[-1][1] if self.buckets else 0.0
        if count <= 0 or not finite:
            return None
        rank = q * count
        lower_le, lower_count = 0.0, 0.0
        for le, cumulative in finite:
            if cumulative >= rank:
                inside = cumulative - lower_count
                return lower_le + (le - lower_le) * ((rank - lower_count) / inside if inside else 1.0)
            lower_le, lower_count = le, cumulative
        return finite[-1][0]  # in the +Inf bucket: the largest bound is all that is known

    def slower_than(self, seconds: float) -> float | None:
        """Updates that certainly took longer than `seconds` (above the first bucket bound >= it)."""
        if not self.buckets:
            return None
        count = self.buckets[-1][1]
        for le, cumulative in self.buckets:
            if le >= seconds and math.isfinite(le):
                return count - cumulative
        return None  # beyond the histogram's largest bound: cannot tell


def _merge(
    a: tuple[tuple[float, float], ...], b: tuple[tuple[float, float], ...], sign: float
) -> tuple[tuple[float, float], ...]:
    merged = dict(a)
    for le, count in b:
        merged[le] = merged.get(le, 0.0) + sign * count
    return tuple(sorted(merged.items()))


@dataclass(frozen=True)
class Scrape:
    counts: Counts
    build: Mapping[str, str] = field(default_factory=dict)  # fiml_build_info's labels


def parse(text: str) -> Scrape:
    """Update counts, latency buckets, reports and build labels from one replica's exposition."""
    total = failed = reports = 0.0
    buckets: dict[float, float] = {}
    build: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        if family.name == UPDATES:
            for sample in family.samples:
                if sample.name == UPDATES + "_total":
                    total += sample.value
                    if sample.labels.get("outcome") == "failed":
                        failed += sample.value
        elif family.name == DURATION:
            for sample in family.samples:
                if sample.name == DURATION + "_bucket":
                    le = float(sample.labels["le"])
                    buckets[le] = buckets.get(le, 0.0) + sample.value
        elif family.name == REPORTS:
            reports += sum(s.value for s in family.samples if s.name == REPORTS + "_total")
        elif family.name in ("fiml_build", "fiml_build_info"):
            for sample in family.samples:
                build = dict(sample.labels)
    return Scrape(Counts(total, failed, reports, tuple(sorted(buckets.items()))), build)


@functools.cache
def http() -> Any:
    """One HTTP client for the process's looks at the replicas (thread-safe; a new client per look
    cost ~100 ms of CPU for its TLS context, which the analysis pays every half second)."""
    import httpx

    return httpx.Client(trust_env=False)


def scrape(address: str, timeout: float = SCRAPE_TIMEOUT) -> Scrape | None:
    """One replica's metrics; None when it cannot be reached (it is down, or restarting)."""
    import httpx

    try:
        response = http().get(f"http://{address}/metrics", timeout=timeout)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    return parse(response.text)


def increase(now: Counts, before: Counts | None) -> Counts:
    """What a replica's counters added since `before` (a restart starts them at zero again)."""
    if (
        before is None
        or now.total < before.total
        or now.failed < before.failed
        or now.reports < before.reports
    ):
        return now
    return Counts(
        now.total - before.total,
        now.failed - before.failed,
        now.reports - before.reports,
        _merge(now.buckets, before.buckets, -1.0),
    )


# ------------------------------------------------------------------------------------ the statistics


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-14
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def _solve(f: object, target: float, increasing: bool) -> float:
    low, high = 0.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        value = f(mid)  # type: ignore[operator]
        if (value < target) == increasing:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def lower_bound(failed: float, total: float, confidence: float) -> float:
    """One-sided Clopper-Pearson lower bound of the failure ratio (0 without failures)."""
    if failed <= 0 or total <= 0:
        return 0.0
    failed = min(failed, total)
    alpha = 1.0 - confidence
    # P(X >= failed | p) = I_p(failed, total - failed + 1) grows with p; the bound is where it is alpha
    return _solve(lambda p: betainc(failed, total - failed + 1.0, p), alpha, increasing=True)


def upper_bound(failed: float, total: float, confidence: float) -> float:
    """One-sided Clopper-Pearson upper bound of the failure ratio (1 with no updates)."""
    if total <= 0 or failed >= total:
        return 1.0
    alpha = 1.0 - confidence
    # P(X <= failed | p) = 1 - I_p(failed + 1, total - failed) falls with p
    return _solve(lambda p: 1.0 - betainc(failed + 1.0, total - failed, p), alpha, increasing=False)


# ------------------------------------------------------------------------------------------ verdicts


@dataclass(frozen=True)
class Verdict:
    action: str  # "breach" | "wait" | "healthy"
    reason: str


@dataclass(frozen=True)
class Limits:
    """What a phase allows the new color; None = not judged."""

    error_rate: float | None  # percent
    min_samples: int
    confidence: float = 0.99  # of each bound (one-sided)
    latency_p99: float | None = None  # the new color's p99 may be this multiple of the old color's
    complaints: int | None = None  # learners' reports on the new color this phase


def judge(canary: Counts, stable: Counts, limits: Limits) -> Verdict:
    """Breach as soon as any judged signal is certainly over its limit; healthy only when the errors
    are certainly under theirs with `min_samples` updates; else wait."""
    for breach in (
        _errors_breach(canary, stable, limits),
        _latency_breach(canary, stable, limits),
        _complaints_breach(canary, stable, limits),
    ):
        if breach is not None:
            return Verdict("breach", breach)
    rate = f"error rate {canary.error_rate:.1f}% on the new color ({canary.failed:.0f} of {canary.total:.0f}), stable {stable.error_rate:.1f}% ({stable.total:.0f})"
    if canary.total < limits.min_samples:
        return Verdict(
            "wait",
            f"{canary.total:.0f} update(s) on the new color, fewer than min_samples {limits.min_samples}; {rate}",
        )
    if limits.error_rate is not None:
        threshold = max(limits.error_rate, stable.error_rate)
        upper = 100 * upper_bound(canary.failed, canary.total, limits.confidence)
        if upper > threshold:
            return Verdict(
                "wait",
                f"{rate}: not yet {limits.confidence:.0%} sure it is under {threshold:g}% (could be {upper:.1f}%)",
            )
    return Verdict("healthy", rate)


def _errors_breach(canary: Counts, stable: Counts, limits: Limits) -> str | None:
    """Certainly over the phase's limit AND over what the stable color fails (an outage failing both
    colors alike is not the release's fault)."""
    if limits.error_rate is None:
        return None
    threshold = max(limits.error_rate, stable.error_rate)
    lower = 100 * lower_bound(canary.failed, canary.total, limits.confidence)
    if lower <= threshold:
        return None
    return (
        f"error rate {canary.error_rate:.1f}% on the new color ({canary.failed:.0f} of {canary.total:.0f}; "
        f"{limits.confidence:.0%} sure it is above {lower:.1f}%) over the phase's {limits.error_rate:g}% "
        f"(stable: {stable.error_rate:.1f}% of {stable.total:.0f})"
    )


def _latency_breach(canary: Counts, stable: Counts, limits: Limits) -> str | None:
    """More than 1 % of the new color's updates certainly slower than the allowed multiple of the old
    color's p99 means the new p99 is over it."""
    if limits.latency_p99 is None or stable.total < LATENCY_MIN_STABLE:
        return None
    stable_p99 = stable.quantile(0.99)
    if stable_p99 is None:
        return None
    allowed = limits.latency_p99 * stable_p99
    slow = canary.slower_than(allowed)
    if slow is None or slow <= 0:
        return None
    lower = lower_bound(slow, canary.total, limits.confidence)
    if lower <= P99_SHARE:
        return None
    p99 = canary.quantile(0.99)
    return (
        f"p99 latency {1000 * (p99 or 0):.0f} ms on the new color over {limits.latency_p99:g}x the stable "
        f"color's {1000 * stable_p99:.0f} ms ({slow:.0f} of {canary.total:.0f} updates slower than {1000 * allowed:.0f} ms)"
    )


def _complaints_breach(canary: Counts, stable: Counts, limits: Limits) -> str | None:
    """The limit's number of learners' reports on the new color, at a higher rate than on the old."""
    if limits.complaints is None or canary.reports < limits.complaints:
        return None
    canary_rate = canary.reports / canary.total if canary.total else math.inf
    stable_rate = stable.reports / stable.total if stable.total else 0.0
    if canary_rate <= stable_rate:
        return None
    return (
        f"{canary.reports:.0f} learner report(s) on the new color this phase (limit {limits.complaints}), "
        f"{canary_rate:.1%} of its updates against {stable_rate:.1%} on the stable color"
    )
