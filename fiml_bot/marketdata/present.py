"""What a learner reads under live data: the figures, their time, and the not-advice note (pure)."""

from __future__ import annotations

import datetime as dt

from fiml_cms.message import UNAVAILABLE as UNAVAILABLE  # the note above a fallback: fiml_cms/message.py

from .model import History, Quote

NOT_ADVICE = "_Educational example, not investment advice._"


def as_of(quote: Quote | History, today: dt.date | None = None) -> str:
    """ "as of 14:32 UTC, 15 min delayed" (a date-only provider: "as of the close of 2026-12-04")."""
    if isinstance(quote, History):
        return f"as of the close of {quote.time.date().isoformat()}"
    if quote.date_only:
        return f"as of the close of {quote.time.date().isoformat()}"
    text = f"as of {quote.time:%H:%M} UTC"
    if quote.time.date() != (today or dt.datetime.now(dt.UTC).date()):
        text = f"as of {quote.time:%Y-%m-%d %H:%M} UTC"
    return text + (f", {quote.delay_minutes} min delayed" if quote.delay_minutes else "")


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _amount(value: float) -> str:
    for size, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"{value / size:.2f}{unit}"
    return f"{value:,.0f}"


def metric_lines(quote: Quote, metrics: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The lines for `metrics` this quote has, and the names of those it does not have."""
    shown: list[str] = []
    missing: list[str] = []
    for metric in metrics:
        line = _metric(quote, metric)
        if line is None:
            missing.append(metric.replace("_", " "))
        else:
            shown.append(line)
    return shown, missing


def _metric(q: Quote, metric: str) -> str | None:
    if metric == "price":
        return f"Price: {_money(q.price)}"
    if metric == "bid" and q.bid is not None:
        return f"Bid: {_money(q.bid)}"
    if metric == "ask" and q.ask is not None:
        return f"Ask: {_money(q.ask)}"
    if metric == "spread" and q.bid is not None and q.ask is not None:
        spread = q.ask - q.bid
        mid = (q.ask + q.bid) / 2
        return f"Spread: {_money(spread)} ({spread / mid * 100:.3f}% of the mid price)" if mid else None
    if metric == "volume" and q.volume is not None:
        return f"Volume: {_amount(q.volume)}"
    if metric == "change_percent" and q.change_percent is not None:
        change = f"{q.change:+,.2f}, " if q.change is not None else ""
        return f"Change: {change}{q.change_percent:+.2f}%"
    if metric == "day_range" and q.day_low is not None and q.day_high is not None:
        return f"Day range: {_money(q.day_low)} – {_money(q.day_high)}"
    return None


def quote_text(quote: Quote, metrics: tuple[str, ...], fallback: str, stated: str | None) -> str | None:
    """The live block of a live_example; None when the quote has none of the figures asked for."""
    shown, missing = metric_lines(quote, metrics)
    if not shown:
        return None
    parts = [f"📊 `{quote.symbol}` live, {as_of(quote)} ({quote.provider})", "\n".join(shown)]
    if missing:
        parts.append(
            f"_{', '.join(missing).capitalize()}: not given by {quote.provider}; the lesson's figures"
            + (f" (as of {stated})" if stated else "")
            + f":_\n\n{fallback}"
        )
    parts.append(NOT_ADVICE)
    return "\n\n".join(parts)


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 40) -> str:
    """A text chart for a terminal: `width` bars, each the mean of its slice of `values`."""
    if not values:
        return ""
    if len(values) > width:
        step = len(values) / width
        values = [
            sum(values[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)])
            / len(values[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)])
            for i in range(width)
        ]
    low, high = min(values), max(values)
    span = high - low or 1.0
    return "".join(SPARKS[min(int((v - low) / span * len(SPARKS)), len(SPARKS) - 1)] for v in values)


def chart_summary(history: History) -> str:
    """One line under a chart: first and last close, the change, low and high of the period."""
    closes = [c.close for c in history.candles]
    first, last = closes[0], closes[-1]
    change = (last - first) / first * 100 if first else 0.0
    return (
        f"`{history.symbol}` {history.period}: {_money(first)} → {_money(last)} ({change:+.1f}%), "
        f"low {_money(min(c.low for c in history.candles))}, high {_money(max(c.high for c in history.candles))}; "
        f"{as_of(history)} ({history.provider})"
    )
