"""What the legacy formats say and what it becomes: field names, type names, aliases, patterns.

Lesson ids are `fiml_cms.document.LESSON_ID` and versions are read by `fiml_cms.versions`; the
patterns here are those only the upgrade needs (item ids, slugs, tickers, dates, lists in text).
"""

from __future__ import annotations

import re

FORMAT = 1
IMPORTED = "Imported from the legacy format"

ITEM_ID = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
SLUG = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
SYMBOL = re.compile(r"^[A-Z0-9^][A-Z0-9.^=-]{0,14}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+(\S.*)$")
MINUTES = re.compile(r"^\s*(\d{1,3})\s*(?:min|mins|minute|minutes)?\.?\s*$", re.IGNORECASE)

#: Top-level keys in the order of schemas/lesson.schema.json.
LESSON_KEYS = (
    "id", "version", "format", "title", "category", "difficulty", "duration_minutes", "xp_reward",
    "prerequisites", "replaces", "retired", "yanked", "tags", "learning_objectives", "changelog",
    "sections", "quiz",
)  # fmt: skip

DIFFICULTIES = {
    "beginner": "beginner", "beginners": "beginner", "basic": "beginner", "easy": "beginner", "novice": "beginner", "introductory": "beginner",
    "intermediate": "intermediate", "medium": "intermediate", "moderate": "intermediate",
    "advanced": "advanced", "hard": "advanced", "expert": "advanced",
}  # fmt: skip

#: Legacy section types shown as plain text.
TEXT_TYPES = frozenset({
    "text", "introduction", "intro", "overview", "explanation", "concept", "definition", "example", "examples",
    "story", "scenario", "summary", "conclusion", "tip", "tips", "note", "warning",
})  # fmt: skip
#: Legacy section types holding a list of short points (key_points when the text is a list).
POINT_TYPES = frozenset({"key_points", "key_takeaways", "takeaways", "key_concepts", "summary_points"})
#: Legacy section types for market data; they need a data query (`fiml_query`).
LIVE_TYPES = frozenset({"live_example", "fiml_example", "fiml_integration", "live_data", "market_data"})
CHART_TYPES = frozenset({"chart", "price_chart", "fiml_chart"})
QUERY_KEYS = ("fiml_query", "fiml_integration", "data", "query")

METRICS = (
    "price", "bid", "ask", "spread", "volume", "change_percent", "day_range", "high_52w", "low_52w",
    "market_cap", "pe_ratio", "dividend_yield", "beta",
)  # fmt: skip
METRIC_ALIASES = {
    "last": "price", "last_price": "price", "current_price": "price",
    "bid_price": "bid", "ask_price": "ask", "bid_ask_spread": "spread",
    "change_pct": "change_percent", "percent_change": "change_percent", "change_percentage": "change_percent", "pct_change": "change_percent",
    "day_low": "day_range", "day_high": "day_range", "low": "day_range", "high": "day_range", "days_range": "day_range",
    "week_52_high": "high_52w", "52_week_high": "high_52w", "fifty_two_week_high": "high_52w", "year_high": "high_52w",
    "week_52_low": "low_52w", "52_week_low": "low_52w", "fifty_two_week_low": "low_52w", "year_low": "low_52w",
    "marketcap": "market_cap", "market_capitalization": "market_cap", "mkt_cap": "market_cap",
    "pe": "pe_ratio", "p_e": "pe_ratio", "p_e_ratio": "pe_ratio", "price_to_earnings": "pe_ratio",
    "div_yield": "dividend_yield",
}  # fmt: skip
PERIODS = {
    "1d": "1d",
    "5d": "5d",
    "1mo": "1mo",
    "1m": "1mo",
    "3mo": "3mo",
    "3m": "3mo",
    "6mo": "6mo",
    "6m": "6mo",
    "1y": "1y",
    "12m": "1y",
    "5y": "5y",
    "max": "max",
}
CHART_KINDS = ("line", "candlestick", "bar")

QUESTION_TYPES = {
    "multiple_choice": "multiple_choice", "multiple-choice": "multiple_choice", "multiplechoice": "multiple_choice",
    "mcq": "multiple_choice", "choice": "multiple_choice", "single_choice": "multiple_choice",
    "true_false": "true_false", "true-false": "true_false", "truefalse": "true_false", "true/false": "true_false",
    "boolean": "true_false", "bool": "true_false", "tf": "true_false",
    "numeric": "numeric", "number": "numeric", "numerical": "numeric",
}  # fmt: skip
