"""Sections: text, key points, live examples and charts, with ids derived from the legacy types."""

from __future__ import annotations

from typing import Any

from .reading import Reading, is_empty, json_path, shown, slug_id, unique_id
from .vocabulary import (
    CHART_KINDS,
    CHART_TYPES,
    ITEM_ID,
    LIST_ITEM,
    LIVE_TYPES,
    METRIC_ALIASES,
    METRICS,
    PERIODS,
    PLACEHOLDER,
    POINT_TYPES,
    QUERY_KEYS,
    SYMBOL,
    TEXT_TYPES,
)


def sections(reading: Reading, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        reading.problem(
            "$.sections",
            "is missing or empty; a lesson needs at least one section"
            if is_empty(value)
            else f"{shown(value)} is not a list of sections",
        )
        return []
    taken = {
        s["id"]
        for s in value
        if isinstance(s, dict) and isinstance(s.get("id"), str) and ITEM_ID.match(s["id"])
    }
    if len(taken) != sum(
        1 for s in value if isinstance(s, dict) and isinstance(s.get("id"), str) and ITEM_ID.match(s["id"])
    ):
        taken = set()  # repeated legacy ids: derive all of them
    out = []
    for i, section in enumerate(value):
        if not isinstance(section, dict):
            reading.problem(json_path("sections", i), f"{shown(section)} is not a section")
            continue
        legacy_type = section.get("type")
        body_keys = ("content", "body", "text", "points", "fallback", "caption", *QUERY_KEYS)
        if all(is_empty(section.get(k)) for k in body_keys):
            reading.note(f"{json_path('sections', i)} ({legacy_type}): dropped (no content)")
            continue
        mapped = _section(reading, section, i)
        if mapped is None:
            continue
        legacy_id = section.get("id")
        if isinstance(legacy_id, str) and legacy_id in taken:
            sid = legacy_id
        else:
            base = (
                slug_id(str(legacy_type))
                if isinstance(legacy_type, str) and legacy_type.strip()
                else "section"
            )
            sid = unique_id(base, taken)
            if legacy_id is not None:
                reading.note(
                    f"{json_path('sections', i, 'id')}: {legacy_id!r} is not a valid or unique id -> {sid}"
                )
            taken.add(sid)
        mapped = {"id": sid, **mapped}
        reading.note(f"{json_path('sections', i)} ({legacy_type}) -> {mapped['type']} section id {sid}")
        out.append(mapped)
    return out


def _section(reading: Reading, section: dict[str, Any], i: int) -> dict[str, Any] | None:
    legacy_type = section.get("type")
    kind = legacy_type.strip().lower() if isinstance(legacy_type, str) else None
    where = ("sections", i)
    query_key = next((k for k in QUERY_KEYS if isinstance(section.get(k), dict) and section[k]), None)
    if kind in CHART_TYPES and query_key:
        return _chart_section(reading, section, where, query_key)
    if query_key:
        return _live_section(reading, section, where, query_key)
    if kind in reading.user_text_types:
        return _text_section(reading, section, where)
    if kind in LIVE_TYPES or kind in CHART_TYPES:
        reading.problem(
            json_path(*where),
            f"a {legacy_type} section without a data query (fiml_query: {{symbol, metrics}}): nothing to show live; show it as text with --as-text {legacy_type}",
        )
        return None
    if kind in POINT_TYPES:
        return _points_section(reading, section, where)
    if kind in TEXT_TYPES:
        return _text_section(reading, section, where)
    if kind:
        reading.problem(
            json_path(*where, "type"),
            f"{shown(legacy_type)} is not a section type this upgrade knows; show it as text with --as-text {legacy_type}",
        )
    else:
        reading.problem(json_path(*where, "type"), "is missing; cannot tell how to show this section")
    return None


def _title(reading: Reading, section: dict[str, Any], where: tuple[Any, ...], out: dict[str, Any]) -> None:
    if not is_empty(section.get("title")):
        out["title"] = reading.line(section["title"], json_path(*where, "title"))


def _content(reading: Reading, section: dict[str, Any], where: tuple[Any, ...]) -> tuple[str | None, str]:
    for key in ("content", "body", "text"):
        if not is_empty(section.get(key)):
            return reading.text(section[key], json_path(*where, key)), key
    return None, "content"


def _text_section(reading: Reading, section: dict[str, Any], where: tuple[Any, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "text"}
    _title(reading, section, where, out)
    body, key = _content(reading, section, where)
    out["body"] = body
    if body is None and isinstance(section.get("points"), list):
        out["body"] = _bullets(reading, section["points"], where)
        key = "points"
    if out["body"] is None:
        reading.problem(json_path(*where), "has no text")
    reading.leftover(section, ("id", "type", "title", key), *where)
    return out


def _bullets(reading: Reading, points: list[Any], where: tuple[Any, ...]) -> str | None:
    lines = []
    for j, point in enumerate(points):
        text = reading.line(point, json_path(*where, "points", j))
        if text is not None:
            lines.append(f"- {text}")
    return "\n".join(lines) + "\n" if lines else None


def _points_section(reading: Reading, section: dict[str, Any], where: tuple[Any, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "key_points"}
    points: list[str | None]
    _title(reading, section, where, out)
    if isinstance(section.get("points"), list) and section["points"]:
        points = [
            reading.line(p, json_path(*where, "points", j))
            for j, p in enumerate(section["points"])
            if not is_empty(p)
        ]
        used = "points"
        if not is_empty(section.get("content")):
            reading.problem(
                json_path(*where, "content"),
                "a key-points section with both `points` and `content`: the text has no place next to the points",
            )
    else:
        text, used = _content(reading, section, where)
        parsed = _list_of_points(text or "", has_title="title" in out)
        if parsed is None:
            out = {"type": "text", **({"title": out["title"]} if "title" in out else {}), "body": text}
            reading.note(f"{json_path(*where)}: the text is not a plain list, so it stays a text section")
            reading.leftover(section, ("id", "type", "title", used), *where)
            return out
        heading, found = parsed
        points = list(found)
        if heading:
            out["title"] = heading
            reading.note(f"{json_path(*where)}: heading {heading!r} -> title")
    if len(points) > 12 or any(p is not None and len(p) > 400 for p in points):
        out = {
            "type": "text",
            **({"title": out["title"]} if "title" in out else {}),
            "body": "\n".join(f"- {p}" for p in points if p) + "\n",
        }
        reading.note(
            f"{json_path(*where)}: more than 12 points or a point over 400 characters, so it stays a text section (a bulleted list)"
        )
    else:
        out["points"] = [p for p in points if p is not None]
    reading.leftover(section, ("id", "type", "title", used), *where)
    return out


def _query(
    reading: Reading, section: dict[str, Any], where: tuple[Any, ...], query_key: str | None
) -> tuple[dict[str, Any], tuple[Any, ...]] | None:
    if query_key is None:
        reading.problem(
            json_path(*where),
            "a live example without a data query (fiml_query: {symbol, metrics}); nothing to show live",
        )
        return None
    query = section[query_key]
    qwhere = (*where, query_key)
    symbol = query.get("symbol")
    if not isinstance(symbol, str) or not SYMBOL.match(symbol.strip().upper()):
        reading.problem(json_path(*qwhere, "symbol"), f"{shown(symbol)} is not a ticker symbol")
        symbol = None
    elif symbol != symbol.strip().upper():
        reading.note(f"{json_path(*qwhere, 'symbol')}: {symbol!r} -> {symbol.strip().upper()}")
    return {
        "symbol": symbol.strip().upper() if symbol else None,
        **{k: v for k, v in query.items() if k != "symbol"},
    }, qwhere


def _live_section(
    reading: Reading, section: dict[str, Any], where: tuple[Any, ...], query_key: str | None
) -> dict[str, Any] | None:
    found = _query(reading, section, where, query_key)
    if found is None:
        return None
    query, qwhere = found
    out: dict[str, Any] = {"type": "live_example"}
    _title(reading, section, where, out)
    metrics = _metrics(reading, query.get("metrics"), qwhere)
    out["data"] = {"symbol": query["symbol"], "metrics": metrics}
    reading.leftover(query, ("symbol", "metrics"), *qwhere)
    used: list[str] = ["id", "type", "title", query_key or "data"]
    if not is_empty(section.get("fallback")):  # already the current shape: optional body, then fallback
        fallback, key = reading.text(section["fallback"], json_path(*where, "fallback")), "fallback"
        body, body_key = _content(reading, section, where)
        if body is not None:
            out["body"] = body
            used.append(body_key)
    else:
        fallback, key = _content(reading, section, where)
        if fallback is not None:
            reading.note(f"{json_path(*where, key)} -> fallback (shown when no data provider is reachable)")
    used.append(key)
    if fallback is None:
        reading.problem(
            json_path(*where, "content"),
            "a live example needs text to show when no data provider is reachable (the current format's `fallback`)",
        )
    for field_key, text in ((key, fallback), ("body", out.get("body"))):
        holes = sorted(set(PLACEHOLDER.findall(text or "")))
        if holes:
            reading.problem(
                json_path(*where, field_key),
                f"the text is a template with data placeholders ({', '.join(holes)}); the current format shows it as written when no provider is reachable, so it needs stated example figures instead",
            )
    out["fallback"] = fallback
    reading.leftover(section, used, *where)
    return out


def _metrics(reading: Reading, value: Any, qwhere: tuple[Any, ...]) -> list[str]:
    where = json_path(*qwhere, "metrics")
    if is_empty(value):
        reading.problem(
            where, "the data query names no metrics; the current format needs at least one (e.g. price)"
        )
        return []
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for j, item in enumerate(items):
        name = item.strip().lower() if isinstance(item, str) else None
        mapped = name if name in METRICS else METRIC_ALIASES.get(name or "")
        if mapped is None:
            if "metrics" in reading.drop_fields:
                reading.note(f"{where}[{j}]: dropped unsupported metric {shown(item)} (--drop-field metrics)")
            else:
                reading.problem(
                    f"{where}[{j}]",
                    f"{shown(item)} is not a metric the current format can show ({', '.join(METRICS)}); drop unsupported metrics with --drop-field metrics",
                )
            continue
        if mapped != item:
            reading.note(f"{where}[{j}]: {item!r} -> {mapped}")
        if mapped not in out:
            out.append(mapped)
    if not out and not any(p.startswith(where) for p in reading.problems):
        reading.problem(where, "no metric the current format can show is left")
    return out


def _chart_section(
    reading: Reading, section: dict[str, Any], where: tuple[Any, ...], query_key: str | None
) -> dict[str, Any] | None:
    found = _query(reading, section, where, query_key)
    if found is None:
        return None
    query, qwhere = found
    out: dict[str, Any] = {"type": "chart"}
    _title(reading, section, where, out)
    period_key = next((k for k in ("period", "timeframe", "range") if k in query), None)
    period = PERIODS.get(str(query.get(period_key, "")).strip().lower()) if period_key else None
    if period is None:
        reading.problem(
            json_path(*qwhere, period_key or "period"),
            f"{shown(query.get(period_key)) if period_key else 'missing'}: the chart period must be one of {', '.join(sorted(set(PERIODS.values())))}",
        )
    kind_key = next((k for k in ("kind", "chart_type", "style") if k in query), None)
    kind = str(query.get(kind_key)).strip().lower() if kind_key else "line"
    if kind not in CHART_KINDS:
        reading.problem(
            json_path(*qwhere, kind_key or "kind"),
            f"{shown(query.get(kind_key or 'kind'))} is not a chart kind ({', '.join(CHART_KINDS)})",
        )
    elif kind_key is None:
        reading.note(f"{json_path(*qwhere)}: no chart kind -> line")
    out["data"] = {"symbol": query["symbol"], "period": period, "kind": kind}
    reading.leftover(query, ("symbol", period_key or "period", kind_key or "kind"), *qwhere)
    caption = section.get("caption")
    if not is_empty(caption):
        out["caption"] = reading.line(caption, json_path(*where, "caption"))
    if not is_empty(section.get("fallback")):
        fallback, key = reading.text(section["fallback"], json_path(*where, "fallback")), "fallback"
    else:
        fallback, key = _content(reading, section, where)
        if fallback is not None:
            reading.note(f"{json_path(*where, key)} -> fallback (shown when no data provider is reachable)")
    if fallback is None:
        reading.problem(
            json_path(*where, "content"),
            "a chart needs text to show when no data provider is reachable (the current format's `fallback`)",
        )
    out["fallback"] = fallback
    reading.leftover(section, ("id", "type", "title", "caption", key, query_key), *where)
    return out


def _list_of_points(text: str, *, has_title: bool) -> tuple[str | None, list[str]] | None:
    """(heading, points) when `text` is an optional `Heading:` line and a plain list; else None."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    heading = None
    if (
        lines
        and not LIST_ITEM.match(lines[0])
        and lines[0].endswith(":")
        and not has_title
        and len(lines) > 1
    ):
        heading = lines.pop(0)[:-1].strip()
        if not heading or len(heading) > 120:
            return None
    points = []
    for line in lines:
        match = LIST_ITEM.match(line)
        if not match:
            return None
        points.append(match.group(1).strip())
    return (heading, points) if points else None
