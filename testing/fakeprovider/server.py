"""FakeProvider: Alpha Vantage's `/query` and Finnhub's `/api/v1/...` on one loopback HTTP server.

Answers in each provider's documented shapes, including their refusals: Alpha Vantage answers HTTP 200
with `{"Information": ...}` over the rate limit and `{"Error Message": ...}` for a bad key; Finnhub
answers 429 and 401 `{"error": "Invalid API key"}`. A test sets the keys it accepts, a per-key quota, a
delay (a slow provider) or `down` (HTTP 503), and reads the calls made. Every wait is bounded.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

AV_RATE_LIMIT = (
    "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. Please "
    "subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove "
    "all daily rate limits."
)
AV_BAD_KEY = (
    "the parameter apikey is invalid or missing. Please claim your free API key on "
    "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
)
AV_BAD_CALL = "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY."
FINNHUB_RATE_LIMIT = "API limit reached. Please try again later. Remaining Limit: 0"
MAX_DELAY = 30.0  # seconds: a slow answer never holds a test (or a server thread) longer


@dataclass(frozen=True)
class ProviderCall:
    provider: str  # "alphavantage" or "finnhub"
    what: str  # "quote" or "history"
    symbol: str
    key: str
    status: int


@dataclass
class _State:
    keys: set[str] | None = None  # None: any key is good
    quota: dict[str, int] = field(default_factory=dict)  # key -> calls left (absent: unlimited)
    delay: float = 0.0
    down: bool = False
    unknown: set[str] = field(default_factory=set)  # symbols without data
    calls: list[ProviderCall] = field(default_factory=list)


def price_of(symbol: str) -> float:
    """A stable made-up price per symbol, so tests can assert it."""
    return round(50 + sum(ord(c) for c in symbol) % 400 + 0.25, 2)


class FakeProvider:
    def __init__(self, *, now: dt.datetime | None = None) -> None:
        self.state = _State()
        self.now = now
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = fake._answer(self.path)
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (its deadline): nothing to tell
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-provider", daemon=True)

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------ controlling

    def accept_keys(self, *keys: str) -> None:
        with self._lock:
            self.state.keys = set(keys)

    def set_quota(self, key: str, calls: int) -> None:
        with self._lock:
            self.state.quota[key] = calls

    def set_delay(self, seconds: float) -> None:
        with self._lock:
            self.state.delay = min(seconds, MAX_DELAY)

    def set_down(self, down: bool = True) -> None:
        with self._lock:
            self.state.down = down

    def forget_symbol(self, symbol: str) -> None:
        with self._lock:
            self.state.unknown.add(symbol)

    @property
    def calls(self) -> list[ProviderCall]:
        with self._lock:
            return list(self.state.calls)

    # ------------------------------------------------------------------ answering

    def _answer(self, raw_path: str) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/query":
            provider, key = "alphavantage", query.get("apikey", "")
            what = "quote" if query.get("function") == "GLOBAL_QUOTE" else "history"
        elif parts.path.startswith("/api/v1/"):
            provider, key = "finnhub", query.get("token", "")
            what = "quote" if parts.path == "/api/v1/quote" else "history"
        else:
            return 404, {"error": "not found"}
        symbol = query.get("symbol", "")
        with self._lock:
            delay = self.state.delay
        if delay:
            self._stopping.wait(delay)
        with self._lock:
            status, body = self._decide(provider, what, symbol, key, query)
            self.state.calls.append(ProviderCall(provider, what, symbol, key, status))
        return status, body

    def _decide(
        self, provider: str, what: str, symbol: str, key: str, query: dict[str, str]
    ) -> tuple[int, Any]:
        state = self.state
        if state.down:
            return 503, {"error": "Service Unavailable"}
        if state.keys is not None and key not in state.keys:
            return (
                (200, {"Error Message": AV_BAD_KEY})
                if provider == "alphavantage"
                else (401, {"error": "Invalid API key"})
            )
        left = state.quota.get(key)
        if left is not None:
            if left <= 0:
                return (
                    (200, {"Information": AV_RATE_LIMIT})
                    if provider == "alphavantage"
                    else (429, {"error": FINNHUB_RATE_LIMIT})
                )
            state.quota[key] = left - 1
        known = symbol and symbol not in state.unknown
        if provider == "alphavantage":
            return 200, self._alpha_vantage(what, symbol, query, bool(known))
        return 200, self._finnhub(what, symbol, bool(known))

    def _clock(self) -> dt.datetime:
        return self.now or dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)

    def _bars(
        self, symbol: str, count: int, step_days: int
    ) -> list[tuple[dt.datetime, float, float, float, float, int]]:
        base, end = price_of(symbol), self._clock().replace(hour=0, minute=0)
        bars = []
        for i in range(count):
            day = end - dt.timedelta(days=(count - 1 - i) * step_days)
            close = round(base * (1 + 0.1 * ((i * 37 % 23) - 11) / 11), 2)
            open_ = round(close * (1.01 if i % 3 else 0.99), 2)
            bars.append(
                (
                    day,
                    open_,
                    round(max(open_, close) * 1.01, 2),
                    round(min(open_, close) * 0.99, 2),
                    close,
                    1_000_000 + i,
                )
            )
        return bars

    def _alpha_vantage(self, what: str, symbol: str, query: dict[str, str], known: bool) -> dict[str, Any]:
        function = query.get("function", "")
        if what == "quote":
            if not known:
                return {"Global Quote": {}}
            price = price_of(symbol)
            day = self._clock().date().isoformat()
            return {
                "Global Quote": {
                    "01. symbol": symbol,
                    "02. open": f"{price - 1:.4f}",
                    "03. high": f"{price + 2:.4f}",
                    "04. low": f"{price - 2:.4f}",
                    "05. price": f"{price:.4f}",
                    "06. volume": "48123456",
                    "07. latest trading day": day,
                    "08. previous close": f"{price - 1.5:.4f}",
                    "09. change": "1.5000",
                    "10. change percent": f"{1.5 / (price - 1.5) * 100:.4f}%",
                }
            }
        if not known or function not in ("TIME_SERIES_DAILY", "TIME_SERIES_WEEKLY"):
            return {"Error Message": AV_BAD_CALL}
        weekly = function == "TIME_SERIES_WEEKLY"
        series = {
            day.date().isoformat(): {
                "1. open": f"{o:.4f}",
                "2. high": f"{h:.4f}",
                "3. low": f"{lo:.4f}",
                "4. close": f"{c:.4f}",
                "5. volume": str(v),
            }
            for day, o, h, lo, c, v in self._bars(symbol, 100 if not weekly else 260, 7 if weekly else 1)
        }
        meta = {
            "1. Information": "Weekly Prices (open, high, low, close) and Volumes"
            if weekly
            else "Daily Prices (open, high, low, close) and Volumes",
            "2. Symbol": symbol,
        }
        return {"Meta Data": meta, ("Weekly Time Series" if weekly else "Time Series (Daily)"): series}

    def _finnhub(self, what: str, symbol: str, known: bool) -> dict[str, Any]:
        if what == "quote":
            if not known:
                return {"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0}
            price = price_of(symbol)
            return {
                "c": price,
                "d": 1.5,
                "dp": round(1.5 / (price - 1.5) * 100, 4),
                "h": price + 2,
                "l": price - 2,
                "o": price - 1,
                "pc": price - 1.5,
                "t": int(self._clock().timestamp()),
            }
        if not known:
            return {"s": "no_data"}
        bars = self._bars(symbol, 120, 1)
        return {
            "s": "ok",
            "t": [int(b[0].timestamp()) for b in bars],
            "o": [b[1] for b in bars],
            "h": [b[2] for b in bars],
            "l": [b[3] for b in bars],
            "c": [b[4] for b in bars],
            "v": [b[5] for b in bars],
        }
