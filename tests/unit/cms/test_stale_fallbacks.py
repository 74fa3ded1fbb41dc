"""FIML053: a live section's fallback states when its figures were true, and not too long ago."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fiml_cms.asof import find_as_of
from testing.cli import cli

FALLBACK_SECTION = """  - id: live_spread
    type: live_example
    data: {{symbol: AAPL, metrics: [price]}}
    fallback: |
      {text}
"""


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("As of 2024-11-24, AAPL traded at $230.", dt.date(2024, 11, 24)),
        ("Prices as of 24 November 2024.", dt.date(2024, 11, 24)),
        ("as of Nov. 24, 2024 the spread was 2 cents", dt.date(2024, 11, 24)),
        ("As of March 2025, KO yielded 2.9%.", dt.date(2025, 3, 1)),
        ("As of 2024-02-30 (no such day), then as of 2024-03-01.", dt.date(2024, 3, 1)),
        ("At the time of writing, AAPL traded at $230.", None),
        ("as of now", None),
    ],
)
def test_as_of_dates_in_the_forms_authors_write(text: str, date: dt.date | None) -> None:
    assert find_as_of(text) == date


def with_fallback(repo: Path, text: str) -> Path:
    path = repo / "content" / "lessons" / "what_is_a_market.yaml"
    source = path.read_text(encoding="utf-8")
    marker = "  - id: price_discovery\n"
    path.write_text(source.replace(marker, FALLBACK_SECTION.format(text=text) + marker, 1), encoding="utf-8")
    return path


def test_bundled_fallbacks_are_illustrative_so_clean(content_repo: Path) -> None:
    result = cli("validate", "--strict")
    assert result.exit_code == 0, result.output
    assert "FIML053" not in result.output


def test_a_recent_date_passes_an_old_one_warns_and_the_age_is_configurable(content_repo: Path) -> None:
    recent = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=30)).isoformat()
    with_fallback(content_repo, f"As of {recent}, AAPL traded at $230.")
    assert cli("validate", "--strict").exit_code == 0
    (content_repo / ".fiml-cms.toml").write_text("fallback_max_age_days = 7\n", encoding="utf-8")
    strict = cli("validate", "--strict")
    assert strict.exit_code == 1
    assert (
        f'warning FIML053 section "live_spread": the fallback\'s figures are as of {recent}, 30 days ago (more than fallback_max_age_days = 7); refresh them'
        in strict.output
    )


def test_no_date_warns_and_a_bad_setting_is_a_usage_error(content_repo: Path) -> None:
    with_fallback(content_repo, "AAPL traded at $230.")
    result = cli("validate")
    assert result.exit_code == 0  # a warning
    assert 'warning FIML053 section "live_spread": the fallback gives no "as of" date' in result.output
    (content_repo / ".fiml-cms.toml").write_text('fallback_max_age_days = "a year"\n', encoding="utf-8")
    bad = cli("validate")
    assert bad.exit_code == 2
    assert "fallback_max_age_days must be a whole number of days (1 or more), got 'a year'" in bad.output
