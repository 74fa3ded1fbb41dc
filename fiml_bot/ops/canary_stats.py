"""Is a content canary worse for learners than the stable version? The statistics, as pure functions.

Each comparison counts a bad outcome on both sides: a wrong first answer to a question (per question
id), an attempt not completed, an attempt abandoned, a learner who reported a problem. The watcher
looks again and again as learners arrive and compares several outcomes at once, so the error budget
`alpha = 1 - confidence` is split over the comparisons (Bonferroni), and each comparison's test stays
valid however often it is looked at:

- First answers (the outcome a wrong answer key moves most) are judged by an e-process, the exact
  sequential two-sample test of Turner, Ly and Grunwald ("Generic E-variables for exact sequential
  k-sample tests that allow for optional stopping"): the answers, in the order given, are cut into
  blocks of one canary answer and up to 4 stable ones, and each block multiplies the evidence by its
  likelihood under an alternative "canary bad rate ta > stable bad rate tb" over its likelihood under
  the pooled rate; that factor's mean is at most 1 under any common rate, so the product is a test
  supermartingale and (Ville) it ever reaches `comparisons / alpha` with probability at most
  `alpha / comparisons`. The alternatives, a grid of (ta, tb), are mixed with equal weights. It pays
  no price per look: a wrong key is rolled back after about a dozen canary learners answered the
  question (`bench/canary_rollback.py`).
- The other outcomes (per learner, known only once an attempt ends) use Fisher's exact test (one-sided),
  with the comparison's share of alpha spent over the sample sizes a comparison is looked at: at N
  observations it may spend `share / (2.11 (N + 1) ln(N + 1)^2)`, a series that sums to at most the share.

So, for identical content, the chance that the watcher *ever* rolls back is at most `alpha`.

Promotion needs enough canary learners and, for every comparison, evidence that the canary is not
worse by more than `margin`: the one-sided upper confidence bound of its excess bad rate (Wald) stays
below the margin.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

ROLLBACK = "rollback"
PROMOTE = "promote"
WAIT = "wait"


@dataclass(frozen=True)
class Settings:
    confidence: float = 0.99  # of "the canary is worse" before rolling back; of "not worse" to promote
    min_learners: int = 200  # canary learners before a promotion is considered
    margin: float = 0.10  # how much worse (in rate) still counts as "not worse" for a promotion


@dataclass(frozen=True)
class Outcome:
    """One comparison's counts: `bad` of `n` on each side."""

    metric: str  # "first answers q3", "not completed", "abandoned", "reported a problem"
    canary_bad: int
    canary_n: int
    stable_bad: int
    stable_n: int
    good_word: str = ""  # for display: "correct", "completed" (rates shown as the good share) or ""
    # first answers only: the blocks of canary and stable answers by kind (`blocks`), judged by the
    # e-process instead of Fisher's test
    blocks: tuple[tuple[Block, int], ...] | None = None


@dataclass(frozen=True)
class Comparison:
    outcome: Outcome
    p_value: float | None  # None: a side has no observations yet; for first answers, 1 / the e-value
    limit: float  # the p-value under which the canary counts as worse (at this sample size)
    excess_upper: float | None  # upper bound of canary bad rate - stable bad rate
    worse: bool
    not_worse: bool


@dataclass(frozen=True)
class Verdict:
    action: str  # ROLLBACK, PROMOTE or WAIT
    reason: str
    comparisons: tuple[Comparison, ...]
    canary_learners: int
    stable_learners: int


def fisher_greater(canary_bad: int, canary_n: int, stable_bad: int, stable_n: int) -> float:
    """P(canary has >= canary_bad bad outcomes | both sides' totals), under "same rate" (one-sided)."""
    total, bad = canary_n + stable_n, canary_bad + stable_bad
    low, high = max(0, bad - stable_n), min(bad, canary_n)
    if canary_bad <= low:
        return 1.0

    def log_term(k: int) -> float:
        return _log_comb(bad, k) + _log_comb(total - bad, canary_n - k) - _log_comb(total, canary_n)

    mode = (canary_n + 1) * (bad + 1) // (total + 2)  # the hypergeometric's most likely count
    if canary_bad > mode:  # the upper tail, decreasing from canary_bad on
        return min(1.0, _tail(log_term, range(canary_bad, high + 1)))
    return max(0.0, 1.0 - _tail(log_term, range(canary_bad - 1, low - 1, -1)))  # 1 - the lower tail


def _tail(log_term: Callable[[int], float], ks: range) -> float:
    """The sum of a tail whose terms only shrink along `ks`: stops once they no longer count."""
    first = log_term(ks[0]) if ks else -math.inf
    if first == -math.inf:
        return 0.0
    total = 0.0
    for k in ks:
        ratio = math.exp(log_term(k) - first)
        total += ratio
        if ratio < 1e-17 * total:
            break
    return math.exp(first) * total


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


# The alternatives mixed (bad rates on the canary, on stable): every grid pair with the canary worse.
_GRID = tuple(0.05 + 0.1 * i for i in range(10))
ALTERNATIVES = tuple((ta, tb) for ta in _GRID for tb in _GRID if ta > tb)
BLOCK_STABLE = 4  # at most this many stable answers beside each canary answer in a block

Block = tuple[int, int, int]  # (stable answers in it, canary answer wrong 0/1, stable answers wrong)


def blocks(sequence: list[tuple[bool, bool]], most: int = BLOCK_STABLE) -> dict[Block, int]:
    """Cut the answers, in the order given as (on the canary, correct), into blocks of one canary answer
    and the up to `most` stable answers waiting when it can be paired, each answer in one block; the
    blocks by kind. The cut depends only on who answered when, never on the answers' marks, so under
    "same rate" each block's marks are still independent draws (what `block_factor` needs)."""
    kinds: dict[Block, int] = {}
    waiting_canary: deque[bool] = deque()  # wrong?
    waiting_stable: deque[bool] = deque()
    for on_canary, correct in sequence:
        (waiting_canary if on_canary else waiting_stable).append(not correct)
        if waiting_canary and waiting_stable:
            wrong = waiting_canary.popleft()
            taken = [waiting_stable.popleft() for _ in range(min(most, len(waiting_stable)))]
            kind = (len(taken), int(wrong), sum(taken))
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def block_factor(ta: float, tb: float, block: Block) -> float:
    """The log e-value of one block against "same rate" for the alternative (canary bad rate ta,
    stable tb). Its mean is at most 1 whatever the common rate: the null's closest point to the
    alternative is the pooled rate t0 = (ta + r tb) / (1 + r) (Turner et al.)."""
    r, a, k = block
    t0 = (ta + r * tb) / (1 + r)
    alternative = math.log(ta if a else 1 - ta) + k * math.log(tb) + (r - k) * math.log(1 - tb)
    null = (a + k) * math.log(t0) + (1 + r - a - k) * math.log(1 - t0)
    return alternative - null


def block_evalue(kinds: dict[Block, int]) -> float:
    """The mixture e-value after these blocks (1 before any): the mean over the alternatives."""
    if not kinds:
        return 1.0
    logs = [sum(n * block_factor(ta, tb, kind) for kind, n in kinds.items()) for ta, tb in ALTERNATIVES]
    top = max(logs)
    log_mean = top + math.log(sum(math.exp(v - top) for v in logs) / len(logs))
    return math.exp(min(log_mean, 700.0))


SPENDING_SUM = (
    2.11  # >= the sum over n >= 1 of 1 / ((n + 1) ln(n + 1)^2) (2.1097...), so the shares add to <= 1
)


def limit_at(alpha: float, comparisons: int, observations: int) -> float:
    """The per-look p-value limit: alpha split over the comparisons and over every sample size n,
    in shares 1 / (SPENDING_SUM (n + 1) ln(n + 1)^2) that add up to at most 1."""
    n = max(1, observations)
    return alpha / max(1, comparisons) / (SPENDING_SUM * (n + 1) * math.log(n + 1) ** 2)


def excess_upper(outcome: Outcome, confidence: float) -> float | None:
    """One-sided upper bound of (canary bad rate - stable bad rate), Wald; None without data."""
    if outcome.canary_n == 0 or outcome.stable_n == 0:
        return None
    pc, ps = outcome.canary_bad / outcome.canary_n, outcome.stable_bad / outcome.stable_n
    spread = math.sqrt(pc * (1 - pc) / outcome.canary_n + ps * (1 - ps) / outcome.stable_n)
    return pc - ps + NormalDist().inv_cdf(confidence) * spread


def judge(outcomes: list[Outcome], settings: Settings, canary_learners: int, stable_learners: int) -> Verdict:
    """Roll back when any outcome is worse on the canary with the confidence; promote when none is
    (and every one is within the margin) with enough canary learners; else wait."""
    alpha = 1.0 - settings.confidence
    compared = [o for o in outcomes if o.canary_n and o.stable_n]
    results = []
    for outcome in outcomes:
        has_data = outcome.canary_n > 0 and outcome.stable_n > 0
        p: float | None
        if outcome.blocks is not None:  # sequential: no price per look, so the plain Bonferroni share
            p = min(1.0, 1.0 / block_evalue(dict(outcome.blocks))) if has_data else None
            limit = alpha / max(1, len(compared))
        else:
            p = (
                fisher_greater(outcome.canary_bad, outcome.canary_n, outcome.stable_bad, outcome.stable_n)
                if has_data
                else None
            )
            limit = limit_at(alpha, len(compared), outcome.canary_n + outcome.stable_n)
        upper = excess_upper(outcome, settings.confidence)
        results.append(
            Comparison(
                outcome,
                p,
                limit,
                upper,
                worse=p is not None and p <= limit,
                not_worse=upper is not None and upper <= settings.margin,
            )
        )
    worse = [c for c in results if c.worse]
    if worse:
        names = ", ".join(c.outcome.metric for c in worse)
        reason = f"the canary is worse with {settings.confidence:.4g} confidence: {names}"
        return Verdict(ROLLBACK, reason, tuple(results), canary_learners, stable_learners)
    if canary_learners < settings.min_learners:
        reason = f"{canary_learners} of {settings.min_learners} canary learners needed to promote; nothing is worse so far"
        return Verdict(WAIT, reason, tuple(results), canary_learners, stable_learners)
    unsure = [c.outcome.metric for c in results if not c.not_worse]
    if unsure:
        reason = f"not yet shown within {settings.margin:.0%} of stable: {', '.join(unsure)}"
        return Verdict(WAIT, reason, tuple(results), canary_learners, stable_learners)
    reason = f"not worse than stable (within {settings.margin:.0%}) with {canary_learners} canary learners"
    return Verdict(PROMOTE, reason, tuple(results), canary_learners, stable_learners)


def render(verdict: Verdict, canary_version: str, stable_version: str) -> str:
    """The comparison as a table of numbers, then the verdict."""
    header = f"  {'outcome':<24} {'canary ' + canary_version:>22} {'stable ' + stable_version:>22} {'p':>9} {'limit':>9}  verdict"
    lines = [
        f"learners since the canary began: {verdict.canary_learners} on {canary_version}, "
        f"{verdict.stable_learners} on {stable_version}",
        header,
    ]
    for c in verdict.comparisons:
        o = c.outcome
        p = "-" if c.p_value is None else f"{c.p_value:.2g}"
        state = "WORSE" if c.worse else "not worse" if c.not_worse else "-"
        lines.append(
            f"  {o.metric:<24} {_rate(o.canary_bad, o.canary_n, o.good_word):>22} "
            f"{_rate(o.stable_bad, o.stable_n, o.good_word):>22} {p:>9} {c.limit:>9.2g}  {state}"
        )
    lines.append(f"verdict: {verdict.action}: {verdict.reason}")
    return "\n".join(lines)


def _rate(bad: int, n: int, good_word: str) -> str:
    if n == 0:
        return "no data"
    if good_word:
        return f"{n - bad}/{n} {good_word} ({(n - bad) / n:.0%})"
    return f"{bad}/{n} ({bad / n:.0%})"
