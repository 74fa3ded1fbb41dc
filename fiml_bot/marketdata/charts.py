"""Chart sections as PNG pictures (matplotlib's Agg canvas, no pyplot: safe in a worker thread).

Rendering takes tens of milliseconds of CPU, so the service runs it in a thread (never on the event
loop) and caches the picture per symbol, period and kind for the quote TTL.
"""

from __future__ import annotations

import io

from .model import History

WIDTH, HEIGHT, DPI = 960, 540, 100  # pixels: Telegram shows photos up to 1280 px wide without scaling
UP, DOWN = "#26a69a", "#ef5350"


def warm_up() -> None:
    """Import matplotlib in a background thread (about a second), so the first chart is not the one
    that pays for it; called when the bot starts with a provider, never at import time."""
    import threading

    def load() -> None:
        from matplotlib import figure  # noqa: F401
        from matplotlib.backends import backend_agg  # noqa: F401

    threading.Thread(target=load, name="matplotlib-warm-up", daemon=True).start()


def render_png(history: History, kind: str) -> bytes:
    """A `kind` chart of `history`: line, candlestick or bar (OHLC bars: high-low with open and close
    ticks); an unknown kind is drawn as a line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    candles = history.candles
    xs = list(range(len(candles)))
    closes = [c.close for c in candles]
    if kind == "candlestick":
        colors = [UP if c.close >= c.open else DOWN for c in candles]
        axes.vlines(xs, [c.low for c in candles], [c.high for c in candles], colors=colors, linewidth=0.8)
        axes.bar(
            xs,
            [abs(c.close - c.open) or (c.high - c.low) * 0.02 or 0.01 for c in candles],
            bottom=[min(c.open, c.close) for c in candles],
            color=colors,
            width=0.7,
        )
    elif kind == "bar":
        colors = [UP if c.close >= c.open else DOWN for c in candles]
        axes.vlines(xs, [c.low for c in candles], [c.high for c in candles], colors=colors, linewidth=1.0)
        axes.hlines([c.open for c in candles], [x - 0.35 for x in xs], xs, colors=colors, linewidth=1.0)
        axes.hlines([c.close for c in candles], xs, [x + 0.35 for x in xs], colors=colors, linewidth=1.0)
    else:
        axes.plot(xs, closes, color="#1e88e5", linewidth=1.6)
    ticks = xs[:: max(len(xs) // 6, 1)]
    axes.set_xticks(ticks, [candles[i].time.strftime("%Y-%m-%d") for i in ticks], fontsize=8)
    axes.grid(alpha=0.3)
    axes.set_title(
        f"{history.symbol} · {history.period} · {history.provider} · close of {history.time:%Y-%m-%d}",
        fontsize=11,
    )
    axes.set_ylabel("USD")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()
