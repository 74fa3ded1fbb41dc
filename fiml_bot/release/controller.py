"""The release controller: phases of a blue-green canary, analysis, promotion and automatic rollback.

Every step is recorded in the state file before the process moves on and is safe to repeat (setting
the split is idempotent), so a killed `fiml-bot release start` resumes where it stopped.

The evidence is looked at every EVALUATE_EVERY seconds (a breach rolls back at once); what the
analysis concluded is logged every `analysis_interval`, or when it changes. Health gates hold a
release (no phase advance, no promotion) while the new color has too few ready replicas.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from fiml_cms.errors import FimlError, UsageError

from . import analysis
from .analysis import Counts
from .config import COLORS, Phase, RolloutConfig
from .haproxy import RuntimeApi, Split, other
from .state import IDLE, PROMOTED, ROLLED_BACK, RUNNING, ReleaseState, load, locked, save

log = logging.getLogger("fiml_bot.release")
EVALUATE_EVERY = 0.5  # seconds between two looks at the replicas' metrics: within 1 s of the evidence
DOCTOR_WAIT = 0.05  # how long a look waits for the doctor before it moves on

Check = Callable[[], "str | None"]  # None when fine, else what is wrong


class ReleaseError(FimlError):
    """The release's state refuses the command (another release running, none to promote, the new
    color not ready or on another version): exit 1, as the README's table has a refusal."""

    exit_code = 1


class ReleaseRefused(FimlError):
    """A command that would be unsafe now (e.g. learners onto a color with replicas down): exit 1."""

    exit_code = 1


@dataclass
class Hooks:
    """What a release needs from outside HAProxy; each may be None (not checked)."""

    doctor: Check | None = None  # fiml-bot doctor on the shared database
    migrate: Callable[[], tuple[str | None, str | None]] | None = (
        None  # -> (schema before, snapshot); raises on failure
    )
    # (name, severity, summary[, resolved=True]) -> delivered
    alert: Callable[..., bool] | None = None
    ready: Callable[[str], str | None] = field(default=lambda address: None)  # a replica's /readyz
    scrape: Callable[[str], analysis.Scrape | None] = analysis.scrape
    metrics: Callable[[ReleaseState], None] | None = None  # export the state (textfile)
    # (replicas, seconds): return as soon as one of them failed an update, or after the seconds
    watch: Callable[[tuple[str, ...], float], None] | None = None


class Release:
    def __init__(
        self,
        config: RolloutConfig,
        api: RuntimeApi,
        hooks: Hooks,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        out: Callable[[str], None] = print,
    ) -> None:
        self.config = config
        self.api = api
        self.hooks = hooks
        self.clock = clock
        self.sleep = sleep
        self.out = out
        self._reported_at = float("-inf")  # when the analysis was last logged
        self._reported = ""  # what it concluded then (logged again when it changes)
        self._doctors = ThreadPoolExecutor(1, thread_name_prefix="release-doctor")
        self._doctor: Future[str | None] | None = None  # the doctor's run under way

    # -- state ----------------------------------------------------------------------------------
    def state(self) -> ReleaseState:
        stable = self.config.initial_stable()
        return load(self.config.state, stable, other(stable))

    def step(self, state: ReleaseState, name: str, detail: str) -> None:
        """Record a step (state file first, then the log line and the metrics)."""
        state.record(name, detail, self.clock())
        save(self.config.state, state)
        self.out(f"release: {name}: {detail}")
        log.info("%s: %s", name, detail)
        if self.hooks.metrics is not None:
            self.hooks.metrics(state)

    def apply_split(self, state: ReleaseState) -> Split:
        return self.api.set_split(state.split)

    # -- the commands -------------------------------------------------------------------------------
    def start(self, version: str, *, migrate: bool = False, follow: bool = True) -> ReleaseState:
        if follow and self.hooks.watch is not None:  # watched before it gets a learner: its first
            self.hooks.watch(self.config.environments[self.state().canary].replicas, 0)  # failure counts
        with locked(self.config.state):
            state = self._start(version, migrate)
        if follow:
            self.follow(state)
        return state

    def _start(self, version: str, migrate: bool) -> ReleaseState:
        state = self.state()
        if state.status == RUNNING:
            if state.release != version:
                raise ReleaseError(
                    f"release {state.release} is running on {state.canary}: promote it or roll it back before starting {version}"
                )
            self.step(
                state,
                "resume",
                f"release {version} on {state.canary}, phase {state.phase + 1} of {len(self.config.phases)} at {state.canary_percent}%",
            )
            self.apply_split(state)
        else:
            self.preflight(state.canary, version)
            state = ReleaseState(
                stable=state.stable, canary=state.canary, release=version, status=RUNNING, seen=state.seen
            )
            self.step(state, "start", f"release {version} on {state.canary} (stable: {state.stable})")
            if migrate and self.hooks.migrate is not None and not self.migrate(state):
                return state
            self.enter_phase(state, 0)
        return state

    def preflight(self, canary: str, version: str) -> None:
        """The new color must be up and run the version named, before it gets a single learner."""
        problems = []
        for address in self.config.environments[canary].replicas:
            reason = self.hooks.ready(address)
            if reason is not None:
                problems.append(f"{canary} replica {address} is not ready: {reason}")
                continue
            scraped = self.hooks.scrape(address)
            running = scraped.build.get("version") if scraped is not None else None
            if running != version:
                problems.append(
                    f"{canary} replica {address} runs version {running or 'unknown'}, not {version}"
                )
        if problems:
            raise ReleaseError("cannot start the release: " + "; ".join(problems))

    def migrate(self, state: ReleaseState) -> bool:
        assert self.hooks.migrate is not None
        try:
            state.schema_before, state.snapshot = self.hooks.migrate()
        except Exception as exc:  # any failure of the migration is the trigger
            if self.config.rollback_on_migration_failure:
                self.rollback(state, f"database migration failed: {exc}")
                return False
            raise
        self.step(
            state, "migrate", f"database upgraded (was {state.schema_before}; snapshot {state.snapshot})"
        )
        return True

    def enter_phase(self, state: ReleaseState, index: int) -> None:
        phase = self.config.phases[index]
        state.phase, state.phase_started = index, self.clock()
        self.baseline(state)
        if phase.traffic_split >= 100 and phase.duration is None:
            self.promote(state, "the last phase is the cutover")
            return
        state.canary_percent = round(phase.traffic_split)
        state.paused = state.paused or phase.pause
        self.apply_split(state)
        limit = self.config.error_limit(phase)
        self.step(
            state,
            "phase",
            f"{index + 1} of {len(self.config.phases)}: {state.canary_percent}% of learners on {state.canary}"
            + (f" for {phase.duration:g} s" if phase.duration else "")
            + (f", rollback above {limit:g}% errors" if limit is not None else "")
            + (", then waits for `fiml-bot release resume`" if phase.pause else ""),
        )

    def follow(self, state: ReleaseState) -> None:
        """Look at the evidence every EVALUATE_EVERY seconds until the release is promoted or rolled back."""
        every = min(EVALUATE_EVERY, self.config.analysis_interval)
        while state.status == RUNNING:
            if self.hooks.watch is not None:  # a failure on the new color wakes the analysis at once
                self.hooks.watch(self.config.environments[state.canary].replicas, every)
            else:
                self.sleep(every)
            self.tick(state)

    def tick(self, state: ReleaseState) -> None:
        """One analysis interval: keep HAProxy on the recorded split, read the colors, decide."""
        with locked(self.config.state):
            self._tick(state)

    def _tick(self, state: ReleaseState) -> None:
        recorded = self.state()  # an operator may have rolled back, paused or switched by hand meanwhile
        if recorded.release == state.release:
            state.adopt(recorded)
        if state.status != RUNNING:
            self.out(f"release: {state.release} is {state.status} (by hand); this process stops")
            return
        now = self.clock()
        periodic = now - self._reported_at >= self.config.analysis_interval
        if periodic:
            self.apply_split(state)  # e.g. HAProxy restarted from an old map meanwhile
        counts = self.read_counts(state)
        canary, stable = counts[state.canary], counts[state.stable]
        phase = self.config.phases[state.phase]
        verdict = analysis.judge(canary, stable, self.limits(phase))
        if verdict.action == "breach" and self.config.automatic_rollback:
            self.rollback(state, verdict.reason)  # first: every other check costs time the learners pay
            return
        ready, reasons = self.ready_replicas(state.canary)
        trigger = (
            f"no replica of {state.canary} is ready: {reasons[0]}" if ready == 0 else None
        ) or self.doctor_problem(state)
        if trigger is not None and self.config.automatic_rollback:
            self.rollback(state, trigger)
            return
        self.gate(state, ready, reasons)
        elapsed = now - state.phase_started
        if (
            verdict.action == "healthy"
            and phase.duration is not None
            and elapsed >= phase.duration
            and not state.hold
            and not state.paused
        ):
            self.step(state, "analysis", f"phase {state.phase + 1} passed: {verdict.reason}")
            if state.phase + 1 < len(self.config.phases):
                self.enter_phase(state, state.phase + 1)
            else:
                self.promote(state, "every phase passed")
            return
        held = "paused by hand" if state.paused else state.hold
        conclusion = f"{verdict.action}{'; held: ' + held if held else ''}"
        if periodic or conclusion != self._reported:
            self._reported_at, self._reported = now, conclusion
            self.step(
                state,
                "analysis",
                f"{verdict.action}: {verdict.reason}; {elapsed:.0f} s into phase {state.phase + 1}"
                + (f"; held: {held}" if held else ""),
            )
        else:
            save(self.config.state, state)  # the counters read, so a restarted process counts on

    def limits(self, phase: Phase) -> analysis.Limits:
        return analysis.Limits(
            error_rate=self.config.error_limit(phase),
            min_samples=self.config.min_samples,
            confidence=self.config.confidence,
            latency_p99=self.config.latency_limit(phase),
            complaints=self.config.user_complaints,
        )

    def ready_replicas(self, color: str) -> tuple[int, list[str]]:
        """How many of `color`'s replicas answer /readyz now, and why the others do not."""
        replicas = self.config.environments[color].replicas
        with ThreadPoolExecutor(len(replicas)) as pool:
            answers = list(pool.map(self.hooks.ready, replicas))
        reasons = [f"{address}: {reason}" for address, reason in zip(replicas, answers) if reason is not None]
        return len(self.config.environments[color].replicas) - len(reasons), reasons

    def gate(self, state: ReleaseState, ready: int, reasons: list[str]) -> None:
        """Hold while fewer of the new color's replicas are ready than the rollout needs; say so once."""
        needed = self.config.ready_needed(state.canary)
        replicas = len(self.config.environments[state.canary].replicas)
        hold = (
            f"{ready} of {replicas} {state.canary} replica(s) ready, {needed} needed to advance ({'; '.join(reasons)})"
            if ready < needed
            else ""
        )
        if hold == state.hold:
            return
        was = state.hold
        state.hold = hold
        if hold and not was:
            self.step(state, "hold", f"release {state.release} holds at {state.canary_percent}%: {hold}")
            self.notify(
                state,
                "ReleaseHeld",
                "warning",
                f"release {state.release} holds at {state.canary_percent}% on {state.canary}: {hold}",
            )
        elif hold:
            self.step(state, "hold", f"still holding: {hold}")
        else:
            self.step(state, "hold", f"cleared: every needed {state.canary} replica is ready again")
            self.resolve_hold(state, "every needed replica is ready again")

    def resolve_hold(self, state: ReleaseState, why: str) -> None:
        """ReleaseHeld is resolved once its condition clears (or the release ends while holding)."""
        self.notify(
            state,
            "ReleaseHeld",
            "warning",
            f"release {state.release} no longer holds on {state.canary}: {why}",
            resolved=True,
        )

    def baseline(self, state: ReleaseState) -> None:
        """A phase counts from here: every replica's counters as they are now."""
        state.phase_counts = {color: Counts().as_dict() for color in COLORS}
        for color in COLORS:
            for address in self.config.environments[color].replicas:
                scraped = self.hooks.scrape(address)
                if scraped is not None:
                    state.seen[address] = scraped.counts.as_dict()

    def read_counts(self, state: ReleaseState) -> dict[str, Counts]:
        """Each color's update counts since the phase began, from its replicas' /metrics (read at once)."""
        addresses = [a for color in COLORS for a in self.config.environments[color].replicas]
        with ThreadPoolExecutor(len(addresses)) as pool:
            scrapes = dict(zip(addresses, pool.map(self.hooks.scrape, addresses)))
        for color in COLORS:
            total = Counts.from_dict(state.phase_counts.get(color))
            for address in self.config.environments[color].replicas:
                scraped = scrapes[address]
                if scraped is None:
                    continue
                before = state.seen.get(address)
                total = total + analysis.increase(
                    scraped.counts, Counts.from_dict(before) if before is not None else None
                )
                state.seen[address] = scraped.counts.as_dict()
            state.phase_counts[color] = total.as_dict()
        return {color: Counts.from_dict(state.phase_counts[color]) for color in COLORS}

    def doctor_problem(self, state: ReleaseState) -> str | None:
        """The doctor's finding, when it is due; it runs beside the analysis (it takes seconds on a
        big database, and the evidence of a broken canary must not wait for it)."""
        interval = self.config.integrity_interval
        if self.hooks.doctor is None or interval is None or not self.config.rollback_on_integrity:
            return None
        if self._doctor is None:
            if self.clock() - state.doctor_at < interval:
                return None
            state.doctor_at = self.clock()
            self._doctor = self._doctors.submit(self.hooks.doctor)
        try:
            problem = self._doctor.result(timeout=DOCTOR_WAIT)
        except FutureTimeout:
            return None  # still running: its answer is read at a later look
        self._doctor = None
        return None if problem is None else f"fiml-bot doctor found problems: {problem}"

    def promote(self, state: ReleaseState, why: str) -> None:
        """The new color takes every learner and becomes the stable one."""
        if state.status not in (RUNNING,):
            raise ReleaseError(f"there is no running release to promote (status: {state.status})")
        new_stable = state.canary
        state.stable, state.canary, state.canary_percent = new_stable, other(new_stable), 0
        self.apply_split(state)
        held = state.hold
        state.status, state.reason, state.hold, state.paused = PROMOTED, why, "", False
        if held:
            self.resolve_hold(state, f"the release was promoted ({why})")
        self.step(state, "promote", f"release {state.release}: {new_stable} serves every learner ({why})")
        self.notify(
            state,
            "ReleasePromoted",
            "info",
            f"release {state.release} promoted: {new_stable} is stable ({why})",
        )

    def rollback(self, state: ReleaseState, reason: str) -> None:
        """Every learner back on the stable color; the state, the metrics and an alert say why."""
        state.canary_percent = 0
        self.apply_split(state)
        was_running, held = state.status == RUNNING, state.hold
        state.status, state.reason, state.hold, state.paused = ROLLED_BACK, reason, "", False
        if held:
            self.resolve_hold(state, f"the release was rolled back ({reason})")
        self.step(
            state, "rollback", f"release {state.release}: every learner back on {state.stable}: {reason}"
        )
        if was_running or not state.alerted:
            self.notify(
                state,
                "ReleaseRolledBack",
                "critical",
                f"release {state.release} rolled back to {state.stable}: {reason}",
            )

    def notify(
        self, state: ReleaseState, name: str, severity: str, summary: str, *, resolved: bool = False
    ) -> None:
        """Post an alert (Alertmanager's payload), or with `resolved` its resolution."""
        what = f"{name} (resolved)" if resolved else name
        if self.hooks.alert is None:
            self.step(state, "alert", f"{what} not sent: FIML_ALERT_WEBHOOK_URL is not set")
            return
        delivered = (
            self.hooks.alert(name, severity, summary, resolved=True)
            if resolved
            else self.hooks.alert(name, severity, summary)
        )
        if not resolved:
            state.alerted = delivered
        self.step(state, "alert", f"{what} {'sent' if delivered else 'NOT delivered (see the log)'}")

    def switch(self, color: str, percent: int) -> Split:
        """Give `color` `percent`% of learners by hand (the stable color keeps whoever is not moved)."""
        if color not in COLORS or not 0 <= percent <= 100:
            raise UsageError(f"give blue or green and a percent from 0 to 100, got {color} {percent}")
        with locked(self.config.state):
            state = self.state()
            state.canary_percent = percent if color == state.canary else 100 - percent
            split = self.apply_split(state)
            self.step(
                state,
                "switch",
                f"{color} now serves {split.share(color)}% of learners ({other(color)} {split.share(other(color))}%)",
            )
        return split

    def manual_rollback(self, reason: str) -> ReleaseState:
        with locked(self.config.state):
            return self._manual_rollback(reason)

    def _manual_rollback(self, reason: str) -> ReleaseState:
        state = self.state()
        if state.status == PROMOTED:
            self.return_to_previous(state, reason)
            return state
        if state.status == IDLE and state.canary_percent == 0:
            self.step(state, "rollback", f"nothing to roll back: {state.stable} already serves every learner")
            return state
        self.rollback(state, reason)
        return state

    def return_to_previous(self, state: ReleaseState, reason: str) -> None:
        """After a promotion: every learner back on the color before it, once its replicas are ready."""
        previous = state.canary
        ready, reasons = self.ready_replicas(previous)
        needed = self.config.ready_needed(previous)
        if ready < needed:
            raise ReleaseRefused(
                f"cannot return learners to {previous} (the color before release {state.release}): "
                f"{ready} of {len(self.config.environments[previous].replicas)} replica(s) ready, {needed} needed "
                f"({'; '.join(reasons)}); start {previous}'s replicas on the previous version, check them with "
                f"`fiml-bot release health {previous}`, then run `fiml-bot release rollback` again"
            )
        promoted = state.stable
        state.stable, state.canary, state.canary_percent = previous, promoted, 0
        self.apply_split(state)
        state.status, state.reason, state.hold, state.paused = ROLLED_BACK, reason, "", False
        self.step(
            state,
            "rollback",
            f"release {state.release} undone after its promotion: every learner back on {previous}: {reason}",
        )
        self.notify(
            state,
            "ReleaseRolledBack",
            "critical",
            f"release {state.release} rolled back to {previous} after its promotion: {reason}",
        )

    def abort(self, reason: str) -> ReleaseState:
        """The running release's rollback, with the operator's reason."""
        with locked(self.config.state):
            state = self.state()
            if state.status != RUNNING:
                raise ReleaseRefused(
                    f"no release is running (status: {state.status}); after a promotion `fiml-bot release rollback` returns learners to the previous color"
                )
            self.rollback(state, f"aborted: {reason}")
            return state

    def pause(self, paused: bool) -> ReleaseState:
        """Hold the running release where it is (`paused`), or let it continue; breaches still roll back."""
        with locked(self.config.state):
            state = self.state()
            if state.status != RUNNING:
                raise ReleaseRefused(
                    f"no release is running (status: {state.status}): nothing to pause or resume"
                )
            if state.paused == paused:
                self.out(f"release: {state.release} is already {'paused' if paused else 'running'}")
                return state
            state.paused = paused
            where = f"phase {state.phase + 1} at {state.canary_percent}% on {state.canary}"
            if paused:
                self.step(
                    state,
                    "pause",
                    f"release {state.release} paused at {where}: no phase advances until `fiml-bot release resume`",
                )
            else:
                self.step(state, "continue", f"release {state.release} continues from {where}")
            return state

    def manual_promote(self) -> ReleaseState:
        with locked(self.config.state):
            return self._manual_promote()

    def _manual_promote(self) -> ReleaseState:
        state = self.state()
        if state.status == PROMOTED:
            self.step(
                state, "promote", f"release {state.release} is already promoted ({state.stable} is stable)"
            )
            return state
        if state.status == RUNNING:
            ready, reasons = self.ready_replicas(state.canary)
            needed = self.config.ready_needed(state.canary)
            if ready < needed:
                raise ReleaseRefused(
                    f"not promoting release {state.release}: {ready} of {len(self.config.environments[state.canary].replicas)} "
                    f"{state.canary} replica(s) ready, {needed} needed ({'; '.join(reasons)}); check them with "
                    f"`fiml-bot release health {state.canary}`"
                )
        self.promote(state, "promoted by hand")
        return state
