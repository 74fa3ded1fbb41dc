"""Alerts a command posts when it is done (FIML_ALERT_WEBHOOK_URL, Alertmanager's v4 payload).

An alert that cannot be sent never changes the command's outcome: the services return why, as a
warning the command prints.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..ops.alerts import Alert

ALERT_FLUSH_SECONDS = 10.0


def send_alert(
    env: Mapping[str, str], name: str, severity: str, summary: str, description: str = ""
) -> str | None:
    """Post an alert from a command; nothing when FIML_ALERT_WEBHOOK_URL is unset.

    A command is about to exit, so the send is flushed, bounded: a down receiver costs at most a few
    seconds and never changes the command's exit code. Returns why it was not sent, if it was not.
    """
    return post_alert(env, Alert(name, severity, summary, description))


def post_alert(env: Mapping[str, str], alert: Alert) -> str | None:
    """`send_alert` for a ready Alert (a resolved one too)."""
    from ..ops.alerts import AlertConfigError, from_env

    try:
        sender = from_env(env)
    except AlertConfigError as exc:  # the command's own outcome stands
        return f"alert {alert.name} not sent: {exc}"
    if sender is not None:
        sender.send(alert)
        sender.flush(timeout=ALERT_FLUSH_SECONDS)
    return None
