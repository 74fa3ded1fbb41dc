"""What a simulation run is asked to do (`Config`) and what it found (`Report`, `Violation`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fiml_bot.tutor.policy import Action, PolicySettings


@dataclass(frozen=True)
class Config:
    learners: int = 100
    seed: int = 20261201
    warmup_max: int = 45  # actions per learner before the first release: uniform 0..warmup_max
    phase_max: int = 10  # actions per learner between two releases: uniform 0..phase_max (when not idle)
    idle: float = 0.3  # probability that a learner does nothing between two releases
    correct: float = 0.8  # probability of answering a question correctly
    stale: float = 0.04  # probability of pressing an old button instead of a current one
    chaos: float = 0.02  # probability of garbage (unknown command, forged data, free text)
    replay: float = 0.02  # probability that the platform delivers the previous update again
    database_url: str | None = None  # default: a SQLite file in the work folder
    policy: PolicySettings = field(default_factory=PolicySettings)
    # The rename is published as a major version of the new id, while the learners' pinned versions stay
    # published under the old id's tags. True: such a version is still resolvable (follow `replaces`), and
    # since the content did not change, it is no new edition: auto-migrate; False: treat it as "no longer
    # resolvable" (FORCED_RESTART).
    renamed_versions_resolvable: bool = True
    max_examples: int = 6  # violations kept per kind (all are counted)


@dataclass
class Violation:
    kind: str
    learner: str
    detail: str


CATEGORIES = (  # the first whose words appear in a violation's kind names its category
    ("errors", ("logged an error", "failure reply")),
    ("idempotency", ("repeated update",)),
    ("xp", ("XP", "paid", "ledger", "xp_reward")),
    ("completions", ("completion",)),
    (
        "policy",
        (
            "CHOICE",
            "AUTO_MIGRATE",
            "FORCED_RESTART",
            "NONE",
            "restart",
            "continue",
            "Updated",
            "retake",
            "new start",
            "prerequisites",
            "did not do",
            "record disappeared",
            "stale or repeated answer",
            "§5",
        ),
    ),
    ("messages", ("message", "reply", "button", "callback", "label")),
    ("records", ("record", "section", "graded", "pinned version", "lesson it was not about")),
)


def category(kind: str) -> str:
    for name, words in CATEGORIES:
        if any(word in kind for word in words):
            return name
    return "other"


@dataclass
class Report:
    config: Config
    actions: int = 0
    replays: int = 0
    seconds: float = 0.0
    handle_seconds: float = 0.0
    release_seconds: float = 0.0
    releases: list[tuple[str, list[str]]] = field(default_factory=list)
    decisions: Counter = field(default_factory=Counter)  # §5 decisions checked, by action
    decisions_by_release: dict[str, Counter] = field(default_factory=dict)
    paths: Counter = field(default_factory=Counter)  # oracle paths taken (open, next, answer, ...)
    violation_counts: Counter = field(default_factory=Counter)
    violations: list[Violation] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    warnings: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.violation_counts

    def failures(self, *categories: str) -> list[str]:
        """The violation kinds (with counts and examples) in those categories: empty when they held."""
        out = []
        for kind, n in self.violation_counts.most_common():
            if category(kind) in categories:
                examples = [v for v in self.violations if v.kind == kind][:3]
                out.append(f"{n}× {kind}" + "".join(f"\n    {v.learner}: {v.detail[:600]}" for v in examples))
        return out

    def summary(self) -> str:
        lines = [
            (
                f"learners {self.config.learners}, seed {self.config.seed}, actions {self.actions} (+{self.replays} replayed updates), "
                f"{self.seconds:.1f} s in all, {self.handle_seconds:.1f} s in Tutor.handle ({self.actions / max(self.handle_seconds, 1e-9):.0f} actions/s), "
                f"{self.release_seconds:.1f} s publishing"
            ),
            "releases: " + "; ".join(f"{name}: {', '.join(tags)}" for name, tags in self.releases),
            "§5 decisions checked: " + ", ".join(f"{a}: {n}" for a, n in sorted(self.decisions.items())),
        ]
        for name, counts in self.decisions_by_release.items():
            moved = {a: n for a, n in counts.items() if a != Action.NONE.value}
            if moved:
                lines.append(f"  after {name}: " + ", ".join(f"{a}: {n}" for a, n in sorted(moved.items())))
        lines.append("oracle paths: " + ", ".join(f"{p}: {n}" for p, n in sorted(self.paths.items())))
        lines += [f"checkpoint {c}" for c in self.checkpoints]
        lines.append("final: " + ", ".join(f"{k}: {v}" for k, v in self.final.items()))
        if self.warnings:
            lines.append(
                "bot warnings logged: " + "; ".join(f"{n}× {w}" for w, n in self.warnings.most_common(8))
            )
        if self.ok:
            lines.append("INVARIANTS HOLD: 0 violations")
        else:
            lines.append(
                f"VIOLATIONS: {sum(self.violation_counts.values())} in {len(self.violation_counts)} kinds"
            )
            for kind, n in self.violation_counts.most_common():
                lines.append(f"  {n}× [{category(kind)}] {kind}")
                for v in [v for v in self.violations if v.kind == kind][: self.config.max_examples]:
                    lines.append(f"      {v.learner}: {v.detail}")
        return "\n".join(lines)
