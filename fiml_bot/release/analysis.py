"""Canary analysis: the colors' update outcomes from their replicas' /metrics, and the verdict.

Counters are read from each replica (prometheus_client's text parser) and turned into increases
since the phase began; a replica that restarted (its counter went down) counts from zero again,
and one that cannot be reached adds nothing this time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

UPDATES = "fiml_updates"  # fiml_updates_total{kind,outcome}; outcome ok | user_error | failed
SCRAPE_TIMEOUT = 3.0


@dataclass(frozen=True)
class Counts:
    total: float = 0.0
    failed: float = 0.0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.total + other.total, self.failed + other.failed)

    @property
    def error_rate(self) -> float:
        """Failed updates as a percent of all updates (0 with none)."""
        return 100.0 * self.failed / self.total if self.total else 0.0


@dataclass(frozen=True)
class Scrape:
    counts: Counts
    build: Mapping[str, str] = field(default_factory=dict)  # fiml_build_info's labels


def parse(text: str) -> Scrape:
    """Update counts and build labels from one replica's Prometheus exposition."""
    total = failed = 0.0
    build: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        if family.name == UPDATES:
            for sample in family.samples:
                if sample.name == UPDATES + "_total":
                    total += sample.value
                    if sample.labels.get("outcome") == "failed":
                        failed += sample.value
        elif family.name in ("fiml_build", "fiml_build_info"):
            for sample in family.samples:
                build = dict(sample.labels)
    return Scrape(Counts(total, failed), build)


def scrape(address: str, timeout: float = SCRAPE_TIMEOUT) -> Scrape | None:
    """One replica's metrics; None when it cannot be reached (it is down, or restarting)."""
    import httpx

    try:
        response = httpx.get(f"http://{address}/metrics", timeout=timeout, trust_env=False)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    return parse(response.text)


def increase(now: Counts, before: Counts | None) -> Counts:
    """What a replica's counters added since `before` (a restart starts them at zero again)."""
    if before is None or now.total < before.total or now.failed < before.failed:
        return now
    return Counts(now.total - before.total, now.failed - before.failed)


@dataclass(frozen=True)
class Verdict:
    action: str  # "breach" | "wait" | "healthy"
    reason: str


def judge(canary: Counts, stable: Counts, limit: float | None, min_samples: int) -> Verdict:
    """Breach when the canary fails more than the phase allows AND more than the stable color does
    (an outage failing both colors alike is not the release's fault); too few samples means wait."""
    if canary.total < min_samples:
        return Verdict(
            "wait", f"{canary.total:.0f} update(s) on the new color, fewer than min_samples {min_samples}"
        )
    if limit is not None and canary.error_rate > limit and canary.error_rate > stable.error_rate:
        return Verdict(
            "breach",
            f"error rate {canary.error_rate:.1f}% on the new color ({canary.failed:.0f} of {canary.total:.0f}) over the phase's {limit:g}% (stable: {stable.error_rate:.1f}% of {stable.total:.0f})",
        )
    return Verdict(
        "healthy",
        f"error rate {canary.error_rate:.1f}% on the new color ({canary.total:.0f} updates), stable {stable.error_rate:.1f}% ({stable.total:.0f})",
    )
