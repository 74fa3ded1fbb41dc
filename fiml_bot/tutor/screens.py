"""The screens that are not about one lesson: welcome, help, time zone and progress."""

from __future__ import annotations

from dataclasses import replace

from . import gamification, zones
from .callbacks import ListPage, ShowProgress, encode
from .messages import Button, Message
from .model import COMPLETED
from .observe import USER_ERROR
from .turn import Turn

HOME = ((Button("📚 Lessons", encode(ListPage(0))), Button("📈 My progress", encode(ShowProgress()))),)


def start(turn: Turn) -> list[Message]:
    hello = f"Welcome{', ' + turn.learner.name if turn.learner.name else ''}! 👋"
    text = (
        f"{hello}\n\nI teach trading and investing basics in short lessons: read a few screens, "
        "answer a quick quiz, earn XP and badges, and keep a daily streak."
    )
    return [Message(text, HOME)]


def help_message(above: str = "") -> Message:
    """The commands and the menu; `above` (e.g. why it is shown) goes first, so the menu is shown once."""
    return Message(
        (f"{above}\n\n" if above else "")
        + "**Commands**\n\n/lessons: browse the lessons\n/progress: your XP, level, streak and badges\n"
        "/timezone Europe/Berlin: set your time zone (streaks follow your calendar day)\n"
        "/report: tell the authors about a problem in the section or question you are at\n"
        "/settings: which messages I may send you\n/help: this list\n\n"
        "Tap the buttons under my messages to move on; type a number to answer a numeric question.",
        HOME,
    )


def set_time_zone(turn: Turn, typed: str) -> list[Message]:
    """`/timezone` alone shows the zone; a name is matched ignoring case, a typo gets a did-you-mean."""
    typed = typed.strip()
    if not typed:
        return [
            Message(
                f"Your time zone is {turn.learner.time_zone}: your streak follows the calendar day there.\n\n"
                "To change it, send /timezone with a name like Europe/Berlin, America/New_York or UTC."
            )
        ]
    zone = zones.canonical_zone(typed)
    if zone is None:
        turn.events.outcome = USER_ERROR
        close = zones.close_zones(typed)
        hint = (
            "Did you mean " + " or ".join(f"/timezone {c}" for c in close) + "?"
            if close
            else "Use a name like Europe/Berlin, America/New_York or UTC."
        )
        return [Message(f"I don't know the time zone {typed!r}. {hint}")]
    turn.learner = turn.repo.save_learner(replace(turn.learner, time_zone=zone))
    return [Message(f"Time zone set to {zone}. Your streak now follows the calendar day there.")]


def progress_screen(turn: Turn) -> list[Message]:
    total = turn.repo.xp_total(turn.learner_id)
    level, into, needed = gamification.level_progress(total)  # needed: the size of this level
    streak = gamification.streak_status(turn.learner, turn.now)
    done = [p for p in turn.repo.all_progress(turn.learner_id) if p.status == COMPLETED]
    going = [p for p in turn.repo.all_progress(turn.learner_id) if p.status != COMPLETED]
    badges = sorted(b.badge for b in turn.repo.badges(turn.learner_id))
    next_text = f"{into}/{needed} XP to level {level + 1}" if needed else "top level reached"
    lines = [
        "**Your progress**",
        f"⭐ {total} XP · level {level} ({gamification.level_name(level)}) · {next_text}",
        f"🔥 streak: {streak} day{'s' if streak != 1 else ''}"
        + (" · streak freeze ready" if gamification.freeze_ready(turn.learner, turn.now) else ""),
        f"✅ {len(done)} lesson{'s' if len(done) != 1 else ''} completed · ▶️ {len(going)} in progress",
    ]
    if badges:
        lines.append("🏅 " + ", ".join(gamification.badge_title(b) for b in badges))
    return [Message("\n".join(lines), HOME)]
