"""Live sections: both providers' adapters against the fake provider (documented shapes, refusals,
outages), the quote cache and its deadline, per-key limits, and the bot end to end through PTB."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from pathlib import Path

import pytest

from fiml_bot.adapters.alphavantage import AlphaVantage
from fiml_bot.adapters.finnhub import Finnhub
from fiml_bot.marketdata.charts import HEIGHT, WIDTH, render_png
from fiml_bot.marketdata.model import BadKey, NoData, RateLimited, Unavailable
from fiml_bot.marketdata.present import NOT_ADVICE, UNAVAILABLE
from fiml_bot.marketdata.service import MarketData, Shown
from fiml_bot.ops.metrics import BotMetrics
from fiml_bot.tutor.messages import LiveData
from testing.fakeprovider import FakeProvider
from testing.fakeprovider.server import price_of
from testing.marketdata import add_live_section
from testing.telegram_harness import CHAT, Harness

PROVIDERS = {"alphavantage": AlphaVantage, "finnhub": Finnhub}
NOW = dt.datetime(2026, 12, 4, 14, 32, tzinfo=dt.UTC)
QUOTE = LiveData(
    "quote", "AAPL", "**Head**", "As of 2026-11-20, AAPL traded at $228.50.", "2026-11-20", ("price",)
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake():
    with FakeProvider(now=NOW) as provider:
        provider.accept_keys("OP", "MINE")
        yield provider


def service(fake: FakeProvider, name: str = "finnhub", **options) -> MarketData:
    provider = PROVIDERS[name](fake.url)
    return MarketData(provider, options.pop("operator_key", "OP"), **options)


# ------------------------------------------------------------------ the adapters, each provider's shapes


@pytest.mark.parametrize("name", PROVIDERS)
def test_quote_and_history_in_each_providers_shape(fake: FakeProvider, name: str) -> None:
    async def scenario() -> None:
        provider = PROVIDERS[name](fake.url)
        quote = await provider.quote("AAPL", "OP")
        history = await provider.history("AAPL", "3mo", "OP")
        weekly = await provider.history("AAPL", "5y", "OP")
        await provider.aclose()
        assert quote.price == price_of("AAPL")
        assert quote.change == 1.5
        assert quote.provider == name
        assert quote.time.date() == NOW.date()
        assert quote.date_only is (name == "alphavantage")  # Alpha Vantage gives the trading day only
        assert 20 <= len(history.candles) <= 120
        assert history.candles[0].time < history.candles[-1].time
        assert all(c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high for c in history.candles)
        assert weekly.candles[-1].time - weekly.candles[-2].time >= dt.timedelta(days=1)

    asyncio.run(scenario())


@pytest.mark.parametrize("name", PROVIDERS)
def test_refusals_are_typed_failures(fake: FakeProvider, name: str) -> None:
    async def scenario() -> None:
        provider = PROVIDERS[name](fake.url)
        with pytest.raises(BadKey):
            await provider.quote("AAPL", "WRONG")
        fake.set_quota("OP", 0)
        with pytest.raises(RateLimited):
            await provider.quote("AAPL", "OP")
        fake.forget_symbol("ZZZZ")
        with pytest.raises(NoData):
            await provider.quote("ZZZZ", "MINE")
        fake.set_down()
        with pytest.raises(Unavailable) as down:
            await provider.quote("AAPL", "MINE")
        assert "MINE" not in str(down.value)
        await provider.aclose()
        closed = PROVIDERS[name]("http://127.0.0.1:9")  # nothing listens on the discard port
        with pytest.raises(Unavailable):
            await closed.quote("AAPL", "MINE")
        await closed.aclose()

    asyncio.run(scenario())


# ------------------------------------------------------------------ cache, deadline, keys, limits


def test_a_thousand_learners_cause_one_provider_call_per_ttl(fake: FakeProvider) -> None:
    clock = Clock()
    counted: list[tuple[str, str]] = []
    market = service(fake, clock=clock, count=lambda p, o: counted.append((p, o)))

    async def scenario() -> list[str]:
        first = await asyncio.gather(*(market.show(QUOTE, f"l{i}") for i in range(1000)))
        clock.now += 59
        again = await market.show(QUOTE, "late")
        clock.now += 2  # past the TTL: one new call
        fresh = await market.show(QUOTE, "later")
        await market.provider.aclose()
        return [s.text for s in first] + [again.text, fresh.text]

    texts = asyncio.run(scenario())
    assert len(set(texts)) == 1
    assert f"Price: ${price_of('AAPL'):,.2f}" in texts[0]
    assert "as of 14:32 UTC" in texts[0] or "as of 2026-12-04 14:32 UTC" in texts[0]
    assert NOT_ADVICE in texts[0]
    assert len(fake.calls) == 2
    assert counted == [("finnhub", "ok"), ("finnhub", "ok")]


def test_a_slow_provider_costs_the_deadline_then_fills_the_cache(fake: FakeProvider) -> None:
    fake.set_delay(1.0)
    counted: list[str] = []
    market = service(fake, deadline=0.2, count=lambda p, o: counted.append(o))

    async def scenario() -> tuple[str, str]:
        late = await market.show(QUOTE, "a")
        for _ in range(100):  # the call goes on in the background and lands in the cache
            if fake.calls:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)
        cached = await market.show(QUOTE, "b")
        await market.provider.aclose()
        return late.text, cached.text

    late, cached = asyncio.run(scenario())
    assert late.startswith("**Head**")
    assert f"{UNAVAILABLE} (as of 2026-11-20)" in late
    assert "AAPL traded at $228.50" in late
    assert "Price:" in cached
    assert len(fake.calls) == 1
    assert counted == ["deadline", "ok"]


def test_the_learners_key_first_then_the_operators(fake: FakeProvider) -> None:
    used: list[tuple[str, str]] = []
    keys = {"ada": "MINE", "bob": "BROKEN"}
    market = service(
        fake,
        learner_key=lambda learner, provider: keys.get(learner),
        key_used=lambda learner, provider: used.append((learner, provider)),
    )
    other = LiveData("quote", "MSFT", "h", "fb", None, ("price",))

    async def scenario() -> None:
        assert (await market.show(QUOTE, "ada")).live
        assert (await market.show(other, "bob")).live  # bob's key is refused: the operator's works
        await market.provider.aclose()

    asyncio.run(scenario())
    assert [(c.symbol, c.key, c.status) for c in fake.calls] == [
        ("AAPL", "MINE", 200),
        ("MSFT", "BROKEN", 401),
        ("MSFT", "OP", 200),
    ]
    assert used == [("ada", "finnhub"), ("bob", "finnhub")]


def test_per_key_limits_follow_the_free_tier(fake: FakeProvider) -> None:
    counted: list[str] = []
    market = service(fake, "alphavantage", count=lambda p, o: counted.append(o))
    symbols = ["AAPL", "MSFT", "KO", "SPY", "TSLA", "VT"]

    async def scenario() -> list[bool]:
        shown = [await market.show(LiveData("quote", s, "h", "fb", None, ("price",)), "x") for s in symbols]
        await market.provider.aclose()
        return [s.live for s in shown]

    assert asyncio.run(scenario()) == [True] * 5 + [False]  # Alpha Vantage's free tier: 5 a minute
    assert len(fake.calls) == 5
    assert counted == ["ok"] * 5 + ["throttled"]


def test_provider_rate_limit_is_counted_and_shows_the_fallback(fake: FakeProvider) -> None:
    fake.set_quota("OP", 0)
    metrics = BotMetrics()
    market = service(fake, "alphavantage", count=metrics.market_data_request)

    async def scenario() -> str:
        shown = await market.show(QUOTE, "x")
        await market.provider.aclose()
        return shown.text

    assert UNAVAILABLE in asyncio.run(scenario())
    exposition = metrics.exposition().decode()
    assert 'fiml_market_data_requests_total{outcome="rate_limited",provider="alphavantage"} 1.0' in exposition


def test_the_chart_picture_has_its_size() -> None:
    from PIL import Image

    from fiml_bot.marketdata.model import Candle, History

    candles = tuple(
        Candle(NOW - dt.timedelta(days=30 - i), 100 + i, 103 + i, 98 + i, 101 + i if i % 2 else 99 + i)
        for i in range(30)
    )
    for kind in ("line", "candlestick", "bar"):
        image = Image.open(io.BytesIO(render_png(History("finnhub", "AAPL", "1mo", candles), kind)))
        assert image.format == "PNG"
        assert image.size == (WIDTH, HEIGHT)


# ------------------------------------------------------------------ end to end through PTB


async def open_market_lesson(bot: Harness) -> None:
    await bot.say("/start")
    await bot.tap("Lessons")
    await bot.tap("What Is a Market?")


def test_live_quote_and_chart_through_telegram(content_repo: Path, fake: FakeProvider) -> None:
    add_live_section(content_repo)
    metrics = BotMetrics()
    market = service(fake, "alphavantage", count=metrics.market_data_request)
    from fiml_bot.marketdata.charts import render_png as renderer

    market.renderer = renderer

    async def scenario() -> None:
        async with Harness(content_repo, preview=True, market=market) as bot:
            await open_market_lesson(bot)
            for _ in range(3):
                await bot.tap("Next")
            quote = bot.fake.sent(CHAT)[-1]
            assert "Today's spread" in quote.text
            assert f"Price: ${price_of('AAPL'):,.2f}" in quote.text
            assert "as of the close of 2026-12-04 (alphavantage)" in quote.text
            assert "Bid, ask: not given by alphavantage" in quote.text  # and the lesson's figures follow
            assert "AAPL traded at $228.50" in quote.text
            assert "Educational example, not investment advice." in quote.text
            await bot.tap("Next")
            photos = bot.fake.calls_to("sendPhoto")
            assert len(photos) == 1 and photos[0].ok
            chart = bot.fake.sent(CHAT)[-1]
            caption = chart.raw["caption"]
            assert caption.startswith("What Is a Market? · 5/6")
            assert "SPY, a fund that tracks the S&P 500" in caption
            assert "as of the close of 2026-12-04" in caption
            assert chart.buttons and "Next" in chart.buttons[0][0]
            from PIL import Image

            image = Image.open(io.BytesIO(bot.fake.photo(CHAT, chart.message_id)))
            assert (image.format, image.size) == ("PNG", (WIDTH, HEIGHT))
            await bot.tap("Next")  # the keyboard under a photo works like any other
            assert "Key points" in bot.fake.sent(CHAT)[-1].text
        await market.provider.aclose()

    asyncio.run(scenario())
    exposition = metrics.exposition().decode()
    assert 'fiml_market_data_requests_total{outcome="ok",provider="alphavantage"} 2.0' in exposition


def test_provider_down_sends_the_fallback_with_its_as_of_line(content_repo: Path, fake: FakeProvider) -> None:
    add_live_section(content_repo)
    fake.set_down()
    market = service(fake, "finnhub")

    async def scenario() -> None:
        async with Harness(content_repo, preview=True, market=market) as bot:
            await open_market_lesson(bot)
            for _ in range(4):
                await bot.tap("Next")
            texts = [m.text for m in bot.fake.sent(CHAT)[-2:]]
            assert f"{UNAVAILABLE} (as of 2026-11-20)." in texts[0]
            assert "AAPL traded at $228.50" in texts[0]
            # the chart's fallback has no date of its own: the lesson version's changelog date stands in
            assert f"{UNAVAILABLE} (as of 2026-11-26)." in texts[1]
            assert "Imagine a line chart of SPY" in texts[1]
            assert not bot.fake.calls_to("sendPhoto")
        await market.provider.aclose()

    asyncio.run(scenario())


def test_without_a_provider_the_sections_are_as_before(content_repo: Path) -> None:
    add_live_section(content_repo)

    async def scenario() -> None:
        async with Harness(content_repo, preview=True) as bot:
            await open_market_lesson(bot)
            for _ in range(3):
                await bot.tap("Next")
            text = bot.fake.sent(CHAT)[-1].text
            assert "📊 AAPL (price, bid, ask, change_percent)" in text
            assert "AAPL traded at $228.50" in text

    asyncio.run(scenario())


def test_terminal_chat_shows_live_figures_and_saves_the_chart(
    content_repo: Path, fake: FakeProvider, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    add_live_section(content_repo)
    charts = tmp_path / "charts"
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "COLUMNS": "200",
        "FIML_MARKET_DATA_PROVIDER": "finnhub",
        "FIML_MARKET_DATA_KEY": "OP",
        "FIML_MARKET_DATA_URL": fake.url,
        "FIML_CHART_DIR": str(charts),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fiml_bot",
            "chat",
            "--preview",
            "--database",
            f"sqlite:///{tmp_path / 'c.db'}",
        ],
        input="1\n1\n1\n1\n1\n1\n",
        capture_output=True,
        text=True,
        cwd=content_repo,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"Price: ${price_of('AAPL'):,.2f}" in done.stdout
    saved = charts / "SPY-1y-line.png"
    assert f"Chart saved as {saved}" in done.stdout.replace("\n", "")
    assert any(spark in done.stdout for spark in "▁▂▃▄▅▆▇█")
    from PIL import Image

    assert Image.open(saved).size == (WIDTH, HEIGHT)
    assert "OP" not in done.stdout + done.stderr


def test_replicas_sharing_redis_ask_the_provider_once_per_ttl(fake: FakeProvider) -> None:
    from fiml_bot.adapters.redis_quotes import RedisQuotes
    from testing.redis_server import redis_server

    with redis_server() as url:  # a server of this test's own: the quote cache starts empty
        replicas = [service(fake, shared=RedisQuotes(url)) for _ in range(3)]

        async def scenario() -> list[Shown]:
            shown = await asyncio.gather(*(replicas[i % 3].show(QUOTE, f"l{i}") for i in range(300)))
            for replica in replicas:
                await replica.aclose()
            return list(shown)

        shown = asyncio.run(scenario())
    assert all(s.live for s in shown)
    assert len(fake.calls) == 1  # three replicas, one call: the others read Redis


def test_a_caption_over_telegrams_limit_goes_on_below_the_picture(
    content_repo: Path, fake: FakeProvider
) -> None:
    path = content_repo / "content" / "lessons" / "what_is_a_market.yaml"
    text = path.read_text(encoding="utf-8")
    long_caption = (
        "Notice the trend. " * 56
    )  # 1,008 characters: within the schema, over Telegram's with the rest
    start = text.index("    caption: SPY, a fund")
    end = text.index("\n", start)
    path.write_text(text[:start] + f"    caption: {long_caption.strip()}" + text[end:], encoding="utf-8")
    market = service(fake, "alphavantage")
    market.renderer = render_png

    async def scenario() -> None:
        async with Harness(content_repo, preview=True, market=market) as bot:
            await open_market_lesson(bot)
            for _ in range(3):
                await bot.tap("Next")
            photo, rest = bot.fake.sent(CHAT)[-2:]
            assert photo.raw["photo"] and len(photo.raw["caption"]) <= 1024 and not photo.buttons
            assert "not investment advice" in rest.text and "Next" in rest.buttons[0][0]
            assert (photo.raw["caption"] + rest.text).count("Notice the trend.") == 56
        await market.aclose()

    asyncio.run(scenario())


def test_the_time_line_says_how_old_and_how_delayed() -> None:
    from fiml_bot.marketdata.model import Quote
    from fiml_bot.marketdata.present import as_of

    today = NOW.date()
    assert (
        as_of(Quote("finnhub", "AAPL", 1.0, NOW, delay_minutes=15), today)
        == "as of 14:32 UTC, 15 min delayed"
    )
    assert as_of(Quote("finnhub", "AAPL", 1.0, NOW), today) == "as of 14:32 UTC"
    yesterday = NOW - dt.timedelta(days=1)
    assert as_of(Quote("finnhub", "AAPL", 1.0, yesterday), today) == "as of 2026-12-03 14:32 UTC"
    assert (
        as_of(Quote("alphavantage", "AAPL", 1.0, NOW, date_only=True), today)
        == "as of the close of 2026-12-04"
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "FIML_MARKET_DATA_PROVIDER",
            "yahoo",
            "FIML_MARKET_DATA_PROVIDER='yahoo': give one of alphavantage, finnhub",
        ),
        (
            "FIML_MARKET_DATA_DEADLINE",
            "soon",
            "FIML_MARKET_DATA_DEADLINE='soon': give seconds to wait for a provider",
        ),
    ],
)
def test_a_bad_market_data_setting_is_exit_2(
    content_repo: Path, tmp_path: Path, variable: str, value: str, message: str
) -> None:
    from typer.testing import CliRunner

    from fiml_bot.cli import app

    env = {"FIML_MARKET_DATA_PROVIDER": "finnhub", variable: value}
    result = CliRunner().invoke(
        app, ["chat", "--preview", "--database", f"sqlite:///{tmp_path / 'c.db'}"], input="", env=env
    )
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_a_learners_key_over_its_daily_quota_on_any_replica_is_not_used(fake: FakeProvider) -> None:
    counted: list[str] = []
    used = {"ada": 25, "bob": 24}  # Alpha Vantage's free tier: 25 calls a day, counted in the database
    market = service(
        fake,
        "alphavantage",
        count=lambda p, o: counted.append(o),
        learner_key=lambda learner, provider: "MINE",
        used_today=lambda learner, provider: used[learner],
    )

    async def scenario() -> None:
        assert (await market.show(QUOTE, "ada")).live
        assert (await market.show(LiveData("quote", "MSFT", "h", "fb", None, ("price",)), "bob")).live
        await market.aclose()

    asyncio.run(scenario())
    assert [(c.symbol, c.key) for c in fake.calls] == [("AAPL", "OP"), ("MSFT", "MINE")]
    assert counted == ["throttled", "ok", "ok"]
